"""The stack's own `validation` blocks, evaluated by Terraform with an environment's
values, before anything is rendered: a root holding only the stack's variables.tf is
planned, offline, in a scratch directory (no provider, no state, ~0.1 s), with the
tfvars a deploy would render. Terraform is the only exact reading of its conditions.

Results are kept per (variables.tf, tfvars) content, so checking one environment of
two revisions (ci-plan) runs Terraform once.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from ephemera.config.stackvars import read_stack_variables
from ephemera.environment import Environment
from ephemera.project import Project
from ephemera.terraform.render import tfvars_text
from ephemera.terraform.runner import Terraform

CHECKED_BY = "\n\nThis was checked by the validation rule"
_RESULTS: dict[str, list[tuple[str | None, str]]] = {}


def validation_failures(project: Project, env: Environment) -> list[tuple[str | None, str]]:
    """(variable name, Terraform's message) for each failed validation block, and
    (None, message) for any other error Terraform finds in the values."""
    stack_dir = project.stack_dir(env.stack)
    declared = read_stack_variables(stack_dir)
    if not any(variable.conditions for variable in declared.values()):
        return []
    source = (stack_dir / "variables.tf").read_text(encoding="utf-8")
    tfvars = tfvars_text(env, project, set(declared))
    key = hashlib.sha256(f"{source}\0{tfvars}".encode()).hexdigest()
    if key not in _RESULTS:
        _RESULTS[key] = _plan(source, tfvars, env.name)
    return list(_RESULTS[key])


def _plan(source: str, tfvars: str, env: str) -> list[tuple[str | None, str]]:
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
        return []
    failures = [_failure(d) for d in _diagnostics(result.stdout) if d.get("severity") == "error"]
    return failures or [(None, result.stderr.strip() or "terraform could not check the values")]


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
