"""Inline `#checkov:skip=ID:reason` comments, for the plan gate.

checkov honours these comments when it scans Terraform source, but a plan.json
carries no comments: every failure the code skips with a reason would stop the
deploy. `find_code_skips` reads the skip comments inside the `resource "TYPE"
"NAME" { … }` blocks of a stack and of the local modules it calls (the same
directories `ephemera.stackfiles.stack_files` lists; an environment's snapshot
under `.ephemera/work/<env>/tf/` has the same layout), and `CodeSkips.match`
finds the one that covers a plan finding:

- the check ID is the comment's, and
- the finding's resource address, with instance keys (`[0]`, `["a"]`) stripped, is
  `<module path>.TYPE.NAME` of the block, where the module path is how the stack
  reaches the block's directory: `module "mockserver" { source =
  "../../modules/mockserver-service" }` in the stack makes the blocks of
  modules/mockserver-service `module.mockserver.TYPE.NAME`; nested calls chain
  (`module.a.module.b.TYPE.NAME`). A directory called twice has both paths.
- A resource in a module whose directory is not known (a registry or git source) is
  matched on TYPE.NAME against the stack's own files only; never more broadly.

A skip comment without a reason is ignored here (policy skips need a reason; the
static checks of terraform/ reject such comments).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ephemera.model import Environment
from ephemera.project import Project

MAX_MODULE_DEPTH = 32
_BLOCK_HEADER = re.compile(
    r'^[ \t]*(?P<kind>resource|module)[ \t]+"(?P<first>[^"\n]+)"'
    r'(?:[ \t]+"(?P<second>[^"\n]+)")?[ \t]*\{',
    re.MULTILINE,
)
_SOURCE = re.compile(r'^[ \t]*source[ \t]*=[ \t]*"(?P<source>[^"\n]*)"', re.MULTILINE)
_HEREDOC = re.compile(r"<<-?(?P<marker>[A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_SKIP = re.compile(r"checkov:skip=(?P<id>[A-Za-z0-9_]+)(?::(?P<reason>[^\n]*))?")
_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]"]*)\]')


@dataclass(frozen=True)
class CodeSkip:
    """A `checkov:skip=<check_id>:<reason>` comment in `resource "TYPE" "NAME"`."""

    check_id: str
    module: str  # how the stack reaches the block: "" (the stack), "module.a.module.b"
    resource: str  # TYPE.NAME
    reason: str
    file: str  # relative to the terraform directory given to find_code_skips
    line: int

    @property
    def address(self) -> str:
        return f"{self.module}.{self.resource}" if self.module else self.resource

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class CodeSkips:
    """The skip comments of one stack, and the module paths whose directories are known."""

    skips: tuple[CodeSkip, ...] = ()
    modules: frozenset[str] = frozenset()  # "" (the stack itself), "module.a", …
    _index: dict[tuple[str, str], CodeSkip] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for skip in self.skips:
            self._index.setdefault((skip.check_id, skip.address), skip)

    def __iter__(self) -> Iterator[CodeSkip]:
        return iter(self.skips)

    def __len__(self) -> int:
        return len(self.skips)

    def match(self, check_id: str, address: str) -> CodeSkip | None:
        """The skip covering a failure of `check_id` at the plan address `address`."""
        split = split_address(address)
        if split is None:
            return None
        module, resource = split
        if module and module not in self.modules:
            return None  # a module of unknown source (registry, git): its code is not read
        key = f"{module}.{resource}" if module else resource
        return self._index.get((check_id, key))


def split_address(address: str) -> tuple[str, str] | None:
    """`module.a["x"].module.b[0].aws_lb.this["k"]` → ("module.a.module.b", "aws_lb.this");
    None for anything that is not a managed resource (`data.…`, a malformed address)."""
    parts = _INSTANCE_KEY.sub("", address.strip()).split(".")
    modules = []
    while len(parts) > 2 and parts[0] == "module":
        modules.append(f"module.{parts[1]}")
        parts = parts[2:]
    if len(parts) != 2 or not all(parts) or parts[0] in ("data", "module"):
        return None
    return ".".join(modules), ".".join(parts)


def find_code_skips(terraform_dir: Path, stack_dir: Path) -> CodeSkips:
    """Every reasoned skip comment in a resource block of the stack and its local modules.

    `terraform_dir` is the tree holding `stacks/` and `modules/` (the project's
    terraform/, or an environment's snapshot); file names are relative to it. A stack
    directory that does not exist has no skips.
    """
    root = stack_dir.resolve()
    if not root.is_dir():
        return CodeSkips()
    modules: dict[str, Path] = {}
    pending: list[tuple[str, Path, int]] = [("", root, 0)]
    while pending:
        address, directory, depth = pending.pop()
        if address in modules or depth > MAX_MODULE_DEPTH:
            continue
        modules[address] = directory
        for name, source in _module_calls(directory):
            if not source.startswith(("./", "../")):
                continue  # registry, git …: its files are not ours
            child = (directory / source).resolve()
            if child.is_dir():
                prefix = f"{address}." if address else ""
                pending.append((f"{prefix}module.{name}", child, depth + 1))
    skips = []
    for address, directory in sorted(modules.items()):
        for path, line, check_id, resource, reason in _directory_skips(directory):
            skips.append(
                CodeSkip(
                    check_id=check_id,
                    module=address,
                    resource=resource,
                    reason=reason,
                    file=_relative(path, terraform_dir),
                    line=line,
                )
            )
    return CodeSkips(skips=tuple(skips), modules=frozenset(modules))


def snapshot_skips(project: Project, env: Environment) -> CodeSkips:
    """The skips in the stack snapshot an environment's plan was made from
    (`.ephemera/work/<env>/tf/`, written by render)."""
    snapshot = project.work_dir(env.name) / "tf"
    return find_code_skips(snapshot, snapshot / "stacks" / env.stack)


# --- reading .tf files ---------------------------------------------------------------


def _relative(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _tf_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.tf") if p.is_file())


class _Block(NamedTuple):
    first: str  # the first label: the resource type, the module name
    second: str | None  # the second label: the resource name
    start: int  # position of the opening brace
    end: int  # position of the closing brace
    nested: list[tuple[int, int]]  # brace spans inside
    comments: list[tuple[int, str]]  # (position, text) of the comments inside


def _module_calls(directory: Path) -> list[tuple[str, str]]:
    """(name, source) of each `module "name" { source = "…" }` in the directory's files."""
    calls = []
    for path in _tf_files(directory):
        text = path.read_text(encoding="utf-8", errors="replace")
        for block in _blocks(text, "module"):
            for found in _SOURCE.finditer(text, block.start, block.end):
                if not any(a < found.start() < b for a, b in block.nested):
                    calls.append((block.first, found.group("source")))
                    break
    return calls


def _directory_skips(directory: Path) -> list[tuple[Path, int, str, str, str]]:
    """(file, line, check ID, TYPE.NAME, reason) of the reasoned skips in resource blocks."""
    found = []
    for path in _tf_files(directory):
        text = path.read_text(encoding="utf-8", errors="replace")
        for block in _blocks(text, "resource"):
            if block.second is None:
                continue
            for position, comment in block.comments:
                for offset, line_text in enumerate(comment.split("\n")):
                    skip = _SKIP.search(line_text)
                    if skip is None:
                        continue
                    reason = (skip.group("reason") or "").strip()
                    if reason.endswith("*/"):
                        reason = reason[:-2].rstrip()
                    if reason:
                        line = text.count("\n", 0, position) + 1 + offset
                        resource = f"{block.first}.{block.second}"
                        found.append((path, line, skip.group("id"), resource, reason))
    return found


def _blocks(text: str, kind: str) -> list[_Block]:
    """The top-level `kind "…" ["…"] { … }` blocks of an HCL file."""
    braces, comments = _lex(text)
    found = []
    for header in _BLOCK_HEADER.finditer(text):
        if header.group("kind") != kind:
            continue
        opening = header.end() - 1
        span = braces.get(opening)
        if span is None or span[1] != 0:  # in a string, a heredoc, a comment, or nested
            continue
        closing = span[0]
        nested = [
            (start, end)
            for start, (end, depth) in braces.items()
            if depth > 0 and opening < start < closing
        ]
        inside = [(pos, body) for pos, body in comments if opening < pos < closing]
        found.append(
            _Block(header.group("first"), header.group("second"), opening, closing, nested, inside)
        )
    return found


def _lex(text: str) -> tuple[dict[int, tuple[int, int]], list[tuple[int, str]]]:
    """The code braces of an HCL file ({open: (close, depth)}) and its comments.

    Braces inside strings, heredocs and comments are not code; `${ … }` inside a
    string is code again (its own strings included)."""
    braces: dict[int, tuple[int, int]] = {}
    comments: list[tuple[int, str]] = []
    stack: list[tuple[str, int, int]] = []  # (kind, position, depth): "{", "${", '"'
    depth = 0
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if stack and stack[-1][0] == '"':
            if char == "\\":
                i += 2
            elif char == '"':
                stack.pop()
                i += 1
            elif text.startswith(("$${", "%%{"), i):
                i += 3
            elif text.startswith(("${", "%{"), i):
                stack.append(("${", i, depth))
                i += 2
            elif char == "\n":  # an unterminated string: stop at the line's end
                stack.pop()
                i += 1
            else:
                i += 1
            continue
        if char == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            comments.append((i, text[i:end]))
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            comments.append((i, text[i:end]))
            i = end
        elif char == '"':
            stack.append(('"', i, depth))
            i += 1
        elif text.startswith("<<", i) and (heredoc := _HEREDOC.match(text, i)):
            marker = re.escape(heredoc.group("marker"))
            closing = re.compile(rf"^[ \t]*{marker}[ \t]*$", re.MULTILINE).search(
                text, heredoc.end()
            )
            i = n if closing is None else closing.end()
        elif char == "{":
            stack.append(("{", i, depth))
            depth += 1
            i += 1
        elif char == "}":
            if stack and stack[-1][0] == "{":
                _, start, level = stack.pop()
                braces[start] = (i, level)
                depth = level
            elif stack and stack[-1][0] == "${":
                stack.pop()  # back inside the string
            i += 1
        else:
            i += 1
    return braces, comments
