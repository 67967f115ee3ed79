"""The files a stack is made of: its own directory plus every local module it
calls, followed transitively. Used to snapshot a stack into an environment's
work directory, in CI to tell which environments a change affects, and by
`ephemera.gate.skips` to know the module path of each directory.

`module_tree` is the one place that resolves a stack's local modules;
`stack_directories` and `stack_files` are views of it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ephemera.errors import UsageError
from ephemera.terraform import hclscan

LOCAL_SOURCE_PREFIXES = ("./", "../")
TERRAFORM_SUFFIXES = (".tf", ".tf.json", ".tftpl", ".tpl", ".json", ".sh", ".py", ".lock.hcl")

_Stamp = tuple[str, int, int]  # (path, mtime_ns, size); (path, -1, -1) when missing
_CACHE_SIZE = 256
_cache: dict[Path, tuple[tuple[_Stamp, ...], dict[str, Path]]] = {}
_cache_lock = threading.Lock()


def module_calls(directory: Path) -> list[tuple[str, str]]:
    """(name, source) of each `module "name" { source = "…" }` in the directory's .tf
    files, in file order. Blocks inside strings, heredocs and comments do not count."""
    calls = []
    for path in hclscan.tf_files(directory):
        text = hclscan.read(path)
        for block in hclscan.blocks(text, "module"):
            source = hclscan.string_attribute(text, block, "source")
            if source is not None:
                calls.append((block.first, source))
    return calls


def module_tree(stack_dir: Path) -> dict[str, Path]:
    """How the stack reaches each local module: module address → resolved directory.

    "" is the stack itself; `module "a" { source = "../../modules/a" }` in the stack is
    `module.a`, and a call of `b` inside that module is `module.a.module.b`. Only local
    sources (`./…`, `../…`) are followed: a registry or git module's files are not the
    stack's. A directory called twice is there under both addresses. A call whose
    directory does not exist is listed but not followed (`stack_directories` refuses
    it); a call back into a directory on its own path (a cycle) is left out. Sorted by
    address. Cached per stack, and re-read when any directory or .tf file it read
    changes.
    """
    root = stack_dir.resolve()
    with _cache_lock:
        cached = _cache.get(root)
    if cached is not None and all(_stamp(Path(s[0])) == s for s in cached[0]):
        return dict(cached[1])
    tree, stamps = _walk(root)
    with _cache_lock:
        _cache.pop(root, None)
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[root] = (stamps, tree)
    return dict(tree)


def _walk(root: Path) -> tuple[dict[str, Path], tuple[_Stamp, ...]]:
    tree: dict[str, Path] = {}
    stamps: dict[str, _Stamp] = {}
    pending: list[tuple[str, Path, tuple[Path, ...]]] = [("", root, ())]
    while pending:
        address, directory, ancestors = pending.pop()
        tree[address] = directory
        stamps.setdefault(str(directory), _stamp(directory))
        if not directory.is_dir():
            continue
        for path in hclscan.tf_files(directory):
            stamps.setdefault(str(path), _stamp(path))
        path_here = (*ancestors, directory)
        prefix = f"{address}." if address else ""
        for name, source in module_calls(directory):
            if not source.startswith(LOCAL_SOURCE_PREFIXES):
                continue  # registry, git …: its files are not ours
            child = (directory / source).resolve()
            if child not in path_here:
                pending.append((f"{prefix}module.{name}", child, path_here))
    return dict(sorted(tree.items())), tuple(stamps.values())


def _stamp(path: Path) -> _Stamp:
    try:
        stat = path.stat()
    except OSError:
        return (str(path), -1, -1)
    return (str(path), stat.st_mtime_ns, stat.st_size)


def stack_directories(stack_dir: Path) -> list[Path]:
    """The stack directory and every local module directory it reaches, sorted; a
    UsageError when one of them does not exist."""
    directories = set(module_tree(stack_dir).values())
    for directory in sorted(directories):
        if not directory.is_dir():
            raise UsageError(f"{directory}: module directory does not exist")
    return sorted(directories)


def stack_files(terraform_dir: Path, stack_dir: Path) -> dict[str, Path]:
    """Every file of the stack and its modules, keyed by path relative to terraform/."""
    files: dict[str, Path] = {}
    for directory in stack_directories(stack_dir):
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.name.endswith(TERRAFORM_SUFFIXES):
                files[path.relative_to(terraform_dir.resolve()).as_posix()] = path
    return files
