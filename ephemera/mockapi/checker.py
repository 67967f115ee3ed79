"""The checker of one parsed expectation file: every field of MockServer's format the
local mock API supports becomes a typed object (`ephemera.mockapi.model`); anything
else is a problem `file: json.path: message`, all collected before one error."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from ephemera.mockapi.model import (
    TIME_UNITS,
    BodyMatcher,
    Expectation,
    ExpectationsError,
    JsonBody,
    KeyValues,
    Pattern,
    RequestMatcher,
    ResponseSpec,
    StringBody,
    reject_constant,
)

UNSUPPORTED = "not supported by the local mock API"

_EXPECTATION_FIELDS = ("id", "priority", "httpRequest", "httpResponse", "times")
_REQUEST_FIELDS = ("method", "path", "queryStringParameters", "headers", "body")
_RESPONSE_FIELDS = ("statusCode", "reasonPhrase", "headers", "body", "delay")
_MATCH_TYPES = ("ONLY_MATCHING_FIELDS", "STRICT")
# Framing and hop-by-hop headers belong to the HTTP server, not to a WSGI app (PEP 3333).
_SERVER_HEADERS = frozenset(
    {
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "upgrade",
    }
)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _key(where: str, name: str) -> str:
    part = name if _PLAIN_KEY.fullmatch(name) else f"[{json.dumps(name)}]"
    if not where:
        return part
    return f"{where}{part}" if part.startswith("[") else f"{where}.{part}"


def _index(where: str, i: int) -> str:
    return f"{where}[{i}]"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Checker:
    """Walks one parsed file, collecting problems as `file: json.path: message`."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{self.file}: {where or '(document)'}: {message}")

    def document(self, document: Any) -> list[Expectation]:
        self.duplicates(document, "")
        if isinstance(document, dict):
            items = [("", document)]
        elif isinstance(document, list):
            items = [(_index("", i), item) for i, item in enumerate(document)]
        else:
            self.problem("", "must be a list of expectations or a single expectation object")
            items = []
        expectations = [self.expectation(item, where, i) for i, (where, item) in enumerate(items)]
        self.duplicate_ids(expectations)
        if self.problems:
            raise ExpectationsError(self.problems)
        return [e for e in expectations if e is not None]

    def duplicates(self, value: Any, where: str) -> None:
        if isinstance(value, dict):
            for name in getattr(value, "duplicate_keys", ()):
                self.problem(_key(where, name), "duplicate key (JSON keeps only the last one)")
            for name, item in value.items():
                self.duplicates(item, _key(where, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.duplicates(item, _index(where, i))

    def duplicate_ids(self, expectations: list[Expectation | None]) -> None:
        first: dict[str, Expectation] = {}
        for e in expectations:
            if e is None or e.id is None:
                continue
            if e.id in first:
                self.problem(
                    _key(f"[{e.position}]", "id"),
                    f"duplicate id {e.id!r}, also used by [{first[e.id].position}] "
                    "(MockServer would replace the earlier expectation)",
                )
            else:
                first[e.id] = e

    def unsupported(self, obj: dict[str, Any], where: str, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for name in obj:
            if name not in allowed:
                self.problem(_key(where, name), UNSUPPORTED)

    # expectation ---------------------------------------------------------------------

    def expectation(self, obj: Any, where: str, position: int) -> Expectation | None:
        if not isinstance(obj, dict):
            self.problem(where, "must be an expectation object")
            return None
        before = len(self.problems)
        self.unsupported(obj, where, _EXPECTATION_FIELDS)
        ident = obj.get("id")
        if ident is not None and not isinstance(ident, str):
            self.problem(_key(where, "id"), "must be a string")
        priority = obj.get("priority", 0)
        if not _is_int(priority):
            self.problem(_key(where, "priority"), "must be an integer")
        request = RequestMatcher()
        if "httpRequest" in obj:
            request = self.request(obj["httpRequest"], _key(where, "httpRequest"))
        response = ResponseSpec()
        if "httpResponse" in obj:
            response = self.response(obj["httpResponse"], _key(where, "httpResponse"))
        else:
            self.problem(
                _key(where, "httpResponse"),
                "missing: the local mock API answers every expectation with an httpResponse",
            )
        times = self.times(obj["times"], _key(where, "times")) if "times" in obj else None
        if len(self.problems) > before:
            return None
        return Expectation(
            position=position,
            request=request,
            response=response,
            times=times,
            priority=priority,
            id=ident,
        )

    def times(self, obj: Any, where: str) -> int | None:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object with remainingTimes and/or unlimited")
            return None
        self.unsupported(obj, where, ("remainingTimes", "unlimited"))
        unlimited = obj.get("unlimited", False)
        if not isinstance(unlimited, bool):
            self.problem(_key(where, "unlimited"), "must be true or false")
            return None
        remaining = obj.get("remainingTimes")
        if remaining is not None and (not _is_int(remaining) or remaining < 0):
            self.problem(_key(where, "remainingTimes"), "must be an integer of at least 0")
            return None
        if unlimited:
            return None  # MockServer ignores remainingTimes then (it exports 0)
        if remaining is None or remaining == 0:
            self.problem(
                _key(where, "remainingTimes"),
                "must be at least 1 unless unlimited is true (the expectation would never match)",
            )
            return None
        return remaining

    # request ---------------------------------------------------------------------------

    def request(self, obj: Any, where: str) -> RequestMatcher:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object")
            return RequestMatcher()
        self.unsupported(obj, where, _REQUEST_FIELDS)
        method = path = None
        if "method" in obj:
            method = self.pattern(obj["method"], _key(where, "method"))
        if "path" in obj:
            path = self.pattern(obj["path"], _key(where, "path"))
        query: tuple[KeyValues, ...] = ()
        if "queryStringParameters" in obj:
            query = self.key_values(
                obj["queryStringParameters"], _key(where, "queryStringParameters")
            )
        headers: tuple[KeyValues, ...] = ()
        if "headers" in obj:
            headers = self.key_values(obj["headers"], _key(where, "headers"))
        body = self.request_body(obj["body"], _key(where, "body")) if "body" in obj else None
        return RequestMatcher(method=method, path=path, query=query, headers=headers, body=body)

    def pattern(self, value: Any, where: str) -> Pattern | None:
        if not isinstance(value, str):
            self.problem(where, "must be a string")
            return None
        if value.startswith("!"):
            self.problem(where, f"negation (a leading '!') is {UNSUPPORTED}")
            return None
        try:
            return Pattern.compile(value)
        except re.error as exc:
            self.problem(
                where,
                f"invalid regular expression ({exc}); escape special characters "
                "to match them literally",
            )
            return None

    def multimap(self, value: Any, where: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
        """Both MockServer forms -> [(name, where, [(value, where)])], type-checked."""
        entries: list[tuple[str, str, list[tuple[str, str]]]] = []
        if isinstance(value, dict):
            for name, values in value.items():
                at = _key(where, name)
                if name == "keyMatchStyle":
                    self.problem(at, UNSUPPORTED)
                    continue
                if isinstance(values, str):
                    entries.append((name, at, [(values, at)]))
                elif isinstance(values, list) and all(isinstance(v, str) for v in values):
                    entries.append((name, at, [(v, _index(at, i)) for i, v in enumerate(values)]))
                else:
                    self.problem(at, "must be a string or a list of strings")
        elif isinstance(value, list):
            for i, entry in enumerate(value):
                at = _index(where, i)
                if not isinstance(entry, dict):
                    self.problem(at, 'must be an object {"name": ..., "values": [...]}')
                    continue
                self.unsupported(entry, at, ("name", "values"))
                name = entry.get("name")
                values = entry.get("values", [])
                values_at = _key(at, "values")
                if not isinstance(name, str):
                    self.problem(_key(at, "name"), "must be a string")
                elif isinstance(values, str):
                    entries.append((name, at, [(values, values_at)]))
                elif isinstance(values, list) and all(isinstance(v, str) for v in values):
                    pairs = [(v, _index(values_at, j)) for j, v in enumerate(values)]
                    entries.append((name, at, pairs))
                else:
                    self.problem(values_at, "must be a string or a list of strings")
        else:
            self.problem(where, 'must be an object or a list of {"name", "values"} objects')
        return entries

    def key_values(self, value: Any, where: str) -> tuple[KeyValues, ...]:
        result: list[KeyValues] = []
        for name, at, values in self.multimap(value, where):
            if name.startswith("?"):
                self.problem(at, f"optional names (a leading '?') are {UNSUPPORTED}")
                continue
            name_pattern = self.pattern(name, at)
            patterns = [self.pattern(v, v_at) for v, v_at in values]
            if name_pattern is not None and all(p is not None for p in patterns):
                result.append(KeyValues(name_pattern, tuple(p for p in patterns if p)))
        return tuple(result)

    def request_body(self, value: Any, where: str) -> BodyMatcher | None:
        if isinstance(value, str):
            return StringBody(value)
        if isinstance(value, list) or (isinstance(value, dict) and "type" not in value):
            # MockServer reads an untyped JSON object or array as a JSON body matcher.
            self.no_placeholders(value, where)
            return JsonBody(value)
        if not isinstance(value, dict):
            self.problem(where, "must be a string or a body object")
            return None
        kind = value["type"]
        if kind == "STRING":
            self.unsupported(value, where, ("type", "string", "subString"))
            text = value.get("string")
            substring = value.get("subString", False)
            if not isinstance(text, str):
                self.problem(_key(where, "string"), "must be a string")
            if not isinstance(substring, bool):
                self.problem(_key(where, "subString"), "must be true or false")
            if isinstance(text, str) and isinstance(substring, bool):
                return StringBody(text, substring)
            return None
        if kind == "JSON":
            self.unsupported(value, where, ("type", "json", "matchType"))
            match_type = value.get("matchType", "ONLY_MATCHING_FIELDS")
            if match_type not in _MATCH_TYPES:
                self.problem(_key(where, "matchType"), f"must be one of {', '.join(_MATCH_TYPES)}")
            expected = self.json_value(value, where)
            if expected is _MISSING or match_type not in _MATCH_TYPES:
                return None
            self.no_placeholders(expected, _key(where, "json"))
            return JsonBody(expected, strict=match_type == "STRICT")
        self.body_type(kind, where)
        return None

    def body_type(self, kind: Any, where: str) -> None:
        at = _key(where, "type")
        if isinstance(kind, str):
            self.problem(at, f"{kind!r} is {UNSUPPORTED} (supported: JSON, STRING)")
        else:
            self.problem(at, "must be JSON or STRING")

    def json_value(self, body: dict[str, Any], where: str) -> Any:
        """The `json` of a typed JSON body: any JSON value, or a string holding JSON."""
        at = _key(where, "json")
        if "json" not in body:
            self.problem(at, "missing")
            return _MISSING
        value = body["json"]
        if isinstance(value, str):
            try:
                return json.loads(value, parse_constant=reject_constant)
            except json.JSONDecodeError as exc:
                self.problem(
                    at, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                )
                return _MISSING
            except ValueError as exc:
                self.problem(at, f"not valid JSON: {exc}")
                return _MISSING
        return value

    def no_placeholders(self, value: Any, where: str) -> None:
        """json-unit placeholders (`${json-unit.any-string}`) would be compared literally."""
        if isinstance(value, str) and "${json-unit." in value:
            self.problem(where, f"json-unit placeholders are {UNSUPPORTED}")
        elif isinstance(value, dict):
            for name, item in value.items():
                self.no_placeholders(item, _key(where, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.no_placeholders(item, _index(where, i))

    # response --------------------------------------------------------------------------

    def response(self, obj: Any, where: str) -> ResponseSpec:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object")
            return ResponseSpec()
        self.unsupported(obj, where, _RESPONSE_FIELDS)
        status = obj.get("statusCode", 200)
        if not _is_int(status) or not 100 <= status <= 599:
            self.problem(_key(where, "statusCode"), "must be an HTTP status code (100-599)")
        reason = obj.get("reasonPhrase")
        if reason is not None and (not isinstance(reason, str) or _has_newline(reason)):
            self.problem(_key(where, "reasonPhrase"), "must be a one-line string")
        headers = self.response_headers(obj.get("headers", []), _key(where, "headers"))
        body, content_type = b"", None
        if "body" in obj:
            body, content_type = self.response_body(obj["body"], _key(where, "body"))
        if content_type and not any(n.lower() == "content-type" for n, _ in headers):
            headers.append(("Content-Type", content_type))
        delay = self.delay(obj["delay"], _key(where, "delay")) if "delay" in obj else 0.0
        return ResponseSpec(
            status=status if _is_int(status) else 200,
            reason=reason if isinstance(reason, str) else None,
            headers=tuple(headers),
            body=body,
            delay=delay,
        )

    def response_headers(self, value: Any, where: str) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        for name, at, values in self.multimap(value, where):
            if not _TOKEN.fullmatch(name):
                self.problem(at, "not a valid HTTP header name")
            elif name.lower() in _SERVER_HEADERS:
                self.problem(at, "set by the local mock API's HTTP server; remove it")
            for text, text_at in values:
                if _has_newline(text):
                    self.problem(text_at, "must not contain line breaks")
                else:
                    headers.append((name, text))
        return headers

    def response_body(self, value: Any, where: str) -> tuple[bytes, str | None]:
        if isinstance(value, str):
            return value.encode("utf-8"), None
        if isinstance(value, list) or (isinstance(value, dict) and "type" not in value):
            return _dump(value), "application/json"
        if not isinstance(value, dict):
            self.problem(where, "must be a string, a JSON object or array, or a body object")
            return b"", None
        content_type = value.get("contentType")
        if content_type is not None and (
            not isinstance(content_type, str) or _has_newline(content_type)
        ):
            self.problem(_key(where, "contentType"), "must be a one-line string")
            content_type = None
        kind = value["type"]
        if kind == "STRING":
            self.unsupported(value, where, ("type", "string", "contentType"))
            text = value.get("string")
            if not isinstance(text, str):
                self.problem(_key(where, "string"), "must be a string")
                return b"", None
            return text.encode("utf-8"), content_type
        if kind == "JSON":
            self.unsupported(value, where, ("type", "json", "contentType"))
            raw = value.get("json")
            parsed = self.json_value(value, where)
            if parsed is _MISSING:
                return b"", None
            body = raw.encode("utf-8") if isinstance(raw, str) else _dump(parsed)
            return body, content_type or "application/json"
        self.body_type(kind, where)
        return b"", None

    def delay(self, obj: Any, where: str) -> float:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object with timeUnit and value")
            return 0.0
        self.unsupported(obj, where, ("timeUnit", "value"))
        unit = obj.get("timeUnit")
        value = obj.get("value")
        if unit not in TIME_UNITS:
            self.problem(_key(where, "timeUnit"), f"must be one of {', '.join(TIME_UNITS)}")
        if not _is_int(value) or value < 0:
            self.problem(_key(where, "value"), "must be an integer of at least 0")
        if unit in TIME_UNITS and _is_int(value) and value >= 0:
            return value * TIME_UNITS[unit]
        return 0.0


_MISSING: Any = object()


def _has_newline(text: str) -> bool:
    return "\r" in text or "\n" in text


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
