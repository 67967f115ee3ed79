"""A small scanner of HCL source: the top-level blocks of a `.tf` file, their nested
braces, their comments and their string attributes.

Not a parser: it knows just enough of HCL (strings with `${ … }` templates, heredocs,
`#`, `//` and `/* */` comments) that a brace or a `module`/`resource` header inside a
string, a heredoc or a comment is not mistaken for code. Used by `ephemera.terraform.stackfiles`
(which local modules a directory calls) and `ephemera.gate.skips` (the skip comments
inside resource blocks).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

_BLOCK_HEADER = re.compile(
    r'^[ \t]*(?P<kind>resource|module|data)[ \t]+"(?P<first>[^"\n]+)"'
    r'(?:[ \t]+"(?P<second>[^"\n]+)")?[ \t]*\{',
    re.MULTILINE,
)
_HEREDOC = re.compile(r"<<-?(?P<marker>[A-Za-z_][A-Za-z0-9_-]*)[ \t]*\r?\n")
_STRING_ATTRIBUTE = r'^[ \t]*{name}[ \t]*=[ \t]*"(?P<value>[^"\n]*)"'


class Block(NamedTuple):
    """A top-level `kind "first" ["second"] { … }` block of an HCL text."""

    first: str  # the first label: the resource type, the module name
    second: str | None  # the second label: the resource name
    start: int  # position of the opening brace
    end: int  # position of the closing brace
    nested: list[tuple[int, int]]  # brace spans inside
    comments: list[tuple[int, str]]  # (position, text) of the comments inside


def tf_files(directory: Path) -> list[Path]:
    """The `.tf` files of one directory (not of its subdirectories), sorted."""
    return sorted(p for p in directory.glob("*.tf") if p.is_file())


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def blocks(text: str, kind: str) -> list[Block]:
    """The top-level `kind "…" ["…"] { … }` blocks of an HCL text (kind: resource, data
    or module)."""
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
            Block(header.group("first"), header.group("second"), opening, closing, nested, inside)
        )
    return found


def comments(text: str) -> list[tuple[int, str]]:
    """(position, text) of every comment of an HCL text: `#` and `//` to the end of the
    line, `/* … */` whole. Text in strings and heredocs is not a comment."""
    return _lex(text)[1]


def string_attribute(text: str, block: Block, name: str) -> str | None:
    """The value of `name = "…"` set directly in `block` (not in a nested block), or None
    when it is not a plain string literal there."""
    pattern = re.compile(_STRING_ATTRIBUTE.format(name=re.escape(name)), re.MULTILINE)
    for found in pattern.finditer(text, block.start, block.end):
        if not any(a < found.start() < b for a, b in block.nested):
            return found.group("value")
    return None


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
