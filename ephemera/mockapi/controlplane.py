"""MockServer's REST control plane (`mock/HttpState.java#handle`, under
mockserver-core/src/main/java/org/mockserver/; its OpenAPI document
`openapi/mock-server-openapi-embedded-model.yaml`).

Only `PUT` on `/mockserver/<name>` or the legacy `/<name>` is the control plane, so
these paths never reach user expectations, and their requests are never recorded.
`GET /mockserver/status` also answers (the health probe). Every endpoint but status
needs `Authorization: Bearer <token>` when a token is set (MockServer: 401
`Unauthorized for control plane`).

| endpoint | success | errors |
|---|---|---|
| expectation | 201, the expectations as stored (a JSON array) | 400, nothing added |
| clear | 200 (`type` all, log, expectations; a matcher or `{"id": …}`) | 400 |
| reset | 200: no expectations, empty journal; the file is not loaded again | |
| retrieve | 200 (`type` REQUESTS, REQUEST_RESPONSES, ACTIVE_EXPECTATIONS, LOGS, …) | 400 |
| verify, verifySequence | 202 | 406 with the message (text), 400 |
| status | 200 `{"ports": [...], "version": ...}` | |
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ephemera.errors import UsageError
from ephemera.mockapi import verify
from ephemera.mockapi.checker import check_request
from ephemera.mockapi.expectations import parse_api, read_lenient
from ephemera.mockapi.journal import Entry, Journal
from ephemera.mockapi.model import RequestMatcher
from ephemera.mockapi.store import ExpectationStore
from ephemera.mockapi.wire import expectation_json, jackson, request_json, response_json

VERSION = "ephemera-mockapi"
PREFIX = "/mockserver"
ENDPOINTS = (
    "expectation",
    "clear",
    "reset",
    "retrieve",
    "verify",
    "verifySequence",
    "status",
    "bind",
    "stop",
)
CLEAR_TYPES = ("log", "expectations", "all")
RETRIEVE_TYPES = (
    "logs",
    "requests",
    "request_responses",
    "recorded_expectations",
    "active_expectations",
)
FORMATS = ("java", "json", "log_entries")
LOG_SEPARATOR = "\n------------------------------------\n"
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"
_NO_FILTER = ("", '""', "null", "{}")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def text(status: int, message: str) -> Reply:
    return Reply(status, message.encode("utf-8"), TEXT_TYPE)


def as_json(status: int, value: Any) -> Reply:
    return Reply(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), JSON_TYPE)


def route(method: str, path: str) -> str | None:
    """The endpoint a request is for, or None for the data plane."""
    name = path[len(PREFIX) + 1 :] if path.startswith(PREFIX + "/") else path[1:]
    if name not in ENDPOINTS:
        return None
    if method == "PUT" or (method == "GET" and path == PREFIX + "/status"):
        return name
    return None


class ControlPlane:
    def __init__(
        self,
        store: ExpectationStore,
        journal: Journal,
        *,
        ports: Callable[[], list[int]],
        token: str | None = None,
    ) -> None:
        self.store = store
        self.journal = journal
        self._ports = ports
        self._token = token

    def handle(
        self, name: str, path: str, query: list[tuple[str, str]], auth: str | None, body: bytes
    ) -> Reply:
        where = f"PUT {PREFIX}/{name}"
        try:
            if name != "status" and not self._authorized(auth):
                reply = text(401, "Unauthorized for control plane")
            else:
                reply = getattr(self, "_" + name.lower())(dict(query), _decode(body, where), where)
        except UsageError as exc:
            reply = text(400, exc.message)
        if not path.startswith(PREFIX + "/"):
            reply.headers.append(
                ("deprecated", f'"{path}" is deprecated use "{PREFIX}{path}" instead')
            )
        reply.headers.append(("version", VERSION))
        return reply

    def _authorized(self, auth: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return auth is not None and hmac.compare_digest(auth.encode(), expected)

    # endpoints -----------------------------------------------------------------------

    def _status(self, query: dict[str, str], body: str, where: str) -> Reply:
        return as_json(200, {"ports": self._ports(), "version": VERSION})

    def _expectation(self, query: dict[str, str], body: str, where: str) -> Reply:
        stored = self.store.add(parse_api(body, where))
        return as_json(201, [expectation_json(s.expectation, s.remaining) for s in stored])

    def _reset(self, query: dict[str, str], body: str, where: str) -> Reply:
        self.store.reset()
        self.journal.clear()
        return Reply(200)

    def _clear(self, query: dict[str, str], body: str, where: str) -> Reply:
        _only(query, ("type",), where)
        kind = _choice(query, "type", "all", CLEAR_TYPES)
        ident, matcher = self._filter(body, where)
        if ident is not None:
            matcher = self.store.matcher_of(ident)
            if matcher is None:
                raise UsageError(f"No expectation found with id {ident}")
        if kind in ("log", "all"):
            self.journal.clear(matcher)
        if kind in ("expectations", "all"):
            self.store.remove(matcher, ident)
        return Reply(200)

    def _retrieve(self, query: dict[str, str], body: str, where: str) -> Reply:
        _only(query, ("type", "format"), where)
        kind = _choice(query, "type", "requests", RETRIEVE_TYPES)
        form = _choice(query, "format", "json", FORMATS)
        if form == "java":
            raise UsageError(f"{where}: format java is not supported by the local mock API")
        if form == "log_entries" and kind != "logs":
            raise UsageError(f"LOG_ENTRIES not supported for {kind.upper()}")
        ident, matcher = self._filter(body, where)
        if kind == "active_expectations":
            stored = [
                s for s in self.store.active(matcher) if ident is None or s.expectation.id == ident
            ]
            return as_json(200, [expectation_json(s.expectation, s.remaining) for s in stored])
        if kind == "recorded_expectations":
            return as_json(200, [])  # only forwarded traffic is recorded, and there is none
        entries = self.journal.served_by(ident) if ident else self.journal.entries(matcher)
        if kind == "requests":
            return as_json(200, [request_json(e.request) for e in entries])
        if kind == "request_responses":
            return as_json(200, [_request_response(e) for e in entries if e.answer])
        logs = [(_timestamp(e.timestamp), _log_message(e)) for e in entries]
        if form == "log_entries":
            return as_json(200, [{"timestamp": t, "message": m} for t, m in logs])
        return text(200, LOG_SEPARATOR.join(f"{t} - {m}" for t, m in logs) + "\n")

    def _verify(self, query: dict[str, str], body: str, where: str) -> Reply:
        failure = verify.verify(read_lenient(body or "{}", where), self.store, self.journal, where)
        return Reply(202) if failure is None else text(406, failure)

    def _verifysequence(self, query: dict[str, str], body: str, where: str) -> Reply:
        document = read_lenient(body or "{}", where)
        failure = verify.verify_sequence(document, self.store, self.journal, where)
        return Reply(202) if failure is None else text(406, failure)

    def _bind(self, query: dict[str, str], body: str, where: str) -> Reply:
        return text(400, f"{where}: binding more ports is not supported by the local mock API")

    def _stop(self, query: dict[str, str], body: str, where: str) -> Reply:
        return text(400, f"{where}: stop the local mock API with `python -m ephemera.mockapi stop`")

    def _filter(self, body: str, where: str) -> tuple[str | None, RequestMatcher | None]:
        """A body of `{"id": …}` (an expectation id), a request matcher, or nothing."""
        if body.strip() in _NO_FILTER:
            return None, None
        document = read_lenient(body, where)
        if document is None or document == "" or document == {}:
            return None, None
        if isinstance(document, dict) and set(document) == {"id"}:
            if not isinstance(document["id"], str):
                raise UsageError(f"{where}: id: must be a string")
            return document["id"], None
        return None, check_request(document, where)


def _decode(body: bytes, where: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{where}: the body is not UTF-8 text") from None


def _only(query: dict[str, str], allowed: tuple[str, ...], where: str) -> None:
    """Refuse parameters this server does not know (MockServer 5 ignores them, so a
    newer client's filtered clear would clear everything)."""
    for name in query:
        if name not in allowed:
            raise UsageError(
                f"{where}: query parameter {name!r} is not supported by the local mock API"
            )


def _choice(query: dict[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = query.get(name, default).lower()
    if value not in allowed:
        raise UsageError(
            f'"{query[name]}" is not a valid value for "{name}" parameter, only the following '
            f"values are supported [{', '.join(allowed)}]"
        )
    return value


def _timestamp(seconds: float) -> str:
    """MockServer's log timestamp: `yyyy-MM-dd HH:mm:ss.SSS`, local time."""
    return (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))
        + f".{int(seconds * 1000) % 1000:03d}"
    )


def _request_response(entry: Entry) -> dict[str, Any]:
    assert entry.answer is not None
    return {
        "httpRequest": request_json(entry.request),
        "httpResponse": response_json(entry.answer.status, entry.answer.headers, entry.answer.body),
        "timestamp": _timestamp(entry.timestamp),
    }


def _log_message(entry: Entry) -> str:
    message = f"received request:\n\n  {jackson(request_json(entry.request))}\n"
    if entry.answer is not None and entry.expectation_id is not None:
        message += f"\nreturned response from expectation {entry.expectation_id}\n"
    elif entry.answer is not None:
        message += "\nno expectation for request: returned response 404\n"
    return message
