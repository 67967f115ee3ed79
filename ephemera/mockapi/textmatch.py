"""MockServer's string and multimap matching, shared by requests and bodies.

- strings (`matchers/RegexStringMatcher.java`): equal, equal ignoring case, or the
  matcher as a regex (DOTALL, case-insensitive) matching the whole value; a blank
  matcher matches anything; a negated matcher (`!x`, `"not": true`) inverts the result.
  On the control plane (filters of verify, retrieve and clear) the value is also tried
  as a regex against the matcher;
- a `{"schema": ...}` value (`model/NottableSchemaString.java`) validates the value;
- headers, query, path and form parameters (`collections/NottableStringMultiMap.java`,
  `collections/SubSetMatcher.java`): SUB_SET by default, MATCHING_KEY on request;
- cookies (`matchers/HashMapMatcher.java`): SUB_SET on (name, value) pairs.

Paths are under mockserver-core/src/main/java/org/mockserver/.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ephemera.mockapi.model import ANY_VALUE, KeyValues, MultiMap, Pattern


def string_matches(pattern: Pattern, value: str | Pattern, control: bool = False) -> bool:
    """MockServer's string match (`RegexStringMatcher.matchesByNottedStrings`).

    `value` is a Pattern only on the control plane, when a filter is matched against
    another expectation's matcher (which may itself be negated)."""
    value_negated = isinstance(value, Pattern) and value.negated
    text = value.source if isinstance(value, Pattern) else value
    if pattern.schema is not None:
        return value_negated != schema_matches(pattern.schema, text)
    found = _strings_match(pattern, text, control)
    if pattern.negated and value_negated:
        return found
    return (pattern.negated or value_negated) != found


def _strings_match(pattern: Pattern, value: str, control: bool) -> bool:
    if pattern.blank or value == pattern.source or value.casefold() == pattern.folded:
        return True
    if pattern.regex is not None and pattern.regex.fullmatch(value) is not None:
        return True
    if not control:
        return False
    try:  # the control plane also reads the value as a regex
        return re.fullmatch(value, pattern.source, re.IGNORECASE | re.DOTALL) is not None
    except re.error:
        return False


def schema_matches(validator: Any, value: str) -> bool:
    """`NottableSchemaString.matches`: a string schema validates the value as a
    string; otherwise the value is read as JSON when it is JSON, else as a string."""
    if validator.schema.get("type") == "string":
        candidate: Any = value
    else:
        try:
            candidate = json.loads(value)
        except ValueError:
            candidate = value
    return validator.is_valid(candidate)


def multimap_matches(
    expected: MultiMap, actual: Sequence[tuple[Any, Any]], control: bool = False
) -> bool:
    """`MultiValueMapMatcher.matches`: SUB_SET or MATCHING_KEY."""
    if not actual:
        names = [entry.name for entry in expected.entries]
        return all(n.negated for n in names) or all(n.optional for n in names)
    if expected.matching_key:
        return all(_matching_key(entry, actual, control) for entry in expected.entries)
    return subset_matches(expected.pairs(), actual, control)


def _matching_key(entry: KeyValues, actual: Sequence[tuple[str, Any]], control: bool) -> bool:
    """Every request value of a matching key must match one of the entry's values."""
    values = [value for name, value in actual if string_matches(entry.name, name, control)]
    if not values:
        return entry.name.optional
    patterns = entry.values or (ANY_VALUE,)
    return all(any(string_matches(p, value, control) for p in patterns) for value in values)


def subset_matches(
    expected: list[tuple[Pattern, Pattern]], actual: Sequence[tuple[str, Any]], control: bool
) -> bool:
    """`SubSetMatcher.containsSubset`: every expected pair matches some request pair,
    a negated name is absent, and the required pairs use distinct request pairs."""
    used: set[int] = set()
    required = 0
    for name, value in expected:
        hits = {
            i
            for i, (actual_name, actual_value) in enumerate(actual)
            if string_matches(name, actual_name, control)
            and string_matches(value, actual_value, control)
        }
        absent_optional = name.optional and not any(
            string_matches(name, n, control) for n, _ in actual
        )
        if (not hits and not absent_optional) or _negated_and_present(name, actual, control):
            return False
        used |= hits
        required += not name.optional and not (name.negated and not value.negated)
    return len(used) >= required


def _negated_and_present(name: Pattern, actual: Sequence[tuple[Any, Any]], control: bool) -> bool:
    """`SubSetMatcher.nottedAndPresent`: a `!name` key fails when the name is there."""
    if not name.negated:
        return False
    plain = replace(name, negated=False)
    return any(
        string_matches(plain, n, control)
        for n, _ in actual
        if not (isinstance(n, Pattern) and n.negated)
    )
