"""Request body matchers, each against MockServer's matcher of that type (files under
mockserver/mockserver-core/src/main/java/org/mockserver/matchers/ in
mock-server/mockserver, built in HttpRequestPropertiesMatcher#buildBodyMatcher)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from ephemera.mockapi.expectations import parse
from ephemera.mockapi.matching import Request, request_matches
from ephemera.mockapi.model import ExpectationsError


def matches(body_matcher: Any, body: bytes) -> bool:
    text = json.dumps({"httpRequest": {"body": body_matcher}, "httpResponse": {}})
    return request_matches(parse(text, "t.json")[0].request, Request("POST", "/", body=body))


def problem(body_matcher: Any) -> str:
    text = json.dumps([{"httpRequest": {"body": body_matcher}, "httpResponse": {}}])
    with pytest.raises(ExpectationsError) as caught:
        parse(text, "t.json")
    [message] = caught.value.problems
    return message


def test_regex_body() -> None:
    # RegexStringMatcher.java: full match, DOTALL, case-insensitive
    m = {"type": "REGEX", "regex": "hello .*"}
    assert matches(m, b"Hello\nworld".replace(b"\n", b" "))
    assert matches(m, b"hello line\nbreak")
    assert not matches(m, b"say hello world")


def test_json_schema_body() -> None:
    # JsonSchemaMatcher.java (networknt validator, draft 7 by default)
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "required": ["id"],
    }
    m = {"type": "JSON_SCHEMA", "jsonSchema": schema}
    assert matches(m, b'{"id": 3, "name": "x"}')
    assert not matches(m, b'{"id": "3"}')
    assert not matches(m, b"not json")
    assert matches({"type": "JSON_SCHEMA", "jsonSchema": json.dumps(schema)}, b'{"id": 1}')


def test_json_schema_is_checked_at_load() -> None:
    assert problem({"type": "JSON_SCHEMA", "jsonSchema": {"type": 12}}).startswith(
        "t.json: [0].httpRequest.body.jsonSchema: not a valid JSON schema: "
    )


@pytest.mark.parametrize(
    ("path", "result"),
    [
        ("$.store.book[?(@.price < 10)]", True),  # a filter: a non-empty list
        ("$.store.book[?(@.price > 100)]", False),  # an empty list
        ("$.store.bicycle.color", True),  # a definite path with a value
        ("$.store.nothing", False),
        ("$.store.gift", False),  # a definite path whose value is null
    ],
)
def test_json_path_body(path: str, result: bool) -> None:
    # JsonPathMatcher.java: a non-empty collection, or a non-null value
    body = {"store": {"book": [{"price": 8.95}, {"price": 12.99}], "bicycle": {"color": "red"}}}
    body["store"]["gift"] = None
    assert matches({"type": "JSON_PATH", "jsonPath": path}, json.dumps(body).encode()) is result


def test_json_path_is_checked_at_load() -> None:
    assert problem({"type": "JSON_PATH", "jsonPath": "$[?(@.a ==]"}).startswith(
        "t.json: [0].httpRequest.body.jsonPath: not a valid JSONPath: "
    )


def test_xpath_body() -> None:
    # XPathMatcher.java: the expression evaluated as a boolean
    m = {"type": "XPATH", "xpath": "/bookstore/book[price>35]/title"}
    assert matches(m, b"<bookstore><book><title>A</title><price>40</price></book></bookstore>")
    assert not matches(m, b"<bookstore><book><title>A</title><price>30</price></book></bookstore>")
    assert not matches(m, b"not xml")
    count = {"type": "XPATH", "xpath": "count(//item) = 2"}
    assert matches(count, b"<a><item/><item/></a>")
    assert not matches(count, b"<a><item/></a>")


def test_xpath_with_namespace_prefixes() -> None:
    m = {"type": "XPATH", "xpath": "/s:Envelope/s:Body", "namespacePrefixes": {"s": "urn:soap"}}
    assert matches(m, b'<e:Envelope xmlns:e="urn:soap"><e:Body/></e:Envelope>')
    assert not matches(m, b'<e:Envelope xmlns:e="urn:other"><e:Body/></e:Envelope>')


def test_xml_body_is_similar_not_identical() -> None:
    # XmlStringMatcher.java: ignoreComments, ignoreWhitespace, normalizeWhitespace,
    # checkForSimilar, ElementSelectors.byName
    m = {"type": "XML", "xml": "<order id='1'><item>pen</item><qty>2</qty></order>"}
    assert matches(m, b'<order id="1">\n  <!-- c --><qty>2</qty>\n  <item>pen</item>\n</order>')
    assert not matches(m, b'<order id="2"><item>pen</item><qty>2</qty></order>')
    assert not matches(m, b'<order id="1"><item>pen</item></order>')
    assert not matches(m, b'<order id="1"><item>ink</item><qty>2</qty></order>')


def test_xml_refuses_entities() -> None:
    # an external entity is never read: the parser resolves no entities
    m = {"type": "XPATH", "xpath": "/a[text()='secret']"}
    evil = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]><a>&x;</a>'
    assert not matches(m, evil)


def test_parameters_body() -> None:
    # ParameterStringMatcher.java: the body read as a form, matched as a multimap
    m = {"type": "PARAMETERS", "parameters": {"grant_type": ["password"], "user": ["a.*"]}}
    assert matches(m, b"grant_type=password&user=alice&extra=1")
    assert matches(m, b"user=al%69ce&grant_type=password")
    assert not matches(m, b"grant_type=client_credentials&user=alice")


def test_binary_body() -> None:
    # BinaryMatcher.java: the same bytes; empty bytes match anything
    data = bytes(range(256))
    m = {"type": "BINARY", "base64Bytes": base64.b64encode(data).decode()}
    assert matches(m, data)
    assert not matches(m, data[:-1])
    assert matches({"type": "BINARY", "base64Bytes": ""}, b"anything")
    assert problem({"type": "BINARY", "base64Bytes": "***"}) == (
        "t.json: [0].httpRequest.body.base64Bytes: not valid base64"
    )


@pytest.mark.parametrize(
    ("body_matcher", "matching", "other"),
    [
        ({"type": "STRING", "string": "x", "not": True}, b"y", b"x"),
        ({"type": "JSON", "json": {"a": 1}, "not": True}, b'{"a": 2}', b'{"a": 1}'),
        ({"type": "REGEX", "regex": "[0-9]+", "not": True}, b"abc", b"123"),
        ({"type": "XPATH", "xpath": "/a", "not": True}, b"<b/>", b"<a/>"),
        ("!secret", b"public", b"secret"),  # a NottableString: "!" negates a string body
    ],
)
def test_negated_bodies(body_matcher: Any, matching: bytes, other: bytes) -> None:
    # HttpRequestPropertiesMatcher#buildBodyMatcher wraps a "not" body in notMatcher
    assert matches(body_matcher, matching)
    assert not matches(body_matcher, other)


def test_an_optional_body_also_matches_no_body() -> None:
    # HttpRequestPropertiesMatcher#bodyMatches: optional and the request has no body
    m = {"type": "JSON", "json": {"a": 1}, "optional": True}
    assert matches(m, b"")
    assert matches(m, b'{"a": 1}')
    assert not matches(m, b'{"a": 2}')


def test_a_body_type_inferred_from_its_key() -> None:
    # serialization/deserializers/body/BodyDTODeserializer.java
    assert matches({"regex": "a+"}, b"aaa")
    assert matches({"xpath": "/a"}, b"<a/>")
