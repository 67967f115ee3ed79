"""Environment documents: one file loaded strictly, `_defaults.yaml` (cached per file
version), the deep merge of the two, and where each key of the merge came from."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephemera.config import yamlload
from ephemera.config.yamlload import Document, KeyPath, format_path
from ephemera.errors import Problem
from ephemera.files import FileMemo
from ephemera.project import Project


def load_document(path: Path, display: str | None = None) -> Document:
    """One environment (or defaults) file, loaded strictly with the line of every
    key; the top level must be a mapping. Raises ValidationError."""
    return yamlload.load(Path(path), display, require_mapping=True)


_DEFAULTS: FileMemo[Document | None] = FileMemo()


def load_defaults(project: Project) -> Document | None:
    """environments/_defaults.yaml (None when absent), cached per file version."""
    path = project.defaults_file
    return _DEFAULTS.get(path, lambda: load_document(path, project.relative(path)), None)


def merged_document(project: Project, name: str) -> dict[str, Any]:
    """environments/<name>.yaml merged over _defaults.yaml, not validated: for a command
    that reads one setting of every environment (`ttl`'s warning horizon) and must not
    pay a validation per file. ValidationError when a file is not readable YAML."""
    defaults = load_defaults(project)
    document = load_document(project.environment_file(name), f"environments/{name}.yaml")
    return deep_merge(defaults.data if defaults else {}, document.data)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge recursively, anything else (lists
    included) is replaced. Neither argument is modified; the result shares nothing
    with `base`."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class SourceFiles:
    """The two files behind a merged document, to place problems at their lines."""

    env: Document
    defaults: Document | None

    def locate(self, path: KeyPath) -> tuple[str, int]:
        """The file and line of `path`, or of its closest parent present in a file.
        The environment file wins where both have the key (as in the merge)."""
        path = tuple(path)
        for n in range(len(path), 0, -1):
            prefix = path[:n]
            line = self.env.lines.get(prefix)
            if line is not None:
                return self.env.display, line
            if self.defaults is not None:
                line = self.defaults.lines.get(prefix)
                if line is not None:
                    return self.defaults.display, line
        return self.env.display, self.env.lines.get((), 1)

    def problem(self, path: KeyPath, message: str) -> Problem:
        file, line = self.locate(path)
        return Problem(file, line, format_path(path), message)

    def defaults_problem(self, path: KeyPath, message: str) -> Problem:
        """A problem that belongs to _defaults.yaml (when there is one)."""
        if self.defaults is None:
            return self.problem(path, message)
        return self.defaults.problem(path, message)


def may_spell(path: Path, words: set[str]) -> bool:
    """Whether the YAML file's text could hold one of `words`: it has one, or an escape
    (which could spell anything); an unreadable file that is there could too. A cheap
    test before parsing a file for what few files say."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return path.exists()
    return "\\" in text or any(word in text for word in words)
