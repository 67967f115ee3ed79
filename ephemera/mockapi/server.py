"""The server under the mock API: uvicorn (one asyncio event loop, uvloop when
installed, httptools for HTTP/1.1 with keep-alive) running `MockApp`.

Bounded by design: one process, one loop; at most `max_connections` connections are
served at once (uvicorn's `limit_concurrency`: past it, 503); a connection must send
its request head within `header_timeout` and may idle `idle_timeout` between
requests; request heads are capped (`protocol.MockProtocol`) and bodies too
(`MockApp`, 413). A delayed response waits on the loop, not in a thread.

The listening socket is bound here rather than by uvicorn, so that a port in use or a
bad address becomes an `EphemeraError` with a clear message, and so that
`process.start` can run the same check before it spawns anything.
"""

from __future__ import annotations

import errno
import signal
import socket
from typing import Any

import uvicorn

from ephemera.errors import EphemeraError, UsageError
from ephemera.mockapi import requestlog
from ephemera.mockapi.app import Limits, MockApp
from ephemera.mockapi.controltoken import ensure_token
from ephemera.mockapi.expectations import load_file
from ephemera.mockapi.protocol import MockProtocol
from ephemera.mockapi.settings import Settings

SHUTDOWN_GRACE = 3  # seconds open responses get on SIGTERM


def bind_socket(
    host: str, port: int, where: str, options: tuple[str, str] = ("MOCKAPI_BIND", "MOCKAPI_PORT")
) -> socket.socket:
    """A listening TCP socket on host:port; errors name the `options` that set them
    (host, port): the mock API's variables, or the provisioning API's --host/--port."""
    host_option, port_option = options
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        address = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)[0][4]
    except socket.gaierror as exc:
        raise UsageError(f"{where}: {host_option}: cannot listen on {host!r}: {exc}") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(1024)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise EphemeraError(
                f"{where}: port {port} on {host} is already in use by another program; "
                f"stop it or choose another {port_option}"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise UsageError(
                f"{where}: {host_option}: {host!r} is not an address of this machine"
            ) from None
        raise EphemeraError(f"{where}: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


class Server:
    """An ASGI app served on a bound socket until `stop()` (or SIGTERM/SIGINT when
    run in the main thread)."""

    def __init__(self, app: Any, sock: socket.socket, settings: Settings) -> None:
        protocol = type(
            "ConfiguredProtocol",
            (MockProtocol,),
            {"header_timeout": settings.header_timeout},
        )
        self.sock = sock
        self.port = int(sock.getsockname()[1])
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                http=protocol,
                lifespan="off",
                access_log=False,
                log_config=None,
                server_header=False,
                date_header=False,
                proxy_headers=False,
                limit_concurrency=settings.max_connections,
                timeout_keep_alive=settings.idle_timeout,
                timeout_graceful_shutdown=SHUTDOWN_GRACE,
            )
        )

    def run(self) -> None:
        """Serve until stopped; returns once every connection is closed."""
        self._server.run(sockets=[self.sock])

    def stop(self) -> None:
        self._server.should_exit = True

    @property
    def started(self) -> bool:
        return bool(self._server.started)


def format_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def serve(settings: Settings) -> None:
    """Serve the expectation file in the foreground until SIGTERM or SIGINT, logging
    one line per request."""
    where = "mockapi serve"
    path = settings.require_expectations(where)
    expectations = load_file(path)
    token = ensure_token(settings.require_token_file(where), where)
    sock = bind_socket(settings.bind, settings.port, where)
    log = requestlog.setup(
        settings.log, max_bytes=settings.log_max_bytes, backups=settings.log_backups
    )
    limits = Limits(max_body=settings.max_body, journal_size=settings.journal_size)
    app = MockApp(
        expectations,
        source=str(path),
        limits=limits,
        token=token,
        log=requestlog.RequestLog(log),
    )
    server = Server(app, sock, settings)
    app.port = server.port
    # uvicorn re-raises the signal that stopped it once it has shut down; with these
    # handlers that is harmless, so the log ends with "stopped" and the exit code is 0
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    signal.signal(signal.SIGINT, lambda signum, frame: None)
    url = f"http://{format_host(settings.bind)}:{server.port}"
    log.write(f"mock API listening on {url} with {len(expectations)} expectation(s)", now=True)
    try:
        server.run()
    finally:
        log.write("mock API stopped", now=True)
        log.close()
