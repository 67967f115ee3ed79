"""JSON Schema errors in user terms: (key path, message) pairs such as
`unknown key 'tll' (did you mean 'ttl'?)` or `'8 hours' is not a duration like 30m`."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ephemera.config.schema import DEFAULTS_ONLY, PATTERN_HINTS
from ephemera.config.yamlload import KeyPath, type_name

if TYPE_CHECKING:
    from jsonschema import ValidationError as SchemaError

_JSON_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "whole number",
    "boolean": "bool (true or false)",
    "object": "mapping",
    "array": "list",
    "null": "null",
}


def closest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {type_name(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_messages(error: SchemaError) -> list[tuple[KeyPath, str]]:
    """(key path, message) pairs for one JSON Schema error, in user terms."""
    path: KeyPath = tuple(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    if "propertyNames" in error.absolute_schema_path:
        key_path = (*path, instance)
        if kind == "pattern":
            return [(key_path, "reserved tag key: Ephemera sets it itself")]
        if kind == "maxLength":
            return [(key_path, f"tag key longer than {value} characters")]
        return [(key_path, "tag key may not be empty")]
    if kind == "additionalProperties" and value is False:
        known = error.schema.get("properties", {})
        return [
            (
                (*path, key),
                f"unknown key{closest(str(key), known)}; allowed: {', '.join(sorted(known))}",
            )
            for key in instance
            if key not in known
        ]
    if kind == "required":
        out = []
        for key in value:
            if key not in instance:
                hint = (
                    "; set it in environments/_defaults.yaml"
                    if key in DEFAULTS_ONLY and not path
                    else ""
                )
                out.append(((*path, key), f"required key missing{hint}"))
        return out
    if kind == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        names = " or ".join(_JSON_TYPES.get(t, t) for t in wanted)
        got = _shown(instance)
        if not isinstance(instance, dict | list):
            got = f"{type_name(instance)} {got}"
        return [(path, f"expected {names}, got {got}")]
    if kind == "enum":
        choices = ", ".join(str(c) for c in value)
        return [(path, f"must be one of: {choices} (got {_shown(instance)})")]
    if kind == "pattern":
        hint = PATTERN_HINTS.get(value, f"does not match {value}")
        return [(path, f"{_shown(instance)} {hint}")]
    if kind == "maxLength":
        return [(path, f"longer than {value} characters")]
    if kind == "minLength":
        return [(path, "may not be empty" if value == 1 else f"shorter than {value} characters")]
    if kind == "minimum":
        return [(path, f"must be at least {value} (got {_shown(instance)})")]
    if kind == "uniqueItems":
        return [(path, "has duplicate items")]
    return [(path, error.message)]
