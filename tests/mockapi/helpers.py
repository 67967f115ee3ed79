"""Helpers of the mock API tests: free ports, HTTP requests that bypass any proxy,
and a real server in a thread."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from typing import Any

from ephemera.mockapi.app import MockApp
from ephemera.mockapi.expectations import parse
from ephemera.mockapi.server import Server, bind_socket
from ephemera.mockapi.settings import Settings


@dataclass
class Reply:
    status: int
    reason: str
    headers: Message  # names looked up ignoring case
    body: bytes


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it for port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    url: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    """One real HTTP request; error statuses are returned, not raised."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return Reply(response.status, response.reason, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.reason, error.headers, error.read())


def port_is_closed(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@contextmanager
def serving(app: MockApp, settings: Settings | None = None) -> Iterator[str]:
    """The app on a real uvicorn server on a free loopback port, in a thread; yields
    its base URL and stops the server afterwards."""
    sock = bind_socket("127.0.0.1", 0, "test")
    server = Server(app, sock, settings or Settings())
    app.port = server.port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        thread.join(10)


def app_of(*expectations: dict[str, Any], **kwargs: Any) -> MockApp:
    """A MockApp serving these expectations (parsed as an expectation file)."""
    return MockApp(parse(json.dumps(list(expectations)), "test.json"), **kwargs)


def raw_exchange(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes on a new connection; everything the server sends until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)
