"""Terraform source as blocks and arguments, each with its line, and each argument's value
as a `Literal` where it is one: what `tf-validate` holds against a provider's schema.

Read with python-hcl2's rule tree (`hcl2.parses`), which keeps the positions its
serialized dicts drop. An argument whose value is an expression (a reference, a function
call, a template with interpolations, a conditional …) has no literal: only Terraform
knows its value, so nothing is said about its type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule
from hcl2.rules.containers import ObjectRule, TupleRule
from hcl2.rules.expressions import ExprTermRule, UnaryOpRule
from hcl2.rules.literal_rules import FloatLitRule, IntLitRule, LiteralValueRule
from hcl2.rules.strings import HeredocTemplateRule, StringRule

from ephemera.errors import UsageError

_AS_VALUE = hcl2.SerializationOptions(strip_string_quotes=True)


@dataclass(frozen=True)
class Literal:
    """A literal value: kind string | number | bool | null | tuple | object.

    `value` is the string's or number's value (None for a string whose text is not known,
    such as a template or a heredoc); `items` the elements of a tuple and the (key, value)
    pairs of an object, each a Literal or None (an expression)."""

    kind: str
    value: Any = None
    items: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.kind == "string" and isinstance(self.value, str):
            shown = self.value if len(self.value) <= 40 else self.value[:37] + "…"
            return f'the string "{shown}"'
        if self.kind in ("number", "bool") and self.value is not None:
            return f"the {self.kind} {self.value}"
        return {"string": "a string", "tuple": "a list", "object": "an object"}.get(
            self.kind, f"a {self.kind}"
        )


@dataclass(frozen=True)
class Argument:
    name: str
    line: int
    literal: Literal | None  # None: an expression


@dataclass
class Block:
    """`type "label" … { arguments and blocks }`, at `line` of its file."""

    type: str
    labels: tuple[str, ...]
    line: int
    arguments: dict[str, Argument] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)

    def blocks_of(self, block_type: str) -> list[Block]:
        return [b for b in self.blocks if b.type == block_type]


class HclSyntaxError(UsageError):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.detail = message
        super().__init__(f"{line}: {message}")


def parse_file(path: Path) -> list[Block]:
    """The top-level blocks of a .tf file; HclSyntaxError when it does not parse."""
    try:
        tree = hcl2.parses(path.read_text(encoding="utf-8"))
    except Exception as exc:  # lark raises several unrelated types
        line = getattr(exc, "line", 0)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise HclSyntaxError(line if isinstance(line, int) and line > 0 else 1, first) from None
    return _body(tree.body)[1]


def _body(body: Any) -> tuple[dict[str, Argument], list[Block]]:
    arguments: dict[str, Argument] = {}
    blocks: list[Block] = []
    for child in body.children:
        if isinstance(child, AttributeRule):
            name = str(child.identifier.serialize())
            arguments.setdefault(name, Argument(name, _line(child), literal(child.expression)))
        elif isinstance(child, BlockRule):
            inner_arguments, inner_blocks = _body(child.body)
            labels = tuple(_label(label) for label in child.labels[1:])
            block_type = _label(child.labels[0])
            blocks.append(Block(block_type, labels, _line(child), inner_arguments, inner_blocks))
    return arguments, blocks


def _label(rule: Any) -> str:
    text = str(rule.serialize())
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _line(rule: Any) -> int:
    return int(getattr(rule._meta, "line", 0) or 0)  # noqa: SLF001 - hcl2 keeps positions here


def literal(expression: Any) -> Literal | None:
    """The Literal an expression is, or None when it is not a literal."""
    rule = _unwrap(expression)
    if isinstance(rule, IntLitRule | FloatLitRule):
        return Literal("number", rule.serialize())
    if isinstance(rule, UnaryOpRule) and rule.operator.strip() == "-":
        inner = literal(rule.expr_term)
        if inner is not None and inner.kind == "number" and inner.value is not None:
            return Literal("number", -inner.value)
        return None
    if isinstance(rule, LiteralValueRule):
        value = rule.serialize()
        return Literal("null") if value is None else Literal("bool", value)
    if isinstance(rule, StringRule):
        return _string(rule)
    if isinstance(rule, HeredocTemplateRule):
        return Literal("string")
    if isinstance(rule, TupleRule):
        return Literal("tuple", items=tuple(literal(e) for e in rule.elements))
    if isinstance(rule, ObjectRule):
        return Literal("object", items=tuple(_object_item(e) for e in rule.elements))
    return None


def _unwrap(expression: Any) -> Any:
    while isinstance(expression, ExprTermRule):
        expression = expression.expression
    return expression


def _string(rule: StringRule) -> Literal | None:
    contents = [part.content for part in rule.string_parts]
    plain = all(not hasattr(content, "children") for content in contents)
    if plain:
        return Literal("string", rule.serialize(_AS_VALUE))
    if len(contents) == 1:
        return None  # "${x}" is x itself, of whatever type x has
    return Literal("string")  # a template: a string whose text only Terraform knows


def _object_item(element: Any) -> tuple[str | None, Literal | None]:
    key = element.key
    value = getattr(key, "value", None)
    if isinstance(value, StringRule) and (text := _string(value)) is not None:
        name = text.value
    elif value is not None and not hasattr(value, "expression"):
        name = str(value.serialize())
    else:
        name = None  # a computed key: (var.x) = …
    return name, literal(element.expression)
