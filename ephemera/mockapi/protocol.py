"""uvicorn's httptools protocol, with what a mock server needs beyond ASGI.

- a header timeout: a connection that has not sent a complete request head within
  `header_timeout` seconds of connecting (or of its last response) is closed, so idle
  and slow clients cannot hold connections (uvicorn's own keep-alive timeout only
  runs between requests and restarts on every byte);
- a limit on the size of the request line and headers (then 400, as any malformed
  request, logged as a warning without a traceback);
- header names as the client sent them (ASGI lower-cases them; MockServer records
  and templates them as received);
- MockServer's `reasonPhrase` (ASGI has no reason phrase: the status line is
  rewritten as it is written);
- the transport, for `httpError`, which writes raw bytes and drops the connection.

The app finds these in `scope["extensions"]["ephemera"]`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LOG = logging.getLogger("ephemera.mockapi")


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into a parse error (400)."""


class MockProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._extension: dict[str, Any] = {"transport": self.transport, "names": []}
        self.scope["extensions"] = {"ephemera": self._extension}

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value))
        self._extension["names"].append(name.decode("latin-1"))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_head_timer()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:
            hold = self.scope["method"] != "HEAD"
            self.cycle.transport = _ResponseTransport(self.transport, self._extension, hold)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_header_bytes:
            LOG.warning("request line and headers larger than %d bytes", self.max_header_bytes)
            raise HeadTooLarge

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()


class _ResponseTransport:
    """The transport as one request's cycle sees it. The status line gets the reason
    phrase the app asked for (`extension["reason"]`), and the head is written with the
    first body chunk, in one send instead of two (`hold`: a body write follows)."""

    def __init__(self, transport: asyncio.Transport, extension: dict[str, Any], hold: bool) -> None:
        self._transport = transport
        self._extension = extension
        self._held: bytes | None = None
        self._hold = hold

    def write(self, data: bytes) -> None:
        if self._held is not None:
            data, self._held = self._held + data, None
        elif data.startswith(b"HTTP/1.1 "):
            reason = self._extension.pop("reason", None)
            if reason is not None:
                end = data.index(b"\r\n")
                data = data[:12] + b" " + reason.encode("latin-1") + data[end:]
            if self._hold:
                self._held = data
                return
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        if self._held is not None:
            self._transport.write(self._held)
            self._held = None
        return getattr(self._transport, name)
