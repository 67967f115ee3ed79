"""Body matchers, as MockServer's (`HttpRequestPropertiesMatcher#bodyMatches` and the
matchers it builds, under mockserver-core/src/main/java/org/mockserver/matchers/):

- STRING (`ExactStringMatcher`, `SubStringMatcher`): case-sensitive equality or
  containment; a blank matcher matches any body;
- REGEX (`RegexStringMatcher`): the string rules of `textmatch`;
- JSON (`JsonStringMatcher`): `json_matches`, lenient or STRICT;
- JSON_SCHEMA (`JsonSchemaMatcher`): the body validates (jsonschema, draft 7 unless
  the schema names another);
- JSON_PATH (`JsonPathMatcher`): the path finds something (jsonpath-ng);
- XPATH (`XPathMatcher`): the XPath 1.0 expression is true (lxml);
- XML (`XmlStringMatcher`): XMLUnit "similar": comments and whitespace ignored,
  elements paired by name in any order, same attributes and text;
- PARAMETERS (`ParameterStringMatcher`): the body read as a form, matched as a multimap;
- BINARY (`BinaryMatcher`): the same bytes; empty matches all.

Every matcher may be negated (`"not": true`) and optional (matches an empty body).
"""

from __future__ import annotations

import json
import math
import urllib.parse
from typing import Any

from lxml import etree

from ephemera.mockapi.model import (
    BinaryBody,
    BodyMatcher,
    JsonBody,
    JsonPathBody,
    JsonSchemaBody,
    ParametersBody,
    RegexBody,
    StringBody,
    XmlBody,
    XPathBody,
)
from ephemera.mockapi.textmatch import multimap_matches, string_matches

# No DTDs, entities or network: a request body must not read files or other hosts.
XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
)


def body_matches(expected: BodyMatcher, body: bytes) -> bool:
    if expected.optional and not body:
        return True
    return _matches(expected, body) != expected.negated


def _matches(expected: BodyMatcher, body: bytes) -> bool:
    if isinstance(expected, BinaryBody):
        return not expected.data or expected.data == body
    if isinstance(expected, StringBody):
        wanted = expected.text.encode("utf-8")
        if not expected.text.strip():
            return True
        return wanted in body if expected.substring else body == wanted
    text = body.decode("utf-8", errors="replace")
    if isinstance(expected, RegexBody):
        return string_matches(expected.pattern, text)
    if isinstance(expected, ParametersBody):
        query = text[text.index("?") + 1 :] if "?" in text else text
        form = urllib.parse.parse_qsl(query, keep_blank_values=True)
        return multimap_matches(expected.parameters, form)
    if isinstance(expected, XmlBody | XPathBody):
        return _xml_matches(expected, text, body)
    return _json_family_matches(expected, text, body)


def _json_family_matches(expected: BodyMatcher, text: str, body: bytes) -> bool:
    if isinstance(expected, JsonPathBody) and text == expected.path:
        return True
    try:
        actual = json.loads(body)
    except (ValueError, RecursionError):  # not JSON (or not text): no match
        return False
    if isinstance(expected, JsonBody):
        return json_matches(expected.expected, actual, strict=expected.strict)
    if isinstance(expected, JsonSchemaBody):
        return bool(expected.validator.is_valid(actual))
    assert isinstance(expected, JsonPathBody)
    found = [match.value for match in expected.compiled.find(actual)]
    if expected.definite:  # Jayway returns the value: null does not match
        return bool(found) and found[0] is not None
    return bool(found)


def _xml_matches(expected: XmlBody | XPathBody, text: str, body: bytes) -> bool:
    source = expected.xml if isinstance(expected, XmlBody) else expected.xpath
    if text == source:
        return True
    try:
        tree = etree.fromstring(body, XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return False
    if isinstance(expected, XmlBody):
        return xml_similar(expected.tree, tree)
    try:
        return xpath_true(expected.compiled(tree))
    except etree.XPathError:
        return False


def xpath_true(result: Any) -> bool:
    """XPath 1.0 boolean(): a non-empty node-set or string, a non-zero number."""
    if isinstance(result, float):
        return result != 0 and not math.isnan(result)
    return bool(result)


def xml_similar(control: Any, test: Any) -> bool:
    """XMLUnit's `checkForSimilar` with `ElementSelectors.byName`: the same element
    names (namespace URI and local name), attributes and whitespace-normalised text;
    children paired by name, so their order does not matter."""
    if control.tag != test.tag or dict(control.attrib) != dict(test.attrib):
        return False
    if _normalised(control.text) != _normalised(test.text):
        return False
    control_children = [c for c in control if isinstance(c.tag, str)]
    test_children = [c for c in test if isinstance(c.tag, str)]
    if len(control_children) != len(test_children):
        return False
    unpaired = list(test_children)
    for child in control_children:
        partner = next((t for t in unpaired if t.tag == child.tag), None)
        if partner is None or not xml_similar(child, partner):
            return False
        if _normalised(child.tail) != _normalised(partner.tail):
            return False
        unpaired.remove(partner)
    return True


def _normalised(text: str | None) -> str:
    return " ".join((text or "").split())


def json_matches(expected: Any, actual: Any, *, strict: bool = False) -> bool:
    """MockServer's JSON body comparison (JsonUnit, `JsonStringMatcher`).

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
