"""A stack's input contract, read from its `variables.tf`.

`read_stack_variables` parses `terraform/stacks/<stack>/variables.tf` with
python-hcl2 into one `StackVariable` per `variable` block (type expression,
default, description; required when there is no default). `check_variables`
holds an environment's `variables:` map against it before Terraform runs
(`ephemera.config.schemafiles` turns the same contract into a JSON Schema for
editors).

Variables named in `PROVIDED_VARIABLES` are supplied by Ephemera: they are
never required from, nor allowed in, an environment file.

Parsing is slow to start (python-hcl2 builds its lark parser in every process), so the
parsed contract is also kept on disk, keyed by the sha256 of the file's content
(`stack_variables`: under `.ephemera/cache/stackvars/`): a command whose stacks did not
change never imports python-hcl2.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ephemera.config.yamlload import format_path, type_name
from ephemera.environment import PROVIDED_VARIABLES
from ephemera.errors import UsageError
from ephemera.files import FileMemo, code_digest, keep_json, read_json
from ephemera.terraform.types import ANY, TfType, TypeSyntaxError, parse_type

if TYPE_CHECKING:
    from ephemera.project import Project


class StackVariablesError(UsageError):
    """A stack's variables.tf cannot be read: names the file and line."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.detail = message
        super().__init__(f"{file}:{line}: {message}")


# ----------------------------------------------------------------------- variables


@dataclass(frozen=True)
class StackVariable:
    """One `variable` block of a stack's variables.tf."""

    name: str
    type: TfType
    type_text: str  # as written, e.g. "list(string)"
    description: str
    required: bool  # no default in variables.tf
    default: Any = None
    line: int = 1
    sensitive: bool = False
    provided: bool = field(default=False)  # supplied by Ephemera (PROVIDED_VARIABLES)
    nullable: bool = True  # Terraform's default: null is a valid value unless nullable = false
    conditions: tuple[str, ...] = ()  # the `condition` of each validation block, as written

    @property
    def takes_null(self) -> bool:
        """Whether Terraform accepts null: for `nullable = false`, when there is a default
        (null then means the default); else when each validation condition lets null
        through (`var.x == null || …`)."""
        tested = re.compile(rf"var\.{re.escape(self.name)}\s*==\s*null")
        if not self.nullable:  # null means the default
            return not self.required
        return all(tested.search(c) for c in self.conditions)


_CACHE: FileMemo[dict[str, StackVariable]] = FileMemo()


def _hcl_load(handle: Any) -> dict[str, Any]:
    import hcl2  # slow to load: only when a variables.tf is not in the disk cache

    options_type = getattr(hcl2, "SerializationOptions", None)
    if options_type is None:  # python-hcl2 7.x: strings come without quotes already
        return hcl2.load(handle)
    options = options_type(
        strip_string_quotes=True,
        with_comments=False,
        explicit_blocks=False,
        preserve_heredocs=False,
    )
    return hcl2.load(handle, serialization_options=options)


def _declaration_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.match(r'\s*variable\s+"?([A-Za-z0-9_-]+)"?', line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _unquote(label: str) -> str:
    if len(label) >= 2 and label.startswith('"') and label.endswith('"'):
        return label[1:-1]
    return label


def stack_variables(project: Project, stack: str) -> dict[str, StackVariable]:
    """`read_stack_variables` of a project's stack, with the project's disk cache."""
    return read_stack_variables(project.stack_dir(stack), project.cache_dir / "stackvars")


def read_stack_variables(
    stack_dir: Path, cache_dir: Path | None = None
) -> dict[str, StackVariable]:
    """The variables a stack declares in `<stack_dir>/variables.tf`, by name.

    A stack without a variables.tf declares none. Parsed once per file version in a
    process (cached by path, mtime and size) and, with `cache_dir`, once per content
    (a JSON file named by its sha256). Raises `StackVariablesError` (a `UsageError`)
    naming the file and line when it cannot be read; such a file is never cached.
    """
    path = Path(stack_dir) / "variables.tf"
    return dict(_CACHE.get(path, lambda: _read(path, cache_dir), {}))


def _read(path: Path, cache_dir: Path | None) -> dict[str, StackVariable]:
    """From the disk cache when it has this content, else parsed (and kept there)."""
    entry = _disk_entry(path, cache_dir) if cache_dir is not None else None
    variables = _from_disk(entry) if entry is not None else None
    if variables is None:
        variables = _parse_variables_file(path)
        if entry is not None:
            _to_disk(entry, variables)
    return variables


def _disk_entry(path: Path, cache_dir: Path) -> Path | None:
    """The cache file of this content (None when the file cannot be read: the parse
    says why)."""
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    parser = code_digest("ephemera.config.stackvars", "hcl2", "lark")[:16]  # its answer's code
    return cache_dir / f"{digest}-{parser}.json"


def _from_disk(entry: Path) -> dict[str, StackVariable] | None:
    """The cached variables, or None when there is no readable entry."""
    rows = read_json(entry)
    if not isinstance(rows, list):
        return None
    try:
        variables = {}
        for row in rows:
            row.update(type=parse_type(row["type_text"]), conditions=tuple(row["conditions"]))
            variables[row["name"]] = StackVariable(**row)
    except (ValueError, TypeError, KeyError, TypeSyntaxError):
        return None
    return variables


def _to_disk(entry: Path, variables: dict[str, StackVariable]) -> None:
    rows = [
        {f.name: getattr(var, f.name) for f in dataclasses.fields(var) if f.name != "type"}
        for var in variables.values()
    ]
    keep_json(entry, rows)


def _display(path: Path) -> str:
    """`terraform/stacks/<stack>/variables.tf` for a stack file, for messages."""
    if path.parent.parent.name == "stacks" and path.parent.parent.parent.name == "terraform":
        return f"terraform/stacks/{path.parent.name}/{path.name}"
    return str(path)


def _parse_variables_file(path: Path) -> dict[str, StackVariable]:
    display = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StackVariablesError(display, 1, f"cannot read: {exc}") from None
    try:
        with path.open(encoding="utf-8") as handle:
            parsed = _hcl_load(handle)
    except Exception as exc:  # lark raises several unrelated types for bad HCL
        line = getattr(exc, "line", None)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StackVariablesError(
            display, line if isinstance(line, int) and line > 0 else 1, f"not valid HCL: {first}"
        ) from None
    lines = _declaration_lines(text)
    variables: dict[str, StackVariable] = {}
    for block in parsed.get("variable", []):
        for label, body in block.items():
            name = _unquote(label)
            line = lines.get(name, 1)
            if name in variables:
                raise StackVariablesError(display, line, f"variable {name!r} is declared twice")
            body = body if isinstance(body, dict) else {}
            type_text = body.get("type")
            try:
                tf_type = parse_type(type_text)
            except TypeSyntaxError as exc:
                raise StackVariablesError(display, line, f"variable {name!r}: {exc}") from None
            shown = str(type_text) if type_text is not None else "any"
            if shown.startswith("${") and shown.endswith("}"):
                shown = shown[2:-1]
            description = body.get("description")
            variables[name] = StackVariable(
                name=name,
                type=tf_type,
                type_text=shown,
                description=str(description) if description is not None else "",
                required="default" not in body,
                default=body.get("default"),
                line=line,
                sensitive=body.get("sensitive") is True,
                provided=name in PROVIDED_VARIABLES,
                nullable=body.get("nullable") is not False,
                conditions=_conditions(body),
            )
    return variables


def _conditions(body: dict[str, Any]) -> tuple[str, ...]:
    """The validation conditions of a variable block, without python-hcl2's `${ }`."""
    blocks = body.get("validation") or []
    found = []
    for block in blocks if isinstance(blocks, list) else [blocks]:
        condition = block.get("condition") if isinstance(block, dict) else None
        if isinstance(condition, str):
            text = condition.strip()
            if text.startswith("${") and text.endswith("}"):
                text = text[2:-1]
            found.append(text)
    return tuple(found)


# ----------------------------------------------------------------------- checking


@dataclass(frozen=True)
class VariableIssue:
    """One problem with an environment's stack variables.

    `path` is relative to the `variables:` map, e.g. `("port",)` or
    `("listeners", 0, "port")`.
    """

    path: tuple[str | int, ...]
    message: str


def _show(value: Any) -> str:
    if isinstance(value, dict | list):
        return type_name(value)
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type_name(value)} {text}"


def _non_finite(value: Any, path: tuple[str | int, ...]) -> list[VariableIssue]:
    """YAML's .nan and .inf have no Terraform literal: refused wherever they appear."""
    if isinstance(value, float) and not math.isfinite(value):
        return [VariableIssue(path, f"{value!r} is not a finite number")]
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    return [issue for key, item in items for issue in _non_finite(item, (*path, key))]


def check_value(
    value: Any, expected: TfType, path: tuple[str | int, ...] = ()
) -> list[VariableIssue]:
    """Problems of `value` (loaded from YAML) against a Terraform type, strictly:
    no conversions between strings, numbers and bools, no null outside `any`."""
    kind = expected.kind
    if kind == "any":
        return _non_finite(value, path)
    mismatch = [VariableIssue(path, f"expected {expected}, got {_show(value)}")]
    if kind == "string":
        return [] if isinstance(value, str) else mismatch
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return (_non_finite(value, path) or []) if ok else mismatch
    if kind == "bool":
        return [] if isinstance(value, bool) else mismatch
    if kind in ("list", "set"):
        if not isinstance(value, list):
            return mismatch
        issues: list[VariableIssue] = []
        for index, item in enumerate(value):
            issues += check_value(item, expected.element or ANY, (*path, index))
        return issues
    if kind == "tuple":
        if not isinstance(value, list):
            return mismatch
        if len(value) != len(expected.elements):
            return [
                VariableIssue(
                    path,
                    f"expected {expected} ({len(expected.elements)} items), "
                    f"got {len(value)} item{'' if len(value) == 1 else 's'}",
                )
            ]
        issues = []
        for index, (item, item_type) in enumerate(zip(value, expected.elements, strict=True)):
            issues += check_value(item, item_type, (*path, index))
        return issues
    if kind == "map":
        if not isinstance(value, dict):
            return mismatch
        issues = []
        for key, item in value.items():
            issues += check_value(item, expected.element or ANY, (*path, key))
        return issues
    if kind == "object":
        if not isinstance(value, dict):
            return mismatch
        attributes = dict(expected.attributes)
        issues = []
        for key, item in value.items():
            if key not in attributes:
                issues.append(VariableIssue((*path, key), _unknown(key, attributes, "attribute")))
            elif item is None and key in expected.optional:
                continue
            else:
                issues += check_value(item, attributes[key], (*path, key))
        for name, attr_type in expected.attributes:
            if name not in value and name not in expected.optional:
                issues.append(
                    VariableIssue((*path, name), f"required attribute missing (type {attr_type})")
                )
        return issues
    raise AssertionError(f"unknown type kind {kind}")  # pragma: no cover


def _unknown(key: str, known: Mapping[str, Any] | list[str], what: str) -> str:
    names = sorted(known)
    close = difflib.get_close_matches(str(key), names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(names) if names else "(none)"
    return f"unknown {what}{hint}; known: {listing}"


def check_variables(
    values: Mapping[str, Any], declared: Mapping[str, StackVariable], stack: str = ""
) -> list[VariableIssue]:
    """Every problem of an environment's `variables:` map against a stack's
    declarations: keys Ephemera sets itself, unknown keys (with the closest
    name), missing required variables, and type mismatches."""
    of_stack = f" of stack {stack!r}" if stack else ""
    settable = {name: var for name, var in declared.items() if name not in PROVIDED_VARIABLES}
    issues: list[VariableIssue] = []
    for key, value in values.items():
        if key in PROVIDED_VARIABLES:
            issues.append(VariableIssue((key,), "set by Ephemera, not the environment file"))
        elif key not in settable:
            issues.append(VariableIssue((key,), _unknown(key, settable, f"variable{of_stack}")))
        elif value is None and not settable[key].takes_null:
            issues.append(
                VariableIssue(
                    (key,),
                    f"expected {settable[key].type}, got null "
                    "(remove the key to use the stack's default)",
                )
            )
        elif value is not None:
            issues += check_value(value, settable[key].type, (key,))
    for name, var in settable.items():
        if var.required and name not in values:
            issues.append(
                VariableIssue(
                    (name,), f"required variable{of_stack} missing (type {var.type}, no default)"
                )
            )
    return issues


def describe_issue(issue: VariableIssue) -> str:
    """`variables.<path>: <message>`, for callers without line numbers."""
    return f"{format_path(('variables', *issue.path))}: {issue.message}"


def stack_names(project: Project) -> list[str]:
    """The stacks under terraform/stacks (directories), sorted."""
    if not project.stacks_dir.is_dir():
        return []
    return sorted(
        p.name for p in project.stacks_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
