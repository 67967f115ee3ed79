"""Encode Python values as HCL literals for tfvars and backend files.

Strings are escaped, and `${` / `%{` are doubled so that a value from YAML is
never evaluated as a Terraform template: `${file("/etc/passwd")}` arrives in
Terraform as exactly that text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SPECIAL = re.compile(r'[\\"\n\r\t]|[\x00-\x1f\x7f]|\$\{|%\{')
_INDENT = "  "


def _escape(match: re.Match[str]) -> str:
    text = match.group(0)
    if text in ("${", "%{"):
        return text[0] + text  # $${ and %%{ are the literal forms
    return _ESCAPES.get(text) or f"\\u{ord(text):04x}"


def quote(text: str) -> str:
    """A quoted HCL string literal whose value is exactly `text`."""
    return '"' + _SPECIAL.sub(_escape, text) + '"'


def literal(value: Any, depth: int = 0) -> str:
    """`value` (None, bool, number, str, list, mapping) as an HCL expression."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written as an HCL number")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Mapping):
        return _object(value, depth)
    if isinstance(value, list | tuple):
        return _list(value, depth)
    raise TypeError(f"{type(value).__name__} values cannot be written as HCL")


def _list(items: list[Any] | tuple[Any, ...], depth: int) -> str:
    if not items:
        return "[]"
    inner = _INDENT * (depth + 1)
    body = "".join(f"{inner}{literal(item, depth + 1)},\n" for item in items)
    return f"[\n{body}{_INDENT * depth}]"


def _object(mapping: Mapping[Any, Any], depth: int) -> str:
    if not mapping:
        return "{}"
    inner = _INDENT * (depth + 1)
    body = "".join(
        f"{inner}{quote(str(key))} = {literal(item, depth + 1)}\n" for key, item in mapping.items()
    )
    return f"{{\n{body}{_INDENT * depth}}}"
