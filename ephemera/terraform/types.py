"""Terraform type constraints (`list(string)`, `object({a = optional(number)})` …):
`parse_type` reads a type expression, as python-hcl2 returns it, into a `TfType`."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

PRIMITIVES = ("string", "number", "bool", "any")
COLLECTIONS = ("list", "set", "map")


@dataclass(frozen=True)
class TfType:
    """A Terraform type constraint.

    kind: string | number | bool | any | list | set | map | object | tuple.
    `element` for list/set/map; `attributes` (name → type) and `optional`
    (names of optional attributes) for object; `elements` for tuple.
    """

    kind: str
    element: TfType | None = None
    attributes: tuple[tuple[str, TfType], ...] = ()
    optional: frozenset[str] = frozenset()
    elements: tuple[TfType, ...] = ()

    def __str__(self) -> str:
        if self.kind in PRIMITIVES:
            return self.kind
        if self.kind in COLLECTIONS:
            return f"{self.kind}({self.element})"
        if self.kind == "tuple":
            return "tuple([" + ", ".join(str(e) for e in self.elements) + "])"
        attrs = ", ".join(
            f"{name} = optional({t})" if name in self.optional else f"{name} = {t}"
            for name, t in self.attributes
        )
        return "object({" + attrs + "})"


ANY = TfType("any")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
      | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
      | (?P<punct>[(){}\[\],=:])
      | (?P<other>[^\s(){}\[\],=:"]+)
    )""",
    re.VERBOSE | re.DOTALL,
)


class TypeSyntaxError(ValueError):
    pass


class _TypeParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise TypeSyntaxError(f"cannot read type expression {self.text!r}")
            kind = match.lastgroup or "other"
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def at(self, text: str) -> bool:
        """Whether the next token is `text`."""
        token = self.peek()
        return token is not None and token[1] == text

    def skip(self, text: str) -> None:
        """Take the next token if it is `text`."""
        if self.at(text):
            self.pos += 1

    def take(self, value: str | None = None) -> str:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            found = "the end" if token is None else repr(token[1])
            wanted = repr(value) if value else "more"
            raise TypeSyntaxError(f"in type {self.text!r}: expected {wanted}, found {found}")
        self.pos += 1
        return token[1]

    def parse(self) -> TfType:
        result = self.type()
        token = self.peek()
        if token is not None:
            raise TypeSyntaxError(f"in type {self.text!r}: unexpected {token[1]!r}")
        return result

    def type(self) -> TfType:
        word = self.take()
        if word.startswith('"') and word.endswith('"'):  # legacy quoted type: "string"
            word = word[1:-1]
        if word in PRIMITIVES:
            return TfType(word)
        if word in COLLECTIONS:
            self.take("(")
            element = self.type()
            self.take(")")
            return TfType(word, element=element)
        if word == "tuple":
            self.take("(")
            self.take("[")
            elements = []
            while self.peek() is not None and not self.at("]"):
                elements.append(self.type())
                self.skip(",")
            self.take("]")
            self.take(")")
            return TfType("tuple", elements=tuple(elements))
        if word == "object":
            self.take("(")
            self.take("{")
            attributes: list[tuple[str, TfType]] = []
            optional: set[str] = set()
            while self.peek() is not None and not self.at("}"):
                name = self.take()
                if name.startswith('"') and name.endswith('"'):
                    name = json.loads(name)
                if self.at(":"):
                    self.take(":")
                else:
                    self.take("=")
                if self.peek() == ("name", "optional"):
                    self.take("optional")
                    self.take("(")
                    attributes.append((name, self.type()))
                    optional.add(name)
                    if self.at(","):
                        self.take(",")
                        self.skip_expression()
                    self.take(")")
                else:
                    attributes.append((name, self.type()))
                self.skip(",")
            self.take("}")
            self.take(")")
            return TfType("object", attributes=tuple(attributes), optional=frozenset(optional))
        raise TypeSyntaxError(f"in type {self.text!r}: unknown type {word!r}")

    def skip_expression(self) -> None:
        """Skip an optional() default: everything up to the `)` that closes optional(."""
        depth = 0
        while True:
            token = self.peek()
            if token is None:
                raise TypeSyntaxError(f"in type {self.text!r}: unclosed optional(")
            if token[1] in "([{" and token[0] == "punct":
                depth += 1
            elif token[1] in ")]}" and token[0] == "punct":
                if depth == 0:
                    return
                depth -= 1
            self.pos += 1


def parse_type(expression: str | None) -> TfType:
    """A Terraform type expression (as python-hcl2 returns it) as a `TfType`.

    python-hcl2 8.x wraps non-trivial expressions as `${list(string)}`; 7.x and
    bare keywords come as `string`. A missing type is `any`.
    """
    if expression is None:
        return ANY
    if not isinstance(expression, str):
        raise TypeSyntaxError(f"cannot read type expression {expression!r}")
    text = expression.strip()
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return _TypeParser(text).parse()
