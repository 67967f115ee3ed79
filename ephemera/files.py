"""Private files: written atomically with mode 0600, and the small JSON files Ephemera
keeps beside its work (the caches of parsed or computed results, the fingerprints).

Atomic: the text goes to a temporary file in the same directory, which then replaces
the target, so a reader (another command, a thread of ci-plan) sees the old file or the
new one, never half of one, and a process killed mid-write leaves the old file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, mode 0600 (created so, never world-readable), atomically."""
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: Any) -> None:
    """`data` as JSON in `path` (its directory created, 0700), atomically, 0600."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(path, json.dumps(data, indent=1, sort_keys=True))


def keep_json(path: Path, data: Any) -> None:
    """`write_json` for a cache: best effort, since a cache that cannot be written only
    costs the next command the work it saves."""
    with contextlib.suppress(OSError, TypeError, ValueError):
        write_json(path, data)


def stat_stamp(path: Path) -> str:
    """`size:mtime_ns` of the file (symlinks followed), "missing" when there is none:
    what changes when the file does, for the fingerprints of what depends on it."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


@functools.cache
def code_digest(*modules: str) -> str:
    """sha256 over the files of `modules` (a package: every file in its folder, its
    grammar files included) by name, size and modification time, found without
    importing them: part of every disk cache's key whose answer that code computes, so
    an upgrade or an edit of it is a cache miss, never a stale answer. (Stats, not
    contents: reading hcl2 and lark would cost a command 80 ms.)"""
    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin) if spec is not None and spec.origin else None
        if origin is None:
            digest.update(f"{name}: not found\0".encode())
            continue
        package = spec.submodule_search_locations is not None
        for source in _sources(origin.parent) if package else [origin]:
            where = source.relative_to(origin.parent)
            digest.update(f"{name}/{where}:{stat_stamp(source)}\0".encode())
    return digest.hexdigest()


def _sources(folder: Path) -> list[Path]:
    found = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(top) / n for n in sorted(names) if not n.endswith(".pyc")]
    return found


class FileMemo(Generic[T]):
    """What was computed from a file, kept in this process while the file's modification
    time and size are unchanged: 1,000 environments of one stack read its files once."""

    def __init__(self) -> None:
        self._kept: dict[Path, tuple[tuple[int, int], T]] = {}

    def get(self, path: Path, compute: Callable[[], T], missing: T) -> T:
        """`compute()` for this version of `path`, once; `missing` when it is not there."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return missing
        version = (stat.st_mtime_ns, stat.st_size)
        kept = self._kept.get(path)
        if kept is not None and kept[0] == version:
            return kept[1]
        value = compute()
        self._kept[path] = (version, value)
        return value

    def clear(self) -> None:
        self._kept.clear()
