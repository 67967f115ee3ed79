"""Inline `#checkov:skip=ID:reason` comments, for the plan gate.

checkov honours these comments when it scans Terraform source, but a plan.json
carries no comments: every failure the code skips with a reason would stop the
deploy. `find_code_skips` reads the skip comments inside the `resource "TYPE"
"NAME" { … }` blocks of a stack and of the local modules it calls (the module tree
of `ephemera.terraform.stackfiles.module_tree`; an environment's snapshot under
`.ephemera/work/<env>/tf/` has the same layout), and `CodeSkips.match` finds the one
that covers a plan finding:

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
static checks of terraform/ reject such comments). `parse_skip` / `inline_skips` are
the one reading of skip comments, shared with those static checks (tests/support/tfstatic.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from ephemera.environment import Environment
from ephemera.project import Project
from ephemera.terraform import hclscan
from ephemera.terraform.stackfiles import module_tree

# The one reading of a skip comment's text, here and in tests/support/tfstatic.py.
SKIP_COMMENT = re.compile(r"checkov:skip=(?P<id>[A-Za-z0-9_]+)(?::(?P<reason>[^\n]*))?")
_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]"]*)\]')


class InlineSkip(NamedTuple):
    """A `checkov:skip=<ID>[:<reason>]` in a comment of an HCL text."""

    position: int  # of the comment holding it
    line: int  # 1-based
    check_id: str
    reason: str  # stripped, without a block comment's closing `*/`; "" when missing


def parse_skip(comment_line: str) -> tuple[str, str] | None:
    """(check ID, reason) of the `checkov:skip=ID[:reason]` in one line of a comment,
    None when there is none. The reason is stripped and loses the `*/` closing a block
    comment; it is "" when missing."""
    found = SKIP_COMMENT.search(comment_line)
    if found is None:
        return None
    reason = (found.group("reason") or "").strip()
    if reason.endswith("*/"):
        reason = reason[:-2].rstrip()
    return found.group("id"), reason


def inline_skips(text: str) -> list[InlineSkip]:
    """Every skip in the comments (`#`, `//`, `/* */`) of an HCL text, in order; text in
    strings and heredocs is not a comment."""
    found = []
    for position, comment in hclscan.comments(text):
        first_line = text.count("\n", 0, position) + 1
        for offset, line_text in enumerate(comment.split("\n")):
            parsed = parse_skip(line_text)
            if parsed is not None:
                found.append(InlineSkip(position, first_line + offset, *parsed))
    return found


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
    if not stack_dir.resolve().is_dir():
        return CodeSkips()
    modules = {address: d for address, d in module_tree(stack_dir).items() if d.is_dir()}
    skips = []
    for address, directory in modules.items():
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


def _directory_skips(directory: Path) -> list[tuple[Path, int, str, str, str]]:
    """(file, line, check ID, TYPE.NAME, reason) of the reasoned skips in resource blocks."""
    found = []
    for path in hclscan.tf_files(directory):
        text = hclscan.read(path)
        skips = [skip for skip in inline_skips(text) if skip.reason]
        for block in hclscan.blocks(text, "resource"):
            if block.second is None:
                continue
            resource = f"{block.first}.{block.second}"
            for skip in skips:
                if block.start < skip.position < block.end:
                    found.append((path, skip.line, skip.check_id, resource, skip.reason))
    return found
