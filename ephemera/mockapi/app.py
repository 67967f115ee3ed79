"""The mock API as an ASGI app: the control plane, then the first matching
expectation, else 404 (MockServer's `HttpActionHandler#processAction`).

Every data-plane request goes into the journal with the response it got. A request
body past `max_body` bytes is refused with 413 before it is read whole. A response
waits its `delay` without holding anything but its own connection.
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from ephemera.mockapi import templates
from ephemera.mockapi.checker import check_response
from ephemera.mockapi.controlplane import ControlPlane, Reply, route
from ephemera.mockapi.journal import Answer, Journal
from ephemera.mockapi.matching import Request, path_parameters
from ephemera.mockapi.model import ErrorSpec, Expectation, ExpectationsError, ResponseSpec
from ephemera.mockapi.settings import Settings
from ephemera.mockapi.store import ExpectationStore

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
RequestLog = Callable[[str, str, str, int, str, float], None]


class Disconnected(Exception):
    pass


@dataclass(frozen=True)
class Limits:
    max_body: int = Settings.max_body
    journal_size: int = Settings.journal_size


class MockApp:
    def __init__(
        self,
        expectations: Iterable[Expectation] = (),
        *,
        source: str = "",
        limits: Limits = Limits(),
        token: str | None = None,
        log: RequestLog | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = ExpectationStore(expectations, source=source, clock=clock)
        self.journal = Journal(limits.journal_size, clock)
        self.port = 0  # reported by the status endpoint; set once the socket is bound
        self.control = ControlPlane(
            self.store, self.journal, ports=lambda: [self.port], token=token
        )
        self._limits = limits
        self._log = log
        self._sleep = sleep

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        try:
            status, outcome = await self._handle(scope, receive, send)
        except Disconnected:
            status, outcome = 499, "client went away"
        if self._log is not None:
            elapsed = (time.perf_counter() - started) * 1000
            self._log(_client(scope), scope["method"], _target(scope), status, outcome, elapsed)

    async def _handle(self, scope: dict[str, Any], receive: Receive, send: Send) -> tuple[int, str]:
        method = scope["method"]
        path = scope["raw_path"].decode("latin-1")  # as MockServer: not percent-decoded
        headers = _headers(scope)
        body = await _read_body(receive, headers, self._limits.max_body)
        if body is None:
            await _send(send, scope, Reply(413, b"", None, [("Connection", "close")]))
            return 413, f"body larger than {self._limits.max_body} bytes"
        endpoint = route(method, path)
        if endpoint is not None:
            query = _query(scope)
            auth = next((v for n, v in headers if n.lower() == "authorization"), None)
            reply = self.control.handle(endpoint, path, query, auth, body)
            await _send(send, scope, reply)
            return reply.status, f"control plane {endpoint}"
        request = Request(
            method, path, tuple(_query(scope)), tuple(headers), body, _keep_alive(scope, headers)
        )
        expectation = self.store.take(request)
        entry = self.journal.record(request, expectation.id if expectation else None)
        if expectation is None:
            await _send(send, scope, Reply(404))
            entry.answer = Answer(404, [], b"")
            return 404, "no expectation matched"
        label = f"expectation {expectation.label}"
        action = expectation.response
        if isinstance(action, ErrorSpec):
            await self._error(action, scope, receive)
            return 0, f"{label}: httpError"
        try:
            response = self._response(expectation, request)
        except (templates.TemplateError, ExpectationsError) as exc:
            await _send(send, scope, Reply(404))
            entry.answer = Answer(404, [], b"")
            return 404, f"{label}: {exc}".replace("\n", "; ")
        if response.delay > 0:
            await self._sleep(response.delay)
        await _send(
            send,
            scope,
            Reply(response.status, response.body, None, list(response.headers)),
            response.reason,
        )
        entry.answer = Answer(response.status, list(response.headers), response.body)
        return response.status, label

    def _response(self, expectation: Expectation, request: Request) -> ResponseSpec:
        action = expectation.response
        if isinstance(action, ResponseSpec):
            return action
        assert not isinstance(action, ErrorSpec)
        found = (
            path_parameters(expectation.request, request.path)
            if expectation.request.path_parameters
            else ()
        )
        model = templates.request_model(
            request.method,
            request.path,
            list(request.headers),
            list(request.query),
            list(request.cookies),
            list(found or ()),
            request.body,
            request.keep_alive,
        )
        output = templates.parse_output(templates.render(action.engine, action.compiled, model))
        response = check_response(output, f"template of expectation {expectation.label}")
        delay = action.delay or response.delay
        return ResponseSpec(
            response.status, response.reason, response.headers, response.body, delay
        )

    async def _error(self, action: ErrorSpec, scope: dict[str, Any], receive: Receive) -> None:
        """MockServer's HttpErrorActionHandler: the bytes, written past HTTP; then the
        connection dropped, or left open until the client goes."""
        if action.delay > 0:
            await self._sleep(action.delay)
        transport = scope["extensions"]["ephemera"]["transport"]
        if action.data:
            transport.write(action.data)
        if action.drop_connection:
            transport.close()
        while (await receive())["type"] != "http.disconnect":
            pass


async def _read_body(receive: Receive, headers: list[tuple[str, str]], limit: int) -> bytes | None:
    """The whole body, or None past `limit` bytes (declared or received)."""
    declared = next((v for n, v in headers if n.lower() == "content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send(send: Send, scope: dict[str, Any], reply: Reply, reason: str | None = None) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in reply.headers]
    if reply.content_type is not None:
        headers.append((b"content-type", reply.content_type.encode("latin-1")))
    headers.append((b"content-length", str(len(reply.body)).encode("ascii")))
    extension = scope.get("extensions", {}).get("ephemera")
    if reason is not None and reason != _standard_reason(reply.status) and extension is not None:
        extension["reason"] = reason  # written into the status line by MockProtocol
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


def _standard_reason(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


def _headers(scope: dict[str, Any]) -> list[tuple[str, str]]:
    """The request headers, their names as the client sent them."""
    names = scope.get("extensions", {}).get("ephemera", {}).get("names")
    pairs = scope["headers"]
    if names is None or len(names) != len(pairs):
        names = [name.decode("latin-1") for name, _ in pairs]
    return [(name, value.decode("latin-1")) for name, (_, value) in zip(names, pairs, strict=True)]


def _query(scope: dict[str, Any]) -> list[tuple[str, str]]:
    """Netty's QueryStringDecoder: `+` and `%xx` decoded, a bare name has the value ""."""
    if not scope["query_string"]:
        return []
    text = scope["query_string"].decode("utf-8", errors="replace")
    return urllib.parse.parse_qsl(text, keep_blank_values=True)


def _keep_alive(scope: dict[str, Any], headers: list[tuple[str, str]]) -> bool:
    connection = next((v.lower() for n, v in headers if n.lower() == "connection"), "")
    if scope.get("http_version") == "1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _client(scope: dict[str, Any]) -> str:
    client = scope.get("client")
    return client[0] if client else "-"


def _target(scope: dict[str, Any]) -> str:
    path = scope["raw_path"].decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    return f"{path}?{query}" if query else path
