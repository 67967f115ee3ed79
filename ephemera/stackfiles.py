"""The files a stack is made of: its own directory plus every local module it
calls, followed transitively. Used to snapshot a stack into an environment's
work directory and, in CI, to tell which environments a change affects.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ephemera.errors import UsageError

_MODULE_SOURCE = re.compile(r'^\s*module\s+"[^"]+"\s*\{(?P<body>.*?)^\}', re.MULTILINE | re.DOTALL)
_LOCAL_SOURCE = re.compile(r'^\s*source\s*=\s*"(?P<src>\.{1,2}/[^"]*)"', re.MULTILINE)
TERRAFORM_SUFFIXES = (".tf", ".tf.json", ".tftpl", ".tpl", ".json", ".sh", ".py", ".lock.hcl")


def local_module_dirs(directory: Path) -> list[Path]:
    """Directories of the local modules (`source = "./…"` or `"../…"`) `directory` calls."""
    found: list[Path] = []
    for tf_file in sorted(directory.glob("*.tf")):
        for block in _MODULE_SOURCE.finditer(tf_file.read_text()):
            for source in _LOCAL_SOURCE.finditer(block.group("body")):
                found.append((directory / source.group("src")).resolve())
    return found


def stack_directories(stack_dir: Path) -> list[Path]:
    """The stack directory and every local module directory it reaches, sorted."""
    return list(_stack_directories(stack_dir.resolve(), _tree_stamp(stack_dir.parent.parent)))


@lru_cache(maxsize=256)
def _stack_directories(stack_dir: Path, _stamp: float) -> tuple[Path, ...]:
    seen: set[Path] = set()
    pending = [stack_dir]
    while pending:
        directory = pending.pop()
        if directory in seen:
            continue
        if not directory.is_dir():
            raise UsageError(f"{directory}: module directory does not exist")
        seen.add(directory)
        pending.extend(local_module_dirs(directory))
    return tuple(sorted(seen))


def _tree_stamp(terraform_dir: Path) -> float:
    """Changes when any .tf file under terraform/ changes (cache key)."""
    return max((p.stat().st_mtime for p in terraform_dir.rglob("*.tf")), default=0.0)


def stack_files(terraform_dir: Path, stack_dir: Path) -> dict[str, Path]:
    """Every file of the stack and its modules, keyed by path relative to terraform/."""
    files: dict[str, Path] = {}
    for directory in stack_directories(stack_dir):
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.name.endswith(TERRAFORM_SUFFIXES):
                files[path.relative_to(terraform_dir.resolve()).as_posix()] = path
    return files
