"""MockServer's request-matching features beyond plain strings: negation, optional
keys, keyMatchStyle, cookies, path parameters, a negated request.

Each test names the MockServer source file the rule is read from (paths under
mockserver/mockserver-core/src/main/java/org/mockserver/ in mock-server/mockserver).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ephemera.mockapi.expectations import parse
from ephemera.mockapi.matching import Request, path_parameters, request_matches
from ephemera.mockapi.model import RequestMatcher


def matcher(http_request: dict[str, Any]) -> RequestMatcher:
    text = json.dumps({"httpRequest": http_request, "httpResponse": {}})
    return parse(text, "test.json")[0].request


def get(path: str = "/", method: str = "GET", **kwargs: Any) -> Request:
    return Request(method=method, path=path, **kwargs)


# negation: matchers/RegexStringMatcher.java (matchesByNottedStrings), model/NottableString.java


@pytest.mark.parametrize("method", ["!GET", {"not": True, "value": "GET"}])
def test_a_negated_method_matches_every_other_method(method: Any) -> None:
    m = matcher({"method": method})
    assert not request_matches(m, get(method="GET"))
    assert request_matches(m, get(method="POST"))


def test_a_negated_path_regex() -> None:
    m = matcher({"path": "!/admin.*"})
    assert request_matches(m, get("/pets"))
    assert not request_matches(m, get("/admin/stats"))


def test_a_negated_header_value_needs_the_header_with_another_value() -> None:
    # collections/SubSetMatcher.java: the pair (X-Env, !prod) needs a matching request pair
    m = matcher({"headers": {"X-Env": ["!prod"]}})
    assert request_matches(m, get(headers=(("X-Env", "dev"),)))
    assert not request_matches(m, get(headers=(("X-Env", "prod"),)))
    assert not request_matches(m, get(headers=(("Other", "dev"),)))


def test_a_negated_header_name_means_the_header_is_absent() -> None:
    # collections/SubSetMatcher.java (nottedAndPresent); matchers/MultiValueMapMatcher.java:
    # a request without headers matches when every matcher key is negated
    m = matcher({"headers": {"!X-Debug": [".*"]}})
    assert request_matches(m, get(headers=(("Accept", "*/*"),)))
    assert request_matches(m, get())
    assert not request_matches(m, get(headers=(("x-debug", "1"),)))


def test_negation_on_query_parameters_and_cookies() -> None:
    query = matcher({"queryStringParameters": {"mode": ["!test"]}})
    assert request_matches(query, get(query=(("mode", "live"),)))
    assert not request_matches(query, get(query=(("mode", "test"),)))
    cookies = matcher({"cookies": {"session": "!expired"}})
    assert request_matches(cookies, get(headers=(("Cookie", "session=abc"),)))
    assert not request_matches(cookies, get(headers=(("Cookie", "session=expired"),)))


def test_a_negated_request_inverts_the_whole_match() -> None:
    # matchers/AbstractHttpRequestMatcher.java (applyNotOperators)
    m = matcher({"not": True, "path": "/health"})
    assert not request_matches(m, get("/health"))
    assert request_matches(m, get("/pets"))


# optional keys: model/NottableOptionalString.java, collections/SubSetMatcher.java


def test_an_optional_header_may_be_absent_but_must_match_when_present() -> None:
    m = matcher({"headers": {"?X-Trace": ["[0-9]+"], "Accept": [".*"]}})
    assert request_matches(m, get(headers=(("Accept", "x"),)))
    assert request_matches(m, get(headers=(("Accept", "x"), ("X-Trace", "42"))))
    assert not request_matches(m, get(headers=(("Accept", "x"), ("X-Trace", "abc"))))


def test_only_optional_keys_match_a_request_without_any() -> None:
    # matchers/MultiValueMapMatcher.java: allKeysOptional
    m = matcher({"queryStringParameters": {"?page": ["[0-9]+"]}})
    assert request_matches(m, get())
    assert request_matches(m, get(query=(("page", "2"),)))
    assert not request_matches(m, get(query=(("page", "two"),)))


# keyMatchStyle: collections/NottableStringMultiMap.java (containsAll)


def test_sub_set_needs_one_distinct_request_value_per_matcher_value() -> None:
    m = matcher({"queryStringParameters": {"id": ["[0-9]+", "[0-9]+"]}})
    assert not request_matches(m, get(query=(("id", "1"),)))  # SubSetMatcher's count
    assert request_matches(m, get(query=(("id", "1"), ("id", "2"))))


def test_matching_key_needs_every_request_value_to_match() -> None:
    sub_set = matcher({"queryStringParameters": {"tag": ["a"]}})
    matching_key = matcher(
        {"queryStringParameters": {"keyMatchStyle": "MATCHING_KEY", "tag": ["a"]}}
    )
    both = get(query=(("tag", "a"), ("tag", "b")))
    assert request_matches(sub_set, both)
    assert not request_matches(matching_key, both)
    assert request_matches(matching_key, get(query=(("tag", "a"), ("tag", "a"))))
    assert not request_matches(matching_key, get(query=(("other", "a"),)))


def test_matching_key_on_headers_with_a_regex() -> None:
    m = matcher({"headers": {"keyMatchStyle": "MATCHING_KEY", "X-Id": ["[0-9]+"]}})
    assert request_matches(m, get(headers=(("X-Id", "1"), ("X-Id", "22"))))
    assert not request_matches(m, get(headers=(("X-Id", "1"), ("X-Id", "x"))))


def test_a_schema_value() -> None:
    # model/NottableSchemaString.java: the value is read as JSON, then validated
    m = matcher({"headers": {"X-Count": [{"schema": {"type": "integer", "minimum": 1}}]}})
    assert request_matches(m, get(headers=(("X-Count", "3"),)))
    assert not request_matches(m, get(headers=(("X-Count", "0"),)))
    assert not request_matches(m, get(headers=(("X-Count", "many"),)))


# cookies: mappers/FullHttpRequestToMockServerHttpRequest.java (setCookies),
# matchers/HashMapMatcher.java, collections/NottableStringHashMap.java


@pytest.mark.parametrize("cookies", [{"session": "abc.*"}, [{"name": "session", "value": "abc.*"}]])
def test_request_cookies_both_forms(cookies: Any) -> None:
    m = matcher({"cookies": cookies})
    assert request_matches(m, get(headers=(("Cookie", "theme=dark; session=abc123"),)))
    assert request_matches(m, get(headers=(("Cookie", "theme=dark"), ("Cookie", "session=abcd"))))
    assert not request_matches(m, get(headers=(("Cookie", "session=xyz"),)))
    assert not request_matches(m, get())


def test_an_optional_cookie() -> None:
    m = matcher({"cookies": {"?theme": "dark|light"}})
    assert request_matches(m, get())
    assert request_matches(m, get(headers=(("Cookie", "theme=dark"),)))
    assert not request_matches(m, get(headers=(("Cookie", "theme=pink"),)))


# path parameters: codec/PathParametersDecoder.java


def test_path_parameters_match_the_named_segments() -> None:
    m = matcher({"path": "/pets/{petId}/toys/{toyId}", "pathParameters": {"petId": ["[0-9]+"]}})
    assert request_matches(m, get("/pets/7/toys/ball"))
    assert not request_matches(m, get("/pets/seven/toys/ball"))
    assert not request_matches(m, get("/pets/7/toys"))  # the segment counts differ
    assert path_parameters(m, "/pets/7/toys/ball") == (("petId", "7"), ("toyId", "ball"))


def test_path_parameter_values_are_split_on_commas() -> None:
    m = matcher({"path": "/ids/{id}", "pathParameters": {"id": ["1", "2"]}})
    assert request_matches(m, get("/ids/1,2"))
    assert not request_matches(m, get("/ids/1"))


def test_without_path_parameters_braces_are_literal() -> None:
    m = matcher({"path": "/pets/{id}"})
    assert request_matches(m, get("/pets/{id}"))
    assert not request_matches(m, get("/pets/7"))


def test_a_negated_path_parameter() -> None:
    m = matcher({"path": "/pets/{id}", "pathParameters": {"id": ["!0"]}})
    assert request_matches(m, get("/pets/3"))
    assert not request_matches(m, get("/pets/0"))
