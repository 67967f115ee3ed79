"""Requests, responses and expectations as MockServer writes them in JSON.

- a recorded request: `HttpRequestPrettyPrintedDTO` (mockserver-core/.../serialization/
  model/), keys in alphabetical order, empty values left out, the body decoded by its
  content type (`codec/BodyDecoderEncoder.java#bytesToBody`);
- an expectation as stored: its JSON with `id`, `priority`, `times` and `timeToLive`
  filled in (`serialization/model/ExpectationDTO.java`, `TimesDTO`, `TimeToLiveDTO`);
- `jackson`: the layout of Jackson's DefaultPrettyPrinter, which MockServer's
  verification messages use (`"key" : value`, two-space indents, `[ a, b ]`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from ephemera.mockapi.matching import Request
from ephemera.mockapi.model import (
    Body,
    Expectation,
    MultiMap,
    Pattern,
    RequestMatcher,
    StringBody,
)

_TEXT_TYPES = ("text/", "application/x-www-form-urlencoded")
_JSON_MARKERS = ("json",)
_XML_MARKERS = ("xml",)


def request_json(request: Request) -> dict[str, Any]:
    """A recorded request (`HttpRequestPrettyPrintedDTO`)."""
    result: dict[str, Any] = {}
    body = body_json(request.body, _header(request.headers, "content-type"))
    if body is not None:
        result["body"] = body
    if request.cookies:
        result["cookies"] = dict(request.cookies)
    if request.headers:
        result["headers"] = _multi(request.headers)
    result["keepAlive"] = request.keep_alive
    result["method"] = request.method
    result["path"] = request.path
    if request.query:
        result["queryStringParameters"] = _multi(request.query)
    result["secure"] = request.secure
    return result


def response_json(status: int, headers: list[tuple[str, str]], body: bytes) -> dict[str, Any]:
    result: dict[str, Any] = {"statusCode": status}
    decoded = body_json(body, _header(headers, "content-type"))
    if decoded is not None:
        result["body"] = decoded
    if headers:
        result["headers"] = _multi(headers)
    return result


def body_json(body: bytes, content_type: str | None) -> Any:
    """JSON for a JSON content type, text for text or none, else BINARY base64."""
    if not body:
        return None
    kind = (content_type or "").lower()
    text = _text(body) if not kind or kind.startswith(_TEXT_TYPES) or _has(kind) else None
    if text is not None and any(marker in kind for marker in _JSON_MARKERS):
        try:
            return json.loads(text)
        except ValueError:
            return text
    if text is not None:
        return text
    encoded = base64.b64encode(body).decode("ascii")
    return {"type": "BINARY", "base64Bytes": encoded, "contentType": content_type}


def expectation_json(expectation: Expectation, remaining: int | None) -> dict[str, Any]:
    """An expectation as MockServer returns it: the JSON it was given, defaults added."""
    result = {name: value for name, value in expectation.source.items() if name != "times"}
    result["id"] = expectation.id
    result["priority"] = expectation.priority
    result["times"] = {"unlimited": True} if remaining is None else {"remainingTimes": remaining}
    result.setdefault("timeToLive", {"unlimited": True})
    return dict(sorted(result.items()))


def matcher_as_request(matcher: RequestMatcher) -> Request:
    """An expectation's matcher in the shape of a request, for control-plane filters
    (MockServer matches a filter against the expectation's own httpRequest)."""

    def pairs(multimap: MultiMap) -> tuple[tuple[Any, Any], ...]:
        return tuple((entry.name, value) for entry in multimap.entries for value in entry.values)

    return Request(
        method=matcher.method or Pattern.literal(""),  # type: ignore[arg-type]
        path=matcher.path or Pattern.literal(""),  # type: ignore[arg-type]
        query=pairs(matcher.query),
        headers=pairs(matcher.headers),
        body=_matcher_body(matcher.body),
    )


def _matcher_body(body: Body | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, StringBody):
        return body.text.encode("utf-8")
    value = getattr(body, "expected", None)
    return json.dumps(value).encode("utf-8") if value is not None else b""


def jackson(value: Any, level: int = 0) -> str:
    """`value` as Jackson's DefaultPrettyPrinter writes it (objects indented, arrays
    inline), e.g. `{\\n  "path" : "/a",\\n  "headers" : [ "x" ]\\n}`."""
    if isinstance(value, dict):
        if not value:
            return "{ }"
        pad = "\n" + "  " * (level + 1)
        items = [f"{pad}{json.dumps(k)} : {jackson(v, level + 1)}" for k, v in value.items()]
        return "{" + ",".join(items) + "\n" + "  " * level + "}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(jackson(v, level) for v in value) + " ]"
    return json.dumps(value, ensure_ascii=False)


def matcher_json(matcher: Any) -> dict[str, Any]:
    """A request matcher's JSON (from an expectation's source) as MockServer prints
    the verified request: alphabetical keys, `!`/`?` markers and empty values dropped."""
    if not isinstance(matcher, dict):
        return {}
    result: dict[str, Any] = {}
    for name in sorted(matcher):
        value = matcher[name]
        if name in ("headers", "queryStringParameters", "pathParameters"):
            value = _matcher_multi(value)
        elif name == "cookies" and isinstance(value, list):
            value = {c.get("name"): c.get("value") for c in value if isinstance(c, dict)}
        if value in ("", {}, [], None):
            continue
        result[name] = _plain(value)
    return result


def _matcher_multi(value: Any) -> dict[str, Any]:
    if isinstance(value, list):
        entries = [(e.get("name"), e.get("values", [])) for e in value if isinstance(e, dict)]
    elif isinstance(value, dict):
        entries = [(k, v) for k, v in value.items() if k != "keyMatchStyle"]
    else:
        return {}
    return {
        _plain(k): [_plain(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in entries
    }


def _plain(value: Any) -> Any:
    """A string matcher's value without its `!`/`?` markers or object form."""
    if isinstance(value, str):
        return value.lstrip("!?") if len(value) > 1 else value
    if isinstance(value, dict) and "value" in value and set(value) <= {"not", "optional", "value"}:
        return _plain(value["value"])
    return value


def _multi(pairs: Any) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name, []).append(value)
    return result


def _header(headers: Any, name: str) -> str | None:
    return next((v for n, v in headers if n.lower() == name), None)


def _has(kind: str) -> bool:
    return any(marker in kind for marker in _JSON_MARKERS + _XML_MARKERS)


def _text(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None
