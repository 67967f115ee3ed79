"""The request body matchers of an expectation, checked and compiled at load time.

MockServer reads them in mockserver-core/.../serialization/deserializers/body/
BodyDTODeserializer.java: a plain string is an exact STRING, an untyped object or
array is a JSON matcher, and a typed object names its `type`. Each type's expression
is compiled here (regex, JSON schema, JSONPath, XPath, XML), so a mistake is a
`file: json.path: message` at start instead of a request that never matches.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath
from jsonschema import SchemaError
from lxml import etree

from ephemera.mockapi.bodies import XML_PARSER
from ephemera.mockapi.checkbase import UNSUPPORTED, CheckBase, index, key, schema_validator
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
    reject_constant,
)

BODY_TYPES = (
    "STRING",
    "REGEX",
    "JSON",
    "JSON_SCHEMA",
    "JSON_PATH",
    "XPATH",
    "XML",
    "PARAMETERS",
    "BINARY",
)
MATCH_TYPES = ("ONLY_MATCHING_FIELDS", "STRICT")
MISSING: Any = object()
_COMMON = ("type", "not", "optional")
# a typed body without `type` is recognised by its value's key (BodyDTODeserializer)
_TYPE_OF_KEY = {
    "regex": "REGEX",
    "json": "JSON",
    "jsonSchema": "JSON_SCHEMA",
    "jsonPath": "JSON_PATH",
    "xpath": "XPATH",
    "xml": "XML",
    "base64Bytes": "BINARY",
    "parameters": "PARAMETERS",
}
_DEFINITE_BREAKERS = ("[?", "*", "..", ",", ":")


def _parse_xml(text: str) -> Any:
    return etree.fromstring(text.encode("utf-8"), XML_PARSER)


class BodyChecks(CheckBase):
    def request_body(self, value: Any, where: str) -> BodyMatcher | None:
        if isinstance(value, str):
            return self.string_body({"string": value}, where)
        if not isinstance(value, dict | list):
            self.problem(where, "must be a string or a body object")
            return None
        kind = self.body_type(value)
        if kind is None:  # MockServer reads an untyped JSON object or array as JSON
            self.no_placeholders(value, where)
            return JsonBody(value)
        assert isinstance(value, dict)
        if kind not in BODY_TYPES:
            at = key(where, "type")
            if isinstance(kind, str):
                self.problem(at, f"{kind!r} is {UNSUPPORTED} (supported: {', '.join(BODY_TYPES)})")
            else:
                self.problem(at, f"must be one of {', '.join(BODY_TYPES)}")
            return None
        negated = self.flag(value, "not", where)
        optional = self.flag(value, "optional", where)
        matcher = getattr(self, f"{kind.lower()}_body")(value, where)
        if matcher is None:
            return None
        return replace(matcher, negated=matcher.negated != negated, optional=optional)

    @staticmethod
    def body_type(value: dict[str, Any] | list[Any]) -> Any:
        if isinstance(value, list):
            return None
        if "type" in value:
            return value["type"]
        if "string" in value:
            return "STRING"
        return next((kind for name, kind in _TYPE_OF_KEY.items() if name in value), None)

    def text(self, obj: dict[str, Any], name: str, where: str) -> str | None:
        value = obj.get(name)
        if not isinstance(value, str):
            self.problem(key(where, name), "missing" if value is None else "must be a string")
            return None
        return value

    def string_body(self, obj: dict[str, Any], where: str) -> StringBody | None:
        self.unsupported(obj, where, (*_COMMON, "string", "subString"))
        text = self.text(obj, "string", where)
        substring = self.flag(obj, "subString", where)
        if text is None:
            return None
        # MockServer reads the text as a NottableString: a leading "!" negates it
        negated = text.startswith("!") and len(text) > 1
        return StringBody(text[1:] if negated else text, substring, negated=negated)

    def regex_body(self, obj: dict[str, Any], where: str) -> RegexBody | None:
        self.unsupported(obj, where, (*_COMMON, "regex"))
        text = self.text(obj, "regex", where)
        pattern = self.pattern(text, key(where, "regex")) if text is not None else None
        return RegexBody(pattern) if pattern is not None else None

    def json_body(self, obj: dict[str, Any], where: str) -> JsonBody | None:
        self.unsupported(obj, where, (*_COMMON, "json", "matchType"))
        match_type = obj.get("matchType", "ONLY_MATCHING_FIELDS")
        if match_type not in MATCH_TYPES:
            self.problem(key(where, "matchType"), f"must be one of {', '.join(MATCH_TYPES)}")
        expected = self.json_value(obj, "json", where)
        if expected is MISSING or match_type not in MATCH_TYPES:
            return None
        self.no_placeholders(expected, key(where, "json"))
        return JsonBody(expected, strict=match_type == "STRICT")

    def json_schema_body(self, obj: dict[str, Any], where: str) -> JsonSchemaBody | None:
        self.unsupported(obj, where, (*_COMMON, "jsonSchema"))
        schema = self.json_value(obj, "jsonSchema", where)
        if schema is MISSING:
            return None
        validator = self.compiled(
            key(where, "jsonSchema"), "JSON schema", lambda: schema_validator(schema)
        )
        return JsonSchemaBody(schema, validator) if validator is not None else None

    def json_path_body(self, obj: dict[str, Any], where: str) -> JsonPathBody | None:
        self.unsupported(obj, where, (*_COMMON, "jsonPath"))
        path = self.text(obj, "jsonPath", where)
        if path is None:
            return None
        compiled = self.compiled(key(where, "jsonPath"), "JSONPath", lambda: parse_jsonpath(path))
        if compiled is None:
            return None
        definite = not any(part in path for part in _DEFINITE_BREAKERS)
        return JsonPathBody(path, compiled, definite)

    def xpath_body(self, obj: dict[str, Any], where: str) -> XPathBody | None:
        self.unsupported(obj, where, (*_COMMON, "xpath", "namespacePrefixes"))
        xpath = self.text(obj, "xpath", where)
        prefixes = obj.get("namespacePrefixes", {})
        if not isinstance(prefixes, dict) or not all(isinstance(v, str) for v in prefixes.values()):
            self.problem(key(where, "namespacePrefixes"), "must be an object of strings")
            return None
        if xpath is None:
            return None
        compiled = self.compiled(
            key(where, "xpath"),
            "XPath 1.0 expression",
            lambda: etree.XPath(xpath, namespaces=prefixes or None),
        )
        return XPathBody(xpath, compiled) if compiled is not None else None

    def xml_body(self, obj: dict[str, Any], where: str) -> XmlBody | None:
        self.unsupported(obj, where, (*_COMMON, "xml"))
        xml = self.text(obj, "xml", where)
        if xml is None:
            return None
        if "${xmlunit." in xml:
            self.problem(key(where, "xml"), f"xmlunit placeholders are {UNSUPPORTED}")
            return None
        tree = self.compiled(key(where, "xml"), "XML document", lambda: _parse_xml(xml))
        return XmlBody(xml, tree) if tree is not None else None

    def parameters_body(self, obj: dict[str, Any], where: str) -> ParametersBody | None:
        self.unsupported(obj, where, (*_COMMON, "parameters"))
        if "parameters" not in obj:
            self.problem(key(where, "parameters"), "missing")
            return None
        before = len(self.problems)
        parameters = self.key_values(obj["parameters"], key(where, "parameters"))
        return ParametersBody(parameters) if len(self.problems) == before else None

    def binary_body(self, obj: dict[str, Any], where: str) -> BinaryBody | None:
        self.unsupported(obj, where, (*_COMMON, "base64Bytes", "contentType"))
        data = self.base64(obj, "base64Bytes", where)
        return BinaryBody(data) if data is not None else None

    def compiled(self, where: str, what: str, compile_: Callable[[], Any]) -> Any:
        """`compile_()`, or None and the problem "not a valid <what>: <why>"."""
        try:
            return compile_()
        except SchemaError as exc:
            self.problem(where, f"not a valid {what}: {exc.message}")
        except (JsonPathLexerError, JsonPathParserError, etree.Error) as exc:
            self.problem(where, f"not a valid {what}: {exc}")
        return None

    def base64(self, obj: dict[str, Any], name: str, where: str) -> bytes | None:
        text = self.text(obj, name, where)
        if text is None:
            return None
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self.problem(key(where, name), "not valid base64")
            return None

    def json_value(self, body: dict[str, Any], name: str, where: str) -> Any:
        """Any JSON value, or a string holding JSON (as MockServer accepts both)."""
        at = key(where, name)
        if name not in body:
            self.problem(at, "missing")
            return MISSING
        value = body[name]
        if isinstance(value, str):
            try:
                return json.loads(value, parse_constant=reject_constant)
            except json.JSONDecodeError as exc:
                self.problem(
                    at, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                )
                return MISSING
            except ValueError as exc:
                self.problem(at, f"not valid JSON: {exc}")
                return MISSING
        return value

    def no_placeholders(self, value: Any, where: str) -> None:
        """json-unit placeholders (`${json-unit.any-string}`) would be compared literally."""
        if isinstance(value, str) and "${json-unit." in value:
            self.problem(where, f"json-unit placeholders are {UNSUPPORTED}")
        elif isinstance(value, dict):
            for name, item in value.items():
                self.no_placeholders(item, key(where, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.no_placeholders(item, index(where, i))
