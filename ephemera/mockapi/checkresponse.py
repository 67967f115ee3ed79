"""The actions of an expectation: `httpResponse`, `httpResponseTemplate`, `httpError`.

Response bodies follow mockserver-core/.../serialization/deserializers/body/
BodyWithContentTypeDTODeserializer.java; the Content-Type a body implies and the
Set-Cookie header of each response cookie follow
mockserver-core/.../mappers/MockServerHttpResponseToFullHttpResponse.java.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ephemera.mockapi import templates
from ephemera.mockapi.checkbase import UNSUPPORTED, is_int, key
from ephemera.mockapi.checkbodies import MISSING, BodyChecks
from ephemera.mockapi.model import TIME_UNITS, ErrorSpec, ResponseSpec, TemplateSpec

RESPONSE_FIELDS = ("statusCode", "reasonPhrase", "headers", "cookies", "body", "delay")
RESPONSE_BODY_TYPES = ("BINARY", "JSON", "STRING", "XML")
# Framing and hop-by-hop headers belong to the HTTP server, not to the app.
SERVER_HEADERS = frozenset(
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
_DEFAULT_CONTENT_TYPES = {"JSON": "application/json", "XML": "application/xml"}


class ResponseChecks(BodyChecks):
    def response(self, obj: Any, where: str) -> ResponseSpec:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object")
            return ResponseSpec()
        self.unsupported(obj, where, RESPONSE_FIELDS)
        status = obj.get("statusCode", 200)
        if not is_int(status) or not 100 <= status <= 599:
            self.problem(key(where, "statusCode"), "must be an HTTP status code (100-599)")
        reason = obj.get("reasonPhrase")
        if reason is not None and (not isinstance(reason, str) or _has_newline(reason)):
            self.problem(key(where, "reasonPhrase"), "must be a one-line string")
        headers = self.response_headers(obj.get("headers", []), key(where, "headers"))
        body, content_type = b"", None
        if "body" in obj:
            body, content_type = self.response_body(obj["body"], key(where, "body"))
        if content_type and not any(n.lower() == "content-type" for n, _ in headers):
            headers.append(("Content-Type", content_type))
        if "cookies" in obj:
            self.response_cookies(obj["cookies"], key(where, "cookies"), headers)
        return ResponseSpec(
            status=status if is_int(status) else 200,
            reason=reason if isinstance(reason, str) else None,
            headers=tuple(headers),
            body=body,
            delay=self.delay_of(obj, where),
        )

    def response_headers(self, value: Any, where: str) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        for name, at, values in self.multimap(value, where):
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                self.problem(at, "not a valid HTTP header name")
                continue
            if name.lower() in SERVER_HEADERS:
                self.problem(at, "set by the local mock API's HTTP server; remove it")
            for text, text_at in values:
                if self.header_value(text, text_at):
                    headers.append((name, text))
        return headers

    def header_value(self, text: Any, where: str) -> bool:
        if not isinstance(text, str):
            self.problem(where, "must be a string")
            return False
        if _has_newline(text):
            self.problem(where, "must not contain line breaks")
            return False
        return True

    def response_cookies(self, value: Any, where: str, headers: list[tuple[str, str]]) -> None:
        """A `Set-Cookie: name=value` per cookie, unless the headers already have it."""
        if isinstance(value, dict):
            pairs = [(n, v, key(where, n)) for n, v in value.items()]
        elif isinstance(value, list) and all(isinstance(c, dict) for c in value):
            pairs = [(c.get("name"), c.get("value"), f"{where}[{i}]") for i, c in enumerate(value)]
        else:
            self.problem(where, 'must be an object or a list of {"name", "value"} objects')
            return
        existing = {
            v.split(";")[0].strip().lower() for n, v in headers if n.lower() == "set-cookie"
        }
        for name, cookie_value, at in pairs:
            if not isinstance(name, str) or not _TOKEN.fullmatch(name):
                self.problem(at, "not a valid cookie name")
            elif self.header_value(cookie_value, at) and ";" in cookie_value:
                self.problem(at, "must not contain ';' (put attributes in a Set-Cookie header)")
            elif f"{name}={cookie_value}".lower() not in existing:
                headers.append(("Set-Cookie", f"{name}={cookie_value}"))

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
            self.problem(key(where, "contentType"), "must be a one-line string")
            content_type = None
        kind = value["type"]
        if kind not in RESPONSE_BODY_TYPES:
            supported = ", ".join(RESPONSE_BODY_TYPES)
            if isinstance(kind, str):
                self.problem(
                    key(where, "type"), f"{kind!r} is {UNSUPPORTED} (supported: {supported})"
                )
            else:
                self.problem(key(where, "type"), f"must be one of {supported}")
            return b"", None
        body = self.typed_response_body(kind, value, where)
        if body is None:
            return b"", None
        return body, content_type or _DEFAULT_CONTENT_TYPES.get(kind)

    def typed_response_body(self, kind: str, value: dict[str, Any], where: str) -> bytes | None:
        if kind == "BINARY":
            self.unsupported(value, where, ("type", "base64Bytes", "contentType"))
            return self.base64(value, "base64Bytes", where)
        if kind == "JSON":
            self.unsupported(value, where, ("type", "json", "contentType"))
            parsed = self.json_value(value, "json", where)
            if parsed is MISSING:
                return None
            raw = value["json"]
            return raw.encode("utf-8") if isinstance(raw, str) else _dump(parsed)
        name = "xml" if kind == "XML" and "xml" in value else "string"
        self.unsupported(value, where, ("type", name, "contentType"))
        text = self.text(value, name, where)
        return text.encode("utf-8") if text is not None else None

    def delay_of(self, obj: dict[str, Any], where: str) -> float:
        return self.delay(obj["delay"], key(where, "delay")) if "delay" in obj else 0.0

    def delay(self, obj: Any, where: str) -> float:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object with timeUnit and value")
            return 0.0
        self.unsupported(obj, where, ("timeUnit", "value"))
        return self.duration(obj, "value", where)

    def duration(self, obj: dict[str, Any], name: str, where: str) -> float:
        unit = obj.get("timeUnit")
        value = obj.get(name)
        if unit not in TIME_UNITS:
            self.problem(key(where, "timeUnit"), f"must be one of {', '.join(TIME_UNITS)}")
        if not is_int(value) or value < 0:
            self.problem(key(where, name), "must be an integer of at least 0")
        if unit in TIME_UNITS and is_int(value) and value >= 0:
            return value * TIME_UNITS[unit]
        return 0.0

    # the other actions -----------------------------------------------------------------

    def template(self, obj: Any, where: str) -> TemplateSpec | None:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object")
            return None
        self.unsupported(obj, where, ("templateType", "template", "delay"))
        engine = obj.get("templateType")
        text = self.text(obj, "template", where)
        delay = self.delay_of(obj, where)
        at = key(where, "templateType")
        if engine == "JAVASCRIPT":
            self.problem(at, templates.JAVASCRIPT_REFUSED)
            return None
        if engine not in templates.ENGINES:
            self.problem(at, f"must be one of {', '.join(templates.ENGINES)}")
            return None
        if text is None:
            return None
        try:
            compiled = templates.compile_template(engine, text)
        except templates.TemplateError as exc:
            self.problem(key(where, "template"), str(exc))
            return None
        return TemplateSpec(engine, text, compiled, delay)

    def error(self, obj: Any, where: str) -> ErrorSpec | None:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object")
            return None
        self.unsupported(obj, where, ("dropConnection", "responseBytes", "delay"))
        drop = self.flag(obj, "dropConnection", where)
        data = b""
        if "responseBytes" in obj:
            data = self.base64(obj, "responseBytes", where) or b""
        return ErrorSpec(drop, data, self.delay_of(obj, where))


def _has_newline(text: str) -> bool:
    return "\r" in text or "\n" in text


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")
