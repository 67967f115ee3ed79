"""Each matching rule, with requests that must match and requests that must not."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ephemera.mockapi.bodies import json_matches
from ephemera.mockapi.expectations import parse
from ephemera.mockapi.matching import Request, request_matches
from ephemera.mockapi.model import Pattern, RequestMatcher
from ephemera.mockapi.textmatch import string_matches


def matcher(http_request: dict[str, Any]) -> RequestMatcher:
    """The request matcher of one expectation, through the real parser."""
    text = json.dumps({"httpRequest": http_request, "httpResponse": {}})
    return parse(text, "test.json")[0].request


def get(path: str = "/", **kwargs: Any) -> Request:
    return Request(method=kwargs.pop("method", "GET"), path=path, **kwargs)


# strings: method and path ------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("/pets", "/pets", True),
        ("/pets", "/pets/1", False),  # equality, not a prefix
        ("/pets/[0-9]+", "/pets/42", True),
        ("/pets/[0-9]+", "/pets/42/toys", False),  # the regex must match the whole path
        ("/pets/[0-9]+", "/x/pets/42", False),
        ("/pets/\\d+", "/pets/abc", False),
        ("/pets.*", "/pets/anything", True),
        ("/Pets", "/pets", True),  # MockServer retries ignoring case
        ("/a+b", "/a+b", True),  # equal, although the regex alone would not match
        ("", "/anything", True),  # a blank matcher matches anything
    ],
)
def test_string_matches_equal_or_full_regex(pattern: str, value: str, expected: bool) -> None:
    assert string_matches(Pattern.compile(pattern), value) is expected


def test_method_and_path() -> None:
    m = matcher({"method": "GET|HEAD", "path": "/pets/[0-9]+"})
    assert request_matches(m, get("/pets/7"))
    assert request_matches(m, get("/pets/7", method="HEAD"))
    assert not request_matches(m, get("/pets/7", method="POST"))
    assert not request_matches(m, get("/pets/seven"))


def test_an_empty_matcher_matches_every_request() -> None:
    assert request_matches(matcher({}), get("/x", method="DELETE", body=b"anything"))


# query string parameters -------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"species": ["cat"]},
        {"species": "cat"},  # a single string
        [{"name": "species", "values": ["cat"]}],  # the array form
        {"species": ["c.t"]},  # a regex value
        {"SPECIES": ["CAT"]},  # case-insensitive, as MockServer
    ],
)
def test_query_parameter_forms(query: Any) -> None:
    m = matcher({"queryStringParameters": query})
    assert request_matches(m, get(query=(("species", "cat"),)))
    assert request_matches(m, get(query=(("species", "cat"), ("extra", "1"))))  # extras ok
    assert not request_matches(m, get(query=(("species", "dog"),)))
    assert not request_matches(m, get(query=(("kind", "cat"),)))
    assert not request_matches(m, get())


def test_query_value_must_match_whole_value() -> None:
    m = matcher({"queryStringParameters": {"id": ["[0-9]"]}})
    assert request_matches(m, get(query=(("id", "7"),)))
    assert not request_matches(m, get(query=(("id", "77"),)))


def test_every_listed_value_must_be_present() -> None:
    m = matcher({"queryStringParameters": {"tag": ["a", "b"]}})
    assert request_matches(m, get(query=(("tag", "b"), ("tag", "c"), ("tag", "a"))))
    assert not request_matches(m, get(query=(("tag", "a"),)))


def test_a_name_without_values_only_has_to_be_present() -> None:
    m = matcher({"queryStringParameters": [{"name": "debug", "values": []}]})
    assert request_matches(m, get(query=(("debug", ""),)))
    assert not request_matches(m, get(query=(("verbose", "1"),)))


# headers -----------------------------------------------------------------------------


def test_header_names_are_case_insensitive() -> None:
    m = matcher({"headers": {"Authorization": ["Bearer demo-token"]}})
    assert request_matches(m, get(headers=(("authorization", "Bearer demo-token"),)))
    assert request_matches(m, get(headers=(("AUTHORIZATION", "Bearer demo-token"),)))
    assert not request_matches(m, get(headers=(("Authorization", "Bearer other"),)))
    assert not request_matches(m, get(headers=(("X-Authorization", "Bearer demo-token"),)))


def test_header_values_as_regex_and_array_form() -> None:
    m = matcher({"headers": [{"name": "Content-Type", "values": ["application/json.*"]}]})
    json_utf8 = (("Content-Type", "application/json; charset=utf-8"),)
    assert request_matches(m, get(headers=json_utf8))
    assert request_matches(m, get(headers=(("Host", "x"), ("Content-Type", "application/json"))))
    assert not request_matches(m, get(headers=(("Content-Type", "text/plain"),)))


def test_escaped_regex_matches_a_literal_value() -> None:
    m = matcher({"headers": {"Accept": ["\\*/\\*"]}})
    assert request_matches(m, get(headers=(("Accept", "*/*"),)))
    assert not request_matches(m, get(headers=(("Accept", "a/b"),)))


# bodies ------------------------------------------------------------------------------


def test_plain_string_body_is_an_exact_match() -> None:
    m = matcher({"body": "hello"})
    assert request_matches(m, get(body=b"hello"))
    assert not request_matches(m, get(body=b"hello world"))
    assert not request_matches(m, get(body=b"Hello"))
    assert not request_matches(m, get())


def test_string_body_exact_and_substring() -> None:
    exact = matcher({"body": {"type": "STRING", "string": "needle"}})
    assert request_matches(exact, get(body=b"needle"))
    assert not request_matches(exact, get(body=b"haystack needle haystack"))
    sub = matcher({"body": {"type": "STRING", "string": "needle", "subString": True}})
    assert request_matches(sub, get(body=b"haystack needle haystack"))
    assert not request_matches(sub, get(body=b"haystack"))


def test_string_body_compares_utf8() -> None:
    m = matcher({"body": "café"})
    assert request_matches(m, get(body="café".encode()))
    assert not request_matches(m, get(body="café".encode("latin-1")))


@pytest.mark.parametrize(
    "body",
    [
        {"type": "JSON", "json": {"name": "Polly"}},
        {"type": "JSON", "json": '{"name": "Polly"}'},  # json as a string holding JSON
        {"type": "JSON", "json": {"name": "Polly"}, "matchType": "ONLY_MATCHING_FIELDS"},
        {"name": "Polly"},  # an untyped object is a JSON matcher, as in MockServer
    ],
)
def test_json_body_only_matching_fields(body: Any) -> None:
    m = matcher({"body": body})
    assert request_matches(m, get(body=b'{"name": "Polly"}'))
    assert request_matches(m, get(body=b'{"species": "parrot", "name": "Polly"}'))
    assert not request_matches(m, get(body=b'{"name": "Tom"}'))
    assert not request_matches(m, get(body=b'{"species": "parrot"}'))
    assert not request_matches(m, get(body=b"not json"))
    assert not request_matches(m, get(body=b""))
    assert not request_matches(m, get(body=b'["Polly"]'))


def test_json_body_strict() -> None:
    m = matcher({"body": {"type": "JSON", "json": {"a": [1, 2]}, "matchType": "STRICT"}})
    assert request_matches(m, get(body=b'{"a": [1, 2]}'))
    assert not request_matches(m, get(body=b'{"a": [1, 2], "b": 3}'))  # extra field
    assert not request_matches(m, get(body=b'{"a": [2, 1]}'))  # array order
    assert not request_matches(m, get(body=b'{"a": [1, 2, 3]}'))  # extra item


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}, "d": 3}, True),  # nested extra fields
        ({"a": {"b": 1}}, {"a": {"c": 1}}, False),
        ([1, 2], [2, 1], True),  # any order
        ([1, 2], [3, 2, 1], True),  # extra items
        ([1, 1], [1, 2], False),  # each expected item needs its own actual item
        ([1, 1], [1, 2, 1], True),
        ([{"a": 1}, {"a": 1, "b": 2}], [{"a": 1, "b": 2}, {"a": 1}], True),  # not greedy
        ([], [1], True),
        ([1], [], False),
        (1, 1.0, True),  # numbers by value
        (True, 1, False),  # booleans are not numbers
        (0, False, False),
        (None, None, True),
        ({"a": None}, {}, False),  # null is not absence
        ("1", 1, False),
        ({"a": 1}, [{"a": 1}], False),
    ],
)
def test_json_lenient_semantics(expected: Any, actual: Any, result: bool) -> None:
    assert json_matches(expected, actual) is result


@pytest.mark.parametrize(
    ("expected", "actual", "result"),
    [
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, False),  # strict all the way down
        ([1, 2], [1, 2], True),
        ([1, 2], [2, 1], False),
        (1, 1.0, True),
    ],
)
def test_json_strict_semantics(expected: Any, actual: Any, result: bool) -> None:
    assert json_matches(expected, actual, strict=True) is result


def test_all_parts_must_match() -> None:
    m = matcher(
        {
            "method": "POST",
            "path": "/pets",
            "headers": {"X-Api-Key": "k"},
            "queryStringParameters": {"dry": "true"},
            "body": {"name": "Polly"},
        }
    )
    ok = get(
        "/pets",
        method="POST",
        headers=(("X-Api-Key", "k"),),
        query=(("dry", "true"),),
        body=b'{"name": "Polly"}',
    )
    assert request_matches(m, ok)
    for broken in (
        Request("PUT", ok.path, ok.query, ok.headers, ok.body),
        Request(ok.method, "/pet", ok.query, ok.headers, ok.body),
        Request(ok.method, ok.path, (), ok.headers, ok.body),
        Request(ok.method, ok.path, ok.query, (), ok.body),
        Request(ok.method, ok.path, ok.query, ok.headers, b'{"name": "Tom"}'),
    ):
        assert not request_matches(m, broken)
