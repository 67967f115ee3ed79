"""Environment files: load, merge with _defaults.yaml, validate in stages.

    environments/_defaults.yaml + environments/<env>.yaml
      → strict YAML load of each file (yamlload: duplicate keys, anchors, size …)
      → deep merge (maps merge key by key, the environment file wins; lists replace)
      → JSON Schema (Draft 2020-12) of the merged document           (schema, messages)
      → stack variables, checked against terraform/stacks/<stack>/variables.tf (stackvars)
      → semantic rules (name == file stem, stack exists, ttl ≤ max_ttl, region …)
      → Environment

A file with unreadable YAML stops at the first stage; otherwise every later
stage runs and every problem is reported at once, one line each, as
`environments/<file>:<line>: <key.path>: <message>`. The line is that of the
offending key, or of its closest parent present in the file. A problem whose
key comes from _defaults.yaml names _defaults.yaml.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephemera.config import stackvars
from ephemera.config.deployable import StoreFactory, deployable_problems
from ephemera.config.documents import SourceFiles, deep_merge, load_defaults, load_document
from ephemera.config.messages import closest, schema_messages
from ephemera.config.schema import (
    DEFAULTS_ONLY,
    ENV_ONLY,
    NAME_PATTERN,
    PATTERN_HINTS,
    STACK_PATTERN,
    merged_schema,
    merged_validator,
    remembered_errors,
)
from ephemera.config.stackmanifest import load_manifest
from ephemera.durations import parse_duration
from ephemera.environment import Environment, PolicySkip
from ephemera.errors import Problem, UsageError, ValidationError
from ephemera.project import Project

# Stack variables whose value names a file or directory of the project.
FILE_VARIABLE_SUFFIXES = ("_file", "_path", "_dir")
# The control plane an aws environment needs: its state, and the leases the janitor reads.
AWS_REQUIRED = ("state_bucket", "lease_table")

# ------------------------------------------------------------------- the stages


@dataclass
class _Context:
    """What is shared by every file checked in one call. With `deployable`, the checks
    that need files, ports and Terraform run too (`ephemera.config.deployable`); `store`
    opens the lease store they read the other environments' ports from."""

    project: Project
    stacks: list[str]
    deployable: bool = False
    store: StoreFactory | None = None

    @classmethod
    def of(
        cls, project: Project, deployable: bool = False, store: StoreFactory | None = None
    ) -> _Context:
        return cls(project, stackvars.stack_names(project), deployable, store)


def _validate(ctx: _Context, name: str) -> tuple[Environment | None, list[Problem]]:
    project = ctx.project
    path = project.environment_file(name)
    try:
        defaults = load_defaults(project)
    except ValidationError as exc:
        return None, list(exc.problems)
    try:
        env = load_document(path, project.relative(path))
    except ValidationError as exc:
        return None, list(exc.problems)

    files = SourceFiles(env, defaults)
    merged = deep_merge(defaults.data if defaults else {}, env.data)
    problems: list[Problem] = []
    seen: set[str] = set()

    def report(problem: Problem) -> None:
        if problem.key not in seen:
            seen.add(problem.key)
            problems.append(problem)

    # JSON Schema (the stack's variables are the next stage's).
    cache = project.cache_dir
    for error in remembered_errors(merged_schema, merged_validator, merged, cache):
        for key_path, message in schema_messages(error):
            if key_path and key_path[0] in DEFAULTS_ONLY and message.startswith("required"):
                report(files.defaults_problem(key_path, message))
            else:
                report(files.problem(key_path, message))

    # Stack variables.
    stack = merged.get("stack")
    stack_ok = (
        isinstance(stack, str)
        and re.match(STACK_PATTERN, stack) is not None
        and project.stack_dir(stack).is_dir()
    )
    variables = merged.get("variables", {})
    if stack_ok and isinstance(variables, dict):
        try:
            declared = stackvars.stack_variables(project, stack)
        except stackvars.StackVariablesError as exc:
            problems.append(Problem(exc.file, exc.line, "", exc.detail))
        else:
            for issue in stackvars.check_variables(variables, declared, stack):
                report(files.problem(("variables", *issue.path), issue.message))
    if stack_ok:
        try:
            load_manifest(project.stack_dir(stack), cache_dir=project.cache_dir)
        except ValidationError as exc:
            problems.extend(exc.problems)

    for problem in _semantic_problems(ctx, name, files, merged, stack_ok):
        report(problem)

    if problems:
        return None, problems
    environment = _environment(name, path, merged)
    if ctx.deployable:
        problems = deployable_problems(project, environment, files, ctx.store)
        if problems:
            return None, problems
    return environment, []


def _semantic_problems(
    ctx: _Context, name: str, files: SourceFiles, merged: dict[str, Any], stack_ok: bool
) -> list[Problem]:
    out: list[Problem] = []
    env_name = merged.get("name")
    if isinstance(env_name, str):
        if env_name != name:
            out.append(
                files.problem(
                    ("name",), f"must equal the file name: expected {name!r}, got {env_name!r}"
                )
            )
        elif not re.match(NAME_PATTERN, env_name):
            out.append(files.problem(("name",), f"{env_name!r} {PATTERN_HINTS[NAME_PATTERN]}"))

    stack = merged.get("stack")
    if isinstance(stack, str) and not stack_ok and re.match(STACK_PATTERN, stack):
        known = ", ".join(ctx.stacks) or "(none)"
        out.append(
            files.problem(
                ("stack",),
                f"unknown stack {stack!r}: no directory terraform/stacks/{stack}"
                f"{closest(stack, ctx.stacks)}; known: {known}",
            )
        )

    for key in DEFAULTS_ONLY:
        if key in files.env.data:
            out.append(files.env.problem((key,), "may only be set in environments/_defaults.yaml"))
    if files.defaults is not None:
        for key in ENV_ONLY:
            if key in files.defaults.data:
                out.append(
                    files.defaults.problem((key,), "may not be set in environments/_defaults.yaml")
                )

    ttl, max_ttl = _duration_or_none(merged.get("ttl")), _duration_or_none(merged.get("max_ttl"))
    if ttl is not None and max_ttl is not None and ttl > max_ttl:
        out.append(
            files.problem(("ttl",), f"{merged['ttl']} is longer than max_ttl {merged['max_ttl']}")
        )

    target = merged.get("target")
    if target == "aws":
        if "region" not in merged:
            out.append(files.problem(("region",), "required with target aws"))
        aws = merged.get("aws") if isinstance(merged.get("aws"), dict) else {}
        missing = [f"aws.{key}" for key in AWS_REQUIRED if not aws.get(key)]
        if missing:
            out.append(
                files.problem(
                    ("target",),
                    f"target aws needs {' and '.join(missing)} in environments/_defaults.yaml "
                    "(the outputs of terraform/bootstrap)",
                )
            )
    elif target == "local" and "region" in merged:
        out.append(files.problem(("region",), "only allowed with target aws (target is local)"))

    out += _path_problems(ctx.project, files, merged.get("variables"))
    policy = merged.get("policy")
    skips = policy.get("skip") if isinstance(policy, dict) else None
    if isinstance(skips, list):
        for index, skip in enumerate(skips):
            if not isinstance(skip, dict):
                continue
            reason = skip.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                out.append(
                    files.problem(
                        ("policy", "skip", index, "reason"),
                        "a policy skip needs a non-empty reason",
                    )
                )
    return out


def _path_problems(project: Project, files: SourceFiles, variables: Any) -> list[Problem]:
    """A variable that names a file (`*_file`, `*_path`, `*_dir`) must name one inside
    the project: the stacks read it, and the local mock API serves what it reads."""
    if not isinstance(variables, dict):
        return []
    out = []
    for key, value in variables.items():
        if not (isinstance(value, str) and key.endswith(FILE_VARIABLE_SUFFIXES)):
            continue
        resolved = (project.root / value).resolve()
        if not resolved.is_relative_to(project.root):
            out.append(
                files.problem(
                    ("variables", key),
                    f"{value!r} is outside the project ({resolved}); name a file inside it, "
                    "relative to the project root",
                )
            )
    return out


def _duration_or_none(value: Any) -> Any:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _environment(name: str, source: Path, doc: dict[str, Any]) -> Environment:
    policy = doc.get("policy") or {}
    return Environment(
        name=doc["name"],
        stack=doc["stack"],
        target=doc["target"],
        owner=doc["owner"],
        ttl=parse_duration(doc["ttl"]),
        ttl_text=doc["ttl"],
        max_ttl=parse_duration(doc["max_ttl"]),
        source=source,
        protected=bool(doc.get("protected", False)),
        region=doc.get("region"),
        variables=copy.deepcopy(doc.get("variables") or {}),
        tags=dict(doc.get("tags") or {}),
        policy_skips=tuple(
            PolicySkip(id=s["id"], reason=s["reason"]) for s in policy.get("skip") or []
        ),
        notify=copy.deepcopy(doc.get("notify") or {}),
        warnings=tuple(doc.get("warnings", ("24h", "2h", "30m"))),
        aws=copy.deepcopy(doc.get("aws") or {}),
        budget=float(doc["budget"]) if doc.get("budget") is not None else None,
        document=doc,
    )


# ---------------------------------------------------------------------- public API

_NAME_ARGUMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_environment_name(project: Project, name: str) -> None:
    """UsageError unless `name` is an environment of the project; the message
    suggests the closest known name and lists them all (or says to rename a .yml)."""
    known = project.known_environments()
    if isinstance(name, str) and _NAME_ARGUMENT.match(name) and name in known:
        return
    shown = name if isinstance(name, str) else str(name)
    if isinstance(name, str) and name in _misnamed(project):
        raise UsageError(str(_misnamed_problem(name)))
    kind = "unknown" if isinstance(name, str) and _NAME_ARGUMENT.match(name) else "invalid"
    what = "environment" if kind == "unknown" else "environment name"
    close = difflib.get_close_matches(shown, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(known) if known else "(none)"
    raise UsageError(f"{kind} {what} {shown!r}{hint}; known: {listing}")


def _misnamed(project: Project) -> list[str]:
    """Environments written as .yml, which Ephemera would otherwise silently ignore."""
    if not project.environments_dir.is_dir():
        return []
    return sorted(p.stem for p in project.environments_dir.glob("*.yml"))


def _misnamed_problem(name: str) -> Problem:
    return Problem(
        f"environments/{name}.yml",
        1,
        "",
        f"environment files end in .yaml: rename it to environments/{name}.yaml",
    )


def load_environment(
    project: Project, name: str, *, deployable: bool = False, store: StoreFactory | None = None
) -> Environment:
    """The validated environment `name` (environments/<name>.yaml merged over
    _defaults.yaml). UsageError for an unknown or invalid name; ValidationError
    with every problem of the files otherwise. With `deployable`, also what validate,
    plan and deploy check before anything is rendered (ephemera.config.deployable)."""
    check_environment_name(project, name)
    env, problems = _validate(_Context.of(project, deployable, store), name)
    if problems:
        raise ValidationError(problems)
    assert env is not None
    return env


def validate_environments(
    project: Project,
    names: list[str] | None = None,
    *,
    deployable: bool = False,
    store: StoreFactory | None = None,
) -> list[Environment]:
    """Validate every environment (or the named ones); the problems of all files
    are raised together in one ValidationError (each problem once). Every .yml file
    of environments/ is a problem too."""
    problems: set[Problem] = set()
    if names is None:
        names = project.known_environments()
        problems.update(_misnamed_problem(name) for name in _misnamed(project))
    else:
        for name in names:
            check_environment_name(project, name)
    ctx = _Context.of(project, deployable, store)
    environments: list[Environment] = []
    for name in names:
        env, found = _validate(ctx, name)
        problems.update(found)
        if env is not None:
            environments.append(env)
    if problems:
        raise ValidationError(sorted(problems))
    return environments


def variable_problem(project: Project, name: str, variable: str, message: str) -> Problem:
    """A problem Terraform found with a variable, placed at its line in the YAML (for a
    failure inside a plan that names the variable)."""
    path = project.environment_file(name)
    files = SourceFiles(load_document(path, project.relative(path)), load_defaults(project))
    return files.problem(("variables", variable), message)
