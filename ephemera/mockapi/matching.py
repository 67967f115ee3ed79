"""Pure functions: does a request match an expectation's request matcher?

The rules are MockServer's (see the package docstring); nothing here has state, so
each rule is tested on its own in tests/mockapi/test_matching.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ephemera.mockapi.model import (
    BodyMatcher,
    JsonBody,
    KeyValues,
    Pattern,
    RequestMatcher,
    StringBody,
)


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request that matching looks at, independent of werkzeug."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


def request_matches(matcher: RequestMatcher, request: Request) -> bool:
    return (
        (matcher.method is None or string_matches(matcher.method, request.method))
        and (matcher.path is None or string_matches(matcher.path, request.path))
        and key_values_match(matcher.query, request.query)
        and key_values_match(matcher.headers, request.headers)
        and body_matches(matcher.body, request.body)
    )


def string_matches(pattern: Pattern, value: str) -> bool:
    """Equal, or the pattern as a regex matching the whole value; both ignoring case.

    MockServer compares exactly first and then retries ignoring case (so that names
    lower-cased by web containers still match); the net effect is case-insensitive.
    A blank pattern matches anything, as in MockServer.
    """
    if not pattern.source.strip():
        return True
    return (
        value.casefold() == pattern.source.casefold() or pattern.regex.fullmatch(value) is not None
    )


def key_values_match(expected: Sequence[KeyValues], actual: Sequence[tuple[str, str]]) -> bool:
    """Each expected name is present and each of its expected values matches one actual
    value of that name; extra names and values in the request are allowed."""
    for entry in expected:
        values = [value for name, value in actual if string_matches(entry.name, name)]
        if not values:
            return False
        for pattern in entry.values:
            if not any(string_matches(pattern, value) for value in values):
                return False
    return True


def body_matches(expected: BodyMatcher | None, body: bytes) -> bool:
    if expected is None:
        return True
    if isinstance(expected, StringBody):
        wanted = expected.text.encode("utf-8")
        return wanted in body if expected.substring else body == wanted
    assert isinstance(expected, JsonBody)
    try:
        actual = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not text): no match
        return False
    return json_matches(expected.expected, actual, strict=expected.strict)


def json_matches(expected: Any, actual: Any, *, strict: bool = False) -> bool:
    """MockServer's JSON body comparison.

    Lenient (ONLY_MATCHING_FIELDS): `actual` may have extra object fields; arrays
    match in any order and may have extra items, each expected item matching a
    different actual item. Strict: same fields, same array length and order.
    Numbers compare by value (1 == 1.0); booleans are not numbers.
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        if strict and expected.keys() != actual.keys():
            return False
        return all(
            name in actual and json_matches(value, actual[name], strict=strict)
            for name, value in expected.items()
        )
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return False
        if strict:
            return len(expected) == len(actual) and all(
                json_matches(e, a, strict=True) for e, a in zip(expected, actual, strict=True)
            )
        return _items_contained(expected, actual)
    return _scalar_equal(expected, actual)


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return expected == actual
    return type(expected) is type(actual) and expected == actual


def _items_contained(expected: list[Any], actual: list[Any]) -> bool:
    """Every expected item matches a distinct actual item, in any order.

    A greedy pass can pair an item with the wrong partner ([{"a": 1}, {"a": 1, "b": 2}]
    against [{"a": 1, "b": 2}, {"a": 1}]), so this is a bipartite matching (augmenting
    paths); arrays in expectations are small.
    """
    if len(expected) > len(actual):
        return False
    candidates = [
        [j for j, item in enumerate(actual) if json_matches(wanted, item)] for wanted in expected
    ]
    owner: dict[int, int] = {}  # actual index -> expected index

    def assign(i: int, visited: set[int]) -> bool:
        for j in candidates[i]:
            if j in visited:
                continue
            visited.add(j)
            if j not in owner or assign(owner[j], visited):
                owner[j] = i
                return True
        return False

    return all(assign(i, set()) for i in range(len(expected)))
