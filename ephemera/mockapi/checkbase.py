"""What every part of the expectation checker shares: JSON paths in messages, the
problem list, and MockServer's string matchers and multimaps.

A string matcher is a string (`"GET"`, `"!GET"`, `"?X-Opt"`, `"?!X"`) or an object
`{"not": true, "optional": true, "value": "GET"}` or `{"schema": {...}}`
(mockserver-core/.../serialization/deserializers/string/NottableStringDeserializer.java).
A multimap (headers, query, path or form parameters) is `{"name": ["v", ...]}` (a
value may be a single string, `keyMatchStyle` picks the match style) or
`[{"name": "n", "values": ["v"]}]` (.../collections/KeysToMultiValuesDeserializer.java).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from jsonschema import SchemaError, validators

from ephemera.mockapi.model import KeyValues, MultiMap, Pattern

UNSUPPORTED = "not supported by the local mock API"
KEY_MATCH_STYLES = ("SUB_SET", "MATCHING_KEY")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def key(where: str, name: str) -> str:
    """`where.name`, or `where["odd name"]` for a name that is not an identifier."""
    part = name if _PLAIN_KEY.fullmatch(name) else f"[{json.dumps(name)}]"
    if not where:
        return part
    return f"{where}{part}" if part.startswith("[") else f"{where}.{part}"


def index(where: str, i: int) -> str:
    return f"{where}[{i}]"


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def schema_validator(schema: Any) -> Any:
    """A jsonschema validator, draft 7 unless `$schema` names another (as MockServer's
    networknt validator); raises SchemaError for a schema that is not one."""
    if not isinstance(schema, dict | bool):
        raise SchemaError("a JSON schema must be an object")
    cls = validators.validator_for(schema, default=validators.Draft7Validator)
    cls.check_schema(schema)
    return cls(schema)


class CheckBase:
    """Collects problems as `file: json.path: message`."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.file}: {where or '(document)'}: {message}")

    def unsupported(self, obj: dict[str, Any], where: str, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in obj:
            if name not in allowed:
                self.problem(key(where, name), UNSUPPORTED)

    def flag(self, obj: dict[str, Any], name: str, where: str) -> bool:
        value = obj.get(name, False)
        if not isinstance(value, bool):
            self.problem(key(where, name), "must be true or false")
            return False
        return value

    # string matchers -----------------------------------------------------------------

    def pattern(self, value: Any, where: str, *, prefixes: bool = True) -> Pattern | None:
        """A string matcher; `prefixes`: a leading `!` negates, `?` makes a key optional."""
        if isinstance(value, dict):
            return self.pattern_object(value, where)
        if not isinstance(value, str):
            self.problem(where, "must be a string")
            return None
        negated = optional = False
        while prefixes and value[:1] in ("!", "?") and len(value) > 1:
            negated, optional = negated or value[0] == "!", optional or value[0] == "?"
            value = value[1:]
        return self.regex(value, where, negated=negated, optional=optional)

    def regex(self, text: str, where: str, **flags: bool) -> Pattern | None:
        try:
            return Pattern.compile(text, **flags)
        except re.error as exc:
            self.problem(
                where,
                f"invalid regular expression ({exc}); escape special characters "
                "to match them literally",
            )
            return None

    def pattern_object(self, obj: dict[str, Any], where: str) -> Pattern | None:
        self.unsupported(obj, where, ("not", "optional", "value", "schema"))
        negated = self.flag(obj, "not", where)
        optional = self.flag(obj, "optional", where)
        if "schema" in obj:
            try:
                validator = schema_validator(obj["schema"])
            except SchemaError as exc:
                self.problem(key(where, "schema"), f"not a valid JSON schema: {exc.message}")
                return None
            source = json.dumps(obj["schema"], sort_keys=True)
            return Pattern(source, None, negated, optional, validator, source.casefold())
        if not isinstance(obj.get("value"), str):
            self.problem(key(where, "value"), "must be a string")
            return None
        return self.regex(obj["value"], key(where, "value"), negated=negated, optional=optional)

    # multimaps -------------------------------------------------------------------------

    def multimap(self, value: Any, where: str) -> list[tuple[Any, str, list[tuple[Any, str]]]]:
        """Both MockServer forms -> [(name, where, [(value, where)])], shapes checked."""
        entries: list[tuple[Any, str, list[tuple[Any, str]]]] = []
        if isinstance(value, dict):
            for name, values in value.items():
                if name == "keyMatchStyle":
                    continue
                at = key(where, name)
                items = self.values(values, at)
                if items is not None:
                    entries.append((name, at, items))
        elif isinstance(value, list):
            for i, entry in enumerate(value):
                at = index(where, i)
                if not isinstance(entry, dict):
                    self.problem(at, 'must be an object {"name": ..., "values": [...]}')
                    continue
                self.unsupported(entry, at, ("name", "values"))
                name = entry.get("name")
                if not isinstance(name, str | dict):
                    self.problem(key(at, "name"), "must be a string")
                    continue
                items = self.values(entry.get("values", []), key(at, "values"))
                if items is not None:
                    entries.append((name, at, items))
        else:
            self.problem(where, 'must be an object or a list of {"name", "values"} objects')
        return entries

    def values(self, values: Any, where: str) -> list[tuple[Any, str]] | None:
        if isinstance(values, str | dict):
            return [(values, where)]
        if isinstance(values, list) and all(isinstance(v, str | dict) for v in values):
            return [(v, index(where, i)) for i, v in enumerate(values)]
        self.problem(where, "must be a string or a list of strings")
        return None

    def key_values(self, value: Any, where: str) -> MultiMap:
        """A request multimap: every name and value a string matcher."""
        result: list[KeyValues] = []
        for name, at, values in self.multimap(value, where):
            name_pattern = self.pattern(name, at)
            patterns = [self.pattern(v, v_at, prefixes=True) for v, v_at in values]
            if name_pattern is not None and all(p is not None for p in patterns):
                result.append(KeyValues(name_pattern, tuple(p for p in patterns if p)))
        return MultiMap(tuple(result), self.key_match_style(value, where))

    def key_match_style(self, value: Any, where: str) -> bool:
        """True for MATCHING_KEY; only the object form can carry keyMatchStyle."""
        if not isinstance(value, dict) or "keyMatchStyle" not in value:
            return False
        style = value["keyMatchStyle"]
        if style not in KEY_MATCH_STYLES:
            self.problem(
                key(where, "keyMatchStyle"), f"must be one of {', '.join(KEY_MATCH_STYLES)}"
            )
        return style == "MATCHING_KEY"

    def cookies(self, value: Any, where: str) -> tuple[tuple[Pattern, Pattern], ...]:
        """`{"name": "value"}` or `[{"name": ..., "value": ...}]` (no multi-values)."""
        pairs: list[tuple[Any, str, Any, str]] = []
        if isinstance(value, dict):
            pairs = [(n, key(where, n), v, key(where, n)) for n, v in value.items()]
        elif isinstance(value, list):
            for i, entry in enumerate(value):
                at = index(where, i)
                if not isinstance(entry, dict):
                    self.problem(at, 'must be an object {"name": ..., "value": ...}')
                    continue
                self.unsupported(entry, at, ("name", "value"))
                pairs.append((entry.get("name"), key(at, "name"), entry.get("value", ""), at))
        else:
            self.problem(where, 'must be an object or a list of {"name", "value"} objects')
        result = []
        for name, name_at, cookie_value, value_at in pairs:
            name_pattern = self.pattern(name, name_at)
            value_pattern = self.pattern(cookie_value, value_at)
            if name_pattern is not None and value_pattern is not None:
                result.append((name_pattern, value_pattern))
        return tuple(result)
