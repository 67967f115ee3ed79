"""The stack's own `validation` blocks, evaluated by Terraform with an environment's
values, before anything is rendered: a root holding only the stack's variables.tf is
planned, offline, in a scratch directory (no provider, no state, ~0.1 s), with the
tfvars a deploy would render. Terraform is the only exact reading of its conditions.

Results are kept per (variables.tf, tfvars, Terraform) content, in the process and on
disk (`.ephemera/cache/tfcheck/`), so checking one environment of two revisions
(ci-plan) runs Terraform once, and a deploy whose values did not change runs none.
Conditions that read files or the clock are not kept on disk: their result can change
while the content does not.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

from ephemera.config.stackvars import stack_variables
from ephemera.environment import Environment
from ephemera.files import code_digest, keep_json, read_json
from ephemera.project import Project
from ephemera.terraform.render import tfvars_text
from ephemera.terraform.runner import Terraform, terraform_identity

CHECKED_BY = "\n\nThis was checked by the validation rule"
_RESULTS: dict[str, list[tuple[str | None, str]]] = {}
# Functions whose result is not a function of the values alone.
_IMPURE = re.compile(r"\b(file\w*|templatefile|timestamp|plantimestamp|uuid\w*|bcrypt)\s*\(")


def validation_failures(project: Project, env: Environment) -> list[tuple[str | None, str]]:
    """(variable name, Terraform's message) for each failed validation block, and
    (None, message) for any other error Terraform finds in the values."""
    declared = stack_variables(project, env.stack)
    conditions = [c for variable in declared.values() for c in variable.conditions]
    if not conditions:
        return []
    source = (project.stack_dir(env.stack) / "variables.tf").read_text(encoding="utf-8")
    tfvars = tfvars_text(env, project, set(declared))
    code = code_digest("ephemera.config.tfcheck")
    key = hashlib.sha256(f"{source}\0{tfvars}\0{terraform_identity()}\0{code}".encode()).hexdigest()
    if key not in _RESULTS:
        kept = not any(_IMPURE.search(condition) for condition in conditions)
        _RESULTS[key] = _kept_plan(project, key, source, tfvars, env.name, kept)
    return list(_RESULTS[key])


def _kept_plan(
    project: Project, key: str, source: str, tfvars: str, env: str, kept: bool
) -> list[tuple[str | None, str]]:
    """`_plan`'s answer, from the disk cache when `kept` allows it."""
    entry = project.cache_dir / "tfcheck" / f"{key}.json"
    cached = read_json(entry) if kept else None
    if isinstance(cached, list) and all(isinstance(f, list) and len(f) == 2 for f in cached):
        return [(variable, message) for variable, message in cached]
    failures, definite = _plan(source, tfvars, env)
    if kept and definite:  # never keep a run that failed for another reason
        keep_json(entry, failures)
    return failures


def _plan(source: str, tfvars: str, env: str) -> tuple[list[tuple[str | None, str]], bool]:
    """The failures, and whether they are Terraform's answer about the values (True) or
    a failure to check them at all (False)."""
    with tempfile.TemporaryDirectory(prefix="ephemera-validate-") as scratch:
        root = Path(scratch)
        (root / "variables.tf").write_text(source, encoding="utf-8")
        (root / "terraform.tfvars").write_text(tfvars, encoding="utf-8")
        result = Terraform(data_dir=root / "data", plugin_cache=root / "cache").run(
            ["plan", "-input=false", "-no-color", "-json", "-var-file=terraform.tfvars"],
            cwd=root,
            check=False,
            quiet=True,
            where=f"{env}: validate",
        )
    if result.returncode == 0:
        return [], True
    failures = [_failure(d) for d in _diagnostics(result.stdout) if d.get("severity") == "error"]
    if failures:
        return failures, True
    return [(None, result.stderr.strip() or "terraform could not check the values")], False


def _diagnostics(stdout: str) -> list[dict]:
    found = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("type") == "diagnostic":
            found.append(message.get("diagnostic") or {})
    return found


def _failure(diagnostic: dict) -> tuple[str | None, str]:
    detail = str(diagnostic.get("detail") or "").split(CHECKED_BY, 1)[0].strip()
    for value in (diagnostic.get("snippet") or {}).get("values") or []:
        traversal = str(value.get("traversal") or "")
        if traversal.startswith("var."):
            return traversal.removeprefix("var.").split(".", 1)[0], detail
    summary = str(diagnostic.get("summary") or "error")
    return None, f"{summary}: {detail}" if detail else summary
