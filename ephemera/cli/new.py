"""`ephemera new`: a new environment file, asked for from the schemas — the stacks of
terraform/stacks/, the environment's name, target, owner and ttl, the stack's own
variables (their enums, ranges and defaults from variables.tf), a notification email —
then the cost, a confirmation, a file with the schema modeline and comments that
`validate` accepts, and an offer to deploy it. Without a terminal, or with `--yes`, the
answers come from the flags (`--stack … --set key=value`) and nothing is asked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.prompt import Confirm, Prompt

from ephemera import config
from ephemera.cli.output import console
from ephemera.config import stackvars
from ephemera.config.documents import load_defaults
from ephemera.config.schema import EMAIL_PATTERN, NAME_PATTERN, PATTERN_HINTS, REGION_PATTERN
from ephemera.config.schemafiles import stack_schema
from ephemera.config.stackvars import StackVariable
from ephemera.durations import DURATION_PATTERN, duration_text, parse_duration
from ephemera.errors import UsageError, ValidationError
from ephemera.gate import cost
from ephemera.project import Project

SCALARS = ("string", "number", "bool")


@dataclass
class Draft:
    """What the new file will say."""

    name: str = ""
    stack: str = ""
    target: str = "local"
    owner: str = ""
    ttl: str = ""
    region: str = ""
    email: str = ""
    variables: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)  # variable → its description


def new(
    stack: str = "",
    name: str = "",
    owner: str = "",
    ttl: str = "",
    target: str = "",
    region: str = "",
    email: str = "",
    sets: list[str] | tuple[str, ...] = (),
    yes: bool = False,
    then_deploy: bool = False,
) -> str | None:
    """Write environments/<name>.yaml; returns its name when it should be deployed."""
    project = Project.discover()
    asking = not yes and sys.stdin.isatty()
    answers = _given(sets)
    draft = Draft(name=name, stack=stack, target=target, owner=owner, ttl=ttl, region=region)
    draft.email = email
    _ask_environment(project, draft, asking)
    _ask_variables(project, draft, answers, asking)
    if asking and not draft.email:
        draft.email = _ask("Notification email (empty: none)", "", EMAIL_PATTERN, optional=True)
    _show_cost(project, draft)
    path = project.environment_file(draft.name)
    if asking and not Confirm.ask(
        f"Write {project.relative(path)}?", default=True, console=console()
    ):
        raise UsageError(f"{draft.name}: not written; nothing done")
    _write(project, path, draft)
    try:
        config.load_environment(project, draft.name)
    except ValidationError:
        path.unlink()
        raise
    console().print(
        f"wrote {project.relative(path)}; check it with: make validate ENV={draft.name}"
    )
    if asking:
        then_deploy = Confirm.ask(f"Deploy {draft.name} now?", default=False, console=console())
    return draft.name if then_deploy else None


def _given(sets: list[str] | tuple[str, ...]) -> dict[str, str]:
    answers = {}
    for item in sets:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"new: --set {item!r}: expected key=value")
        answers[key.strip()] = value
    return answers


def _ask(label: str, default: str, pattern: str | None = None, *, optional: bool = False) -> str:
    """Ask until the answer matches `pattern` (empty is fine when `optional`)."""
    while True:
        answer = Prompt.ask(label, default=default or None, console=console()) or ""
        if (optional and not answer) or pattern is None or re.match(pattern, answer):
            return answer.strip()
        hint = PATTERN_HINTS.get(pattern, f"does not match {pattern}")
        console().print(f"[red]{answer!r} {hint}[/red]")


def _need(value: str, what: str, asking: bool, ask: Any) -> str:
    if value:
        return value
    if asking:
        return ask()
    raise UsageError(f"new: --{what} is required without a terminal to ask")


def _ask_environment(project: Project, draft: Draft, asking: bool) -> None:
    stacks = stackvars.stack_names(project)
    if not stacks:
        raise UsageError("new: no stack under terraform/stacks/ to build on")
    draft.stack = _need(
        draft.stack,
        "stack",
        asking,
        lambda: Prompt.ask("Stack", choices=stacks, default=stacks[0], console=console()),
    )
    if draft.stack not in stacks:
        raise UsageError(f"new: --stack {draft.stack!r}: known stacks: {', '.join(stacks)}")
    draft.name = _need(draft.name, "name", asking, lambda: _ask_name(project))
    local = draft.stack.startswith("local")
    default_target = "local" if local else "aws"
    draft.target = draft.target or (
        Prompt.ask("Target", choices=["local", "aws"], default=default_target, console=console())
        if asking
        else default_target
    )
    draft.owner = _need(
        draft.owner, "owner", asking, lambda: _ask("Owner (email)", _git_email(), EMAIL_PATTERN)
    )
    defaults = load_defaults(project)
    default_ttl = str((defaults.data if defaults else {}).get("ttl") or "8h")
    draft.ttl = draft.ttl or (
        _ask("TTL (30m, 8h, 2d)", default_ttl, DURATION_PATTERN) if asking else default_ttl
    )
    if draft.target == "aws":
        draft.region = _need(
            draft.region, "region", asking, lambda: _ask("AWS region", "eu-west-1", REGION_PATTERN)
        )


def _ask_name(project: Project) -> str:
    while True:
        name = _ask("Name (3-40 lowercase letters, digits, -)", "", NAME_PATTERN)
        if not project.environment_file(name).exists():
            return name
        console().print(f"[red]environments/{name}.yaml exists already[/red]")


def _git_email() -> str:
    try:
        found = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return found.stdout.strip()


def _ask_variables(project: Project, draft: Draft, answers: dict[str, str], asking: bool) -> None:
    """The stack's settable variables: given with --set, asked for (scalars), or left to
    the stack's default."""
    declared = stackvars.read_stack_variables(project.stack_dir(draft.stack))
    schema = stack_schema(project.stack_dir(draft.stack))["properties"]
    unknown = set(answers) - set(schema)
    if unknown:
        raise UsageError(
            f"new: --set {', '.join(sorted(unknown))}: not a variable of stack {draft.stack}; "
            f"known: {', '.join(sorted(schema))}"
        )
    settable = sorted(schema, key=lambda n: (not declared[n].required, n))
    for name in settable:
        var, spec = declared[name], schema[name]
        if name in answers:
            draft.variables[name] = _typed(name, answers[name], var)
        elif asking and var.type.kind in SCALARS:
            value = _ask_variable(name, var, spec)
            if value is not None:
                draft.variables[name] = value
        elif var.required:
            raise UsageError(f"new: --set {name}=…: stack {draft.stack} requires it")
        if name in draft.variables and var.description:
            draft.comments[name] = var.description


def _ask_variable(name: str, var: StackVariable, spec: dict[str, Any]) -> Any:
    """One variable's answer (None: keep the stack's default)."""
    console().print(f"[dim]{name}: {var.description}[/dim]")
    default = spec.get("default")
    if var.type.kind == "bool":
        answer = Confirm.ask(name, default=bool(default), console=console())
        return None if answer == default else answer
    choices = [str(c) for c in spec.get("enum") or [] if c is not None] or None
    while True:
        shown = "" if default is None else str(default)
        text = Prompt.ask(name, choices=choices, default=shown or None, console=console()) or ""
        if text == shown and not var.required:
            return None
        try:
            return _typed(name, text, var, spec)
        except UsageError as exc:
            console().print(f"[red]{exc.message}[/red]")


def _typed(name: str, text: str, var: StackVariable, spec: dict[str, Any] | None = None) -> Any:
    """`text` as the variable's type, within its enum and range."""
    value: Any = text
    if var.type.kind == "number":
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise UsageError(f"new: {name}: {text!r} is not a number")
    elif var.type.kind == "bool":
        if text.lower() not in ("true", "false"):
            raise UsageError(f"new: {name}: {text!r} is not true or false")
        value = text.lower() == "true"
    elif var.type.kind != "string":
        try:
            value = json.loads(text)
        except ValueError:
            raise UsageError(f"new: {name}: {text!r} is not JSON (a {var.type})") from None
    spec = spec or {}
    low, high = spec.get("minimum"), spec.get("maximum")
    if isinstance(value, int | float) and (
        (low is not None and value < low) or (high is not None and value > high)
    ):
        raise UsageError(f"new: {name}: {value} is outside {low}–{high}")
    return value


def _show_cost(project: Project, draft: Draft) -> None:
    """The cost over the TTL and per extra hour: nothing for the local target; for aws
    the plan prices what it would create (it needs credentials), shown before a deploy
    asks to apply."""
    hours = parse_duration(draft.ttl)
    if draft.target == "local":
        estimate = cost.estimate({}, None, hours, target="local")
        console().print(f"cost: {cost.format_estimate(estimate, draft.ttl)}")
    else:
        console().print(
            f"cost: priced from its plan — `ephemera plan {draft.name or '<name>'}` shows it "
            f"over the {duration_text(hours)} TTL and per extra hour, and a deploy shows it "
            "again before it asks to apply"
        )


def _write(project: Project, path: Path, draft: Draft) -> None:
    lines = [
        "# yaml-language-server: $schema=../schemas/environment.schema.json",
        f"# Written by `ephemera new` on {datetime.now(UTC):%Y-%m-%d}. Check it with:",
        f"#   make validate ENV={draft.name}",
        f"name: {draft.name}",
        f"stack: {draft.stack}",
        f"target: {draft.target}",
        f"owner: {draft.owner}",
        f"ttl: {draft.ttl}",
    ]
    if draft.region:
        lines.append(f"region: {draft.region}")
    if draft.variables:
        lines.append("variables:")
        for key, value in draft.variables.items():
            if key in draft.comments:
                lines.append(f"  # {draft.comments[key]}")
            lines.append(f"  {key}: {json.dumps(value)}")
    if draft.email:
        lines += ["notify:", f"  email: [{json.dumps(draft.email)}]"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
