"""The mock API as a werkzeug WSGI app, and the threaded server that runs it.

The listening socket is bound here rather than by werkzeug, so that a port in use or a
bad address becomes an `EphemeraError` with a clear message (werkzeug prints its own
and calls `sys.exit`), and so that `process.start` can run the same check before it
spawns anything.
"""

from __future__ import annotations

import errno
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TextIO

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request as WsgiRequest
from werkzeug.wrappers import Response

from ephemera.errors import EphemeraError, UsageError
from ephemera.mockapi.matching import Request
from ephemera.mockapi.model import STATUS_PATH, Expectation, ResponseSpec
from ephemera.mockapi.store import ExpectationStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

VERSION = "ephemera-mockapi"


class MockApp:
    """Answers the health endpoint, then the first matching expectation, else 404."""

    def __init__(
        self,
        expectations: Iterable[Expectation],
        *,
        port: int = 0,
        log: TextIO | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = ExpectationStore(expectations)
        self.port = port  # reported by the health endpoint; set once the socket is bound
        self._log = log
        self._log_lock = threading.Lock()
        self._sleep = sleep

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        wsgi_request = WsgiRequest(environ)
        response, outcome = self.dispatch(wsgi_request)
        elapsed_ms = (time.monotonic() - started) * 1000
        self.log_request(wsgi_request, response.status_code, outcome, elapsed_ms)
        return response(environ, start_response)

    def dispatch(self, wsgi_request: WsgiRequest) -> tuple[Response, str]:
        if wsgi_request.path == STATUS_PATH and wsgi_request.method in ("GET", "PUT"):
            body = json.dumps({"ports": [self.port], "version": VERSION})
            return Response(body, content_type="application/json"), "status"
        expectation = self.store.take(to_request(wsgi_request))
        if expectation is None:
            return _response(ResponseSpec(status=404)), "no expectation matched"
        if expectation.response.delay > 0:
            self._sleep(expectation.response.delay)
        return _response(expectation.response), f"expectation {expectation.label}"

    def log_request(self, request: WsgiRequest, status: int, outcome: str, ms: float) -> None:
        if self._log is None:
            return
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        target = request.full_path if request.query_string else request.path
        line = f"{when} {request.remote_addr or '-'} {request.method} {target} {status} "
        line += f"{outcome} {ms:.0f}ms"
        with self._log_lock:
            self._log.write(line.translate(_CONTROL_CHARS) + "\n")
            self._log.flush()


_CONTROL_CHARS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


def to_request(wsgi_request: WsgiRequest) -> Request:
    return Request(
        method=wsgi_request.method,
        path=wsgi_request.path,
        query=tuple(wsgi_request.args.items(multi=True)),
        headers=tuple(wsgi_request.headers.items()),
        body=wsgi_request.get_data(cache=False),
    )


def _response(spec: ResponseSpec) -> Response:
    response = Response(spec.body, status=spec.status)
    del response.headers["Content-Type"]  # like MockServer: only the expectation's own
    for name, value in spec.headers:
        response.headers.add(name, value)
    reason = spec.reason or _standard_reason(spec.status)
    if reason:  # werkzeug's own phrases are upper case ("201 CREATED")
        response.status = f"{spec.status} {reason}"
    return response


def _standard_reason(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler without its access log: `MockApp` logs one line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def bind_socket(host: str, port: int, where: str) -> socket.socket:
    """A listening TCP socket on host:port, set up as werkzeug would set up its own."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    except socket.gaierror as exc:
        raise UsageError(f"{where}: MOCKAPI_BIND: cannot listen on {host!r}: {exc}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EphemeraError(
                f"{where}: port {port} on {host} is already in use by another program; "
                "stop it or choose another MOCKAPI_PORT"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(
                f"{where}: MOCKAPI_BIND: {host!r} is not an address of this machine"
            ) from None
        raise EphemeraError(f"{where}: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def create_server(
    expectations: Iterable[Expectation], host: str, port: int, *, log: TextIO | None, where: str
) -> BaseWSGIServer:
    """A threaded werkzeug server for the expectations, bound and listening."""
    sock = bind_socket(host, port, where)
    app = MockApp(expectations, log=log)
    try:
        server = make_server(
            host, port, app, threaded=True, request_handler=_RequestHandler, fd=sock.fileno()
        )
    finally:
        sock.close()  # werkzeug works on its own duplicate of the descriptor
    app.port = server.port
    return server


def serve(
    expectations: list[Expectation], host: str, port: int, *, out: TextIO = sys.stdout
) -> None:
    """Serve in the foreground until SIGTERM or SIGINT, logging one line per request."""
    where = "mockapi serve"
    server = create_server(expectations, host, port, log=out, where=where)

    def shut_down(signum: int, frame: Any) -> None:
        # shutdown() waits for serve_forever() to return: call it from another thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    url = f"http://{format_host(host)}:{server.port}"
    out.write(f"mock API listening on {url} with {len(expectations)} expectation(s)\n")
    out.flush()
    server.serve_forever(poll_interval=0.2)
    out.write("mock API stopped\n")
    out.flush()


def format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
