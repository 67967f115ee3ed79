"""Strict YAML loading that remembers the line of every key.

Environment files are small, hand-written mappings, so the loader refuses what
has no place in them and would only hide mistakes or cost time:

- files over 256 KiB (checked before parsing),
- anchors and aliases (refused while composing, so an alias bomb is rejected at
  its first anchor, before anything is expanded) and merge keys (`<<`),
- duplicate keys, keys that are not strings, custom tags,
- more than one document, and (for environment files) a top-level value that
  is not a mapping.

Every finding becomes a `Problem` (`file:line: key.path: message`); all the
findings of one file are raised together as a `ValidationError`.

The result is a `Document`: plain data (dicts, lists, scalars) plus the line of
every key and list item, addressed by key paths like `("policy", "skip", 0)`,
so later validation stages can point at the line of `policy.skip[0].reason`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from ephemera.errors import Problem, ValidationError

MAX_BYTES = 256 * 1024
MAX_DEPTH = 64

KeyPath = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def format_path(path: Iterable[str | int]) -> str:
    """`("policy", "skip", 0, "reason")` → `policy.skip[0].reason`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def type_name(value: Any) -> str:
    """The YAML-ish name of a loaded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    if isinstance(value, datetime):
        return "timestamp"
    if isinstance(value, date):
        return "date"
    if isinstance(value, bytes):
        return "binary"
    return type(value).__name__


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: its data and the 1-based line of every key path.

    `lines[()]` is the line where the top-level value starts.
    """

    path: Path
    display: str  # the path as shown in messages, e.g. environments/qa.yaml
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of exactly this key path, or None when it is not in the file."""
        return self.lines.get(tuple(path))

    def closest_line(self, path: KeyPath) -> int:
        """The line of `path`, or of its closest parent present in the file."""
        path = tuple(path)
        for n in range(len(path), -1, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                return line
        return 1

    def problem(self, path: KeyPath, message: str) -> Problem:
        return Problem(self.display, self.closest_line(path), format_path(path), message)


class _Refused(yaml.MarkedYAMLError):
    """A construct the strict loader refuses (anchor, alias, nesting too deep)."""


class _StrictComposer(Composer):
    """A composer that refuses anchors and aliases as soon as the parser reports them."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.get_event()
            raise _Refused(
                problem=f"YAML aliases (*{event.anchor}) are not allowed; write the value out",
                problem_mark=event.start_mark,
            )
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            raise _Refused(
                problem=f"YAML anchors (&{event.anchor}) are not allowed; write the value out",
                problem_mark=event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"nested more than {MAX_DEPTH} levels deep",
                    problem_mark=event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _PyStrictLoader(_StrictComposer, yaml.SafeLoader):
    pass


try:
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    CParser = None

if CParser is not None:
    # libyaml scans and parses; composing (where anchors are refused) stays in Python.
    class _CStrictLoader(_StrictComposer, CParser, SafeConstructor, Resolver):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

    _Loader: type = _CStrictLoader
else:  # pragma: no cover - depends on how PyYAML was built
    _Loader = _PyStrictLoader


def _compose_single(loader: Any) -> Node | None:
    """The root node of the only document in the stream (None for an empty stream)."""
    loader.get_event()  # stream start
    node = None
    if not loader.check_event(yaml.StreamEndEvent):
        node = loader.compose_document()
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise _Refused(
            problem="more than one YAML document (a second '---'); write one environment per file",
            problem_mark=event.start_mark,
        )
    return node


class _Builder:
    """Turns a node tree into plain data, recording lines and collecting problems."""

    def __init__(self, loader: Any, display: str) -> None:
        self.loader = loader
        self.display = display
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[Problem] = []

    def refuse(self, node: Node, path: KeyPath, message: str) -> None:
        self.problems.append(
            Problem(self.display, node.start_mark.line + 1, format_path(path), message)
        )

    def build(self, node: Node, path: KeyPath) -> Any:
        if isinstance(node, ScalarNode):
            try:
                return self.loader.construct_object(node)
            except yaml.constructor.ConstructorError:
                self.refuse(node, path, f"YAML tag {_short_tag(node.tag)!r} is not allowed")
            except yaml.YAMLError as exc:
                self.refuse(node, path, _yaml_message(exc))
            return None
        if isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                self.refuse(node, path, f"YAML tag {_short_tag(node.tag)!r} is not allowed")
            items = []
            for index, child in enumerate(node.value):
                child_path = (*path, index)
                self.lines[child_path] = child.start_mark.line + 1
                items.append(self.build(child, child_path))
            return items
        if isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                self.refuse(node, path, f"YAML tag {_short_tag(node.tag)!r} is not allowed")
            mapping: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.key(key_node, path)
                if key is None:
                    continue
                key_path = (*path, key)
                line = key_node.start_mark.line + 1
                if key in mapping:
                    self.refuse(
                        key_node,
                        key_path,
                        f"duplicate key (first defined on line {self.lines[key_path]})",
                    )
                    continue
                self.lines[key_path] = line
                mapping[key] = self.build(value_node, key_path)
            return mapping
        raise AssertionError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def key(self, node: Node, path: KeyPath) -> str | None:
        if isinstance(node, ScalarNode) and node.tag == _MERGE_TAG:
            self.refuse(node, path, "YAML merge keys (<<) are not allowed; write the keys out")
            return None
        if not isinstance(node, ScalarNode):
            self.refuse(node, path, "a list or mapping as a key is not allowed")
            return None
        if node.tag != _STR_TAG:
            self.refuse(node, path, f"key {node.value!r} is not a string; quote it")
            return None
        return str(node.value)


def _short_tag(tag: str) -> str:
    prefix = "tag:yaml.org,2002:"
    return "!!" + tag[len(prefix) :] if tag.startswith(prefix) else tag


def _yaml_message(exc: yaml.YAMLError) -> str:
    if isinstance(exc, _Refused):
        return str(exc.problem)
    if isinstance(exc, yaml.MarkedYAMLError):
        context = exc.context or ""
        mark, start = exc.problem_mark, exc.context_mark
        if context and start is not None and (mark is None or start.line != mark.line):
            context += f" started on line {start.line + 1}"
        parts = [p for p in (context, exc.problem) if p]
        return "YAML syntax error: " + ", ".join(parts)
    return f"YAML error: {exc}"


def _mark_line(exc: yaml.YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else 1


def read_text(path: Path, display: str, max_bytes: int = MAX_BYTES) -> str:
    """The file's text, refusing files over `max_bytes` before reading them whole."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ValidationError([_too_big(display, size, max_bytes)])
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ValidationError([Problem(display, 1, "", "file not found")]) from None
    except IsADirectoryError:
        raise ValidationError([Problem(display, 1, "", "is a directory, not a file")]) from None
    except OSError as exc:
        raise ValidationError([Problem(display, 1, "", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > max_bytes:
        raise ValidationError([_too_big(display, len(raw), max_bytes)])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ValidationError([Problem(display, line, "", "not valid UTF-8 text")]) from None


def _too_big(display: str, size: int, limit: int) -> Problem:
    return Problem(
        display,
        1,
        "",
        f"file is {size} bytes; the limit is {limit} bytes ({limit // 1024} KiB)",
    )


def parse(text: str, display: str, path: Path | None = None) -> Document:
    """Parse YAML text strictly; raise ValidationError with every problem found."""
    loader = _Loader(text)
    try:
        try:
            root = _compose_single(loader)
        except yaml.YAMLError as exc:
            raise ValidationError(
                [Problem(display, _mark_line(exc), "", _yaml_message(exc))]
            ) from None
        except RecursionError:  # pragma: no cover - MAX_DEPTH stops this first
            raise ValidationError([Problem(display, 1, "", "nested too deeply")]) from None
        builder = _Builder(loader, display)
        if root is None:
            return Document(path or Path(display), display, None, {(): 1})
        builder.lines[()] = root.start_mark.line + 1
        data = builder.build(root, ())
        if builder.problems:
            raise ValidationError(builder.problems)
        return Document(path or Path(display), display, data, builder.lines)
    finally:
        loader.dispose()


def load(path: Path, display: str | None = None, *, require_mapping: bool = True) -> Document:
    """Read and parse one YAML file strictly (see the module docstring).

    `display` names the file in messages (default: `path` as given). With
    `require_mapping`, the top-level value must be a mapping; an empty file
    is refused too.
    """
    display = display or str(path)
    doc = parse(read_text(path, display), display, path)
    if require_mapping and not isinstance(doc.data, dict):
        if doc.data is None:
            message = "the file is empty; expected a mapping of keys like name, stack, ttl"
        else:
            message = f"expected a mapping at the top level, got a {type_name(doc.data)}"
        raise ValidationError([Problem(display, doc.lines.get((), 1), "", message)])
    return doc
