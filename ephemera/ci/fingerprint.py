"""What identifies an environment's inputs, path-independently: its *fingerprint*.

Rendered (`fingerprint`), for an environment that validates: every file `render`
writes (`terraform.tfvars`, `backend.hcl`, the stack snapshot under `tf/`, the
stack's committed `.terraform.lock.hcl`), the merged environment document as
canonical JSON (`settings/<key>`: a ttl or owner change affects the environment even
when Terraform's inputs do not, because the lease does), and the files its variables
name (`file/<path>`: a string variable that is the relative path of a file in the
checkout, e.g. `expectations_file: expectations/qa.json`).

From the sources (`source_fingerprint`), for one that cannot be rendered (invalid, or
a target whose control plane is not configured): the bytes of its file and of
`_defaults.yaml`, the stack's and its modules' files, the templates and the files its
variables name. It changes whenever anything validation or rendering reads changes,
so an environment that was invalid and stays untouched is not affected.

Path independence: `render` puts absolute paths into the rendered files (the provided
variables `project_root` and `runtime_dir`, the local state path), and each revision
is exported to its own temporary directory; those two directories are replaced with
fixed placeholders (`@PROJECT_ROOT@`, `@EPHEMERA_HOME@`) before hashing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ephemera.config import stackvars
from ephemera.environment import Environment
from ephemera.errors import EphemeraError
from ephemera.project import Project
from ephemera.terraform.render import render
from ephemera.terraform.stackfiles import stack_files

ROOT_PLACEHOLDER, HOME_PLACEHOLDER = b"@PROJECT_ROOT@", b"@EPHEMERA_HOME@"
MAX_REFERENCED_FILE = 4 * 1024 * 1024  # bytes hashed per referenced file, at most
RENDERED, SOURCES = "rendered", "sources"
GROUPS = {  # part prefix → how `describe` names it
    "settings": "settings",
    "rendered": "rendered",
    "terraform": "terraform",
    "file": "referenced files",
    "source": "files",
    "templates": "templates",
}


@dataclass(frozen=True)
class Fingerprint:
    """What identifies an environment's inputs: component name → sha256. `kind`:
    RENDERED or SOURCES (the two never compare equal)."""

    env: str
    stack: str
    parts: Mapping[str, str] = field(default_factory=dict)
    kind: str = RENDERED

    @property
    def digest(self) -> str:
        digest = hashlib.sha256(self.kind.encode() + b"\n")
        for name in sorted(self.parts):
            digest.update(name.encode() + b"\0" + self.parts[name].encode() + b"\n")
        return digest.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _normalised(data: bytes, prefixes: list[tuple[bytes, bytes]]) -> bytes:
    for prefix, placeholder in prefixes:
        data = data.replace(prefix, placeholder)
    return data


def referenced_files(value: Any, root: Path) -> Iterator[str]:
    """Relative paths of existing files in `root` named by string values in `value`."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from referenced_files(item, root)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from referenced_files(item, root)
    elif isinstance(value, str) and 0 < len(value) < 512 and "\n" not in value:
        if value.startswith(("/", "~")) or "://" in value:
            return
        try:
            candidate = (root / value).resolve()
            candidate.relative_to(root)
        except (OSError, ValueError):
            return
        if candidate.is_file():
            yield candidate.relative_to(root).as_posix()


def _file_parts(variables: Any, root: Path) -> dict[str, str]:
    parts = {}
    for relative in sorted(set(referenced_files(variables, root))):
        with (root / relative).open("rb") as handle:
            parts[f"file/{relative}"] = _sha(handle.read(MAX_REFERENCED_FILE))
    return parts


def fingerprint(env: Environment, project: Project) -> Fingerprint:
    """Render `env` (into `project.home`) and fingerprint what was rendered,
    with the checkout-dependent path prefixes replaced by a placeholder."""
    declared = set(stackvars.stack_variables(project, env.stack))
    rendered = render(env, project, declared)
    prefixes = sorted(
        [
            (str(project.home).encode(), HOME_PLACEHOLDER),
            (str(project.root).encode(), ROOT_PLACEHOLDER),
        ],
        key=lambda pair: len(pair[0]),
        reverse=True,  # the longer first, in case one contains the other
    )
    parts: dict[str, str] = {}
    for path in sorted(rendered.work_dir.rglob("*")):
        if path.is_file():
            relative = path.relative_to(rendered.work_dir).as_posix()
            if relative.startswith("tf/"):
                name = "terraform/" + relative[3:]
            else:
                name = "rendered/" + relative
            parts[name] = _sha(_normalised(path.read_bytes(), prefixes))
    for key, value in env.document.items():
        text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
        parts[f"settings/{key}"] = _sha(text.encode())
    parts.update(_file_parts(env.variables, project.root))
    return Fingerprint(env=env.name, stack=env.stack, parts=parts)


def source_fingerprint(
    project: Project, name: str, stack: str, variables: Any = None
) -> Fingerprint:
    """The sources an environment that cannot be rendered is read from: its file,
    `_defaults.yaml`, its stack's files (when `stack` names one), the templates and the
    files `variables` names."""
    parts: dict[str, str] = {}
    for path in (project.environment_file(name), project.defaults_file):
        if path.is_file():
            parts[f"source/{project.relative(path)}"] = _sha(path.read_bytes())
    if stack and project.stack_dir(stack).is_dir():
        try:
            files = stack_files(project.stacks_dir.parent, project.stack_dir(stack))
        except (EphemeraError, OSError):
            files = {}
        for relative, path in files.items():
            parts[f"terraform/{relative}"] = _sha(path.read_bytes())
    if project.templates_dir.is_dir():
        for path in sorted(project.templates_dir.rglob("*")):
            if path.is_file():
                relative = path.relative_to(project.templates_dir).as_posix()
                parts[f"templates/{relative}"] = _sha(path.read_bytes())
    parts.update(_file_parts(variables, project.root))
    return Fingerprint(env=name, stack=stack, parts=parts, kind=SOURCES)


def describe(before: Fingerprint, after: Fingerprint, limit: int = 4) -> str:
    """Why two fingerprints differ, e.g. `settings: ttl; terraform: modules/x/main.tf`."""
    if before.kind != after.kind:
        return "it validates now" if after.kind == RENDERED else "it no longer validates"
    names = sorted(set(before.parts) | set(after.parts))
    differing = [n for n in names if before.parts.get(n) != after.parts.get(n)]
    groups: dict[str, list[str]] = {}
    for name in differing:
        group, _, rest = name.partition("/")
        groups.setdefault(group, []).append(rest)
    pieces = []
    for group, label in GROUPS.items():
        items = groups.get(group)
        if not items:
            continue
        shown = ", ".join(items[:limit]) + (
            f" (+{len(items) - limit} more)" if len(items) > limit else ""
        )
        pieces.append(f"{label}: {shown}")
    if before.stack != after.stack:
        pieces.insert(0, f"stack {before.stack} → {after.stack}")
    return "; ".join(pieces) or "inputs changed"
