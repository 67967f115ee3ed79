"""ephemera.health: the one HTTP probe (the status command's health column and the
local mock API's readiness), direct to loopback hosts even behind a proxy."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ephemera import health
from ephemera.mockapi import process


class _Handler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]]  # (method, request target) of each request

    def _answer(self) -> None:
        self.seen.append((self.command, self.path))
        code = 500 if self.path.endswith("/broken") else 404 if "missing" in self.path else 200
        body = b'{"version": "not-a-mock-api"}'
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """`handler` served on 127.0.0.1 in a thread; its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A server on 127.0.0.1: (its base URL, the requests it saw)."""
    seen: list[tuple[str, str]] = []
    with serving(type("Handler", (_Handler,), {"seen": seen})) as base:
        yield base, seen


@pytest.fixture
def unused_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY names a port nothing listens on; NO_PROXY is unset."""
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")


def test_answers_below_500_are_healthy(server, unused_proxy) -> None:
    base, seen = server
    assert health.is_healthy(f"{base}/") is True
    assert health.is_healthy(f"{base}/missing") is True  # it answers: up
    assert health.is_healthy(f"{base}/broken") is False
    assert health.is_healthy(f"{base}/mockserver/status") is True
    assert seen == [
        ("GET", "/"),
        ("GET", "/missing"),
        ("GET", "/broken"),
        ("PUT", "/mockserver/status"),
    ]
    assert health.is_healthy(None) is None
    assert health.is_healthy("file:///etc/passwd") is False


def test_localhost_is_reached_directly_behind_a_proxy(server, unused_proxy) -> None:
    base, _ = server
    port = base.rsplit(":", 1)[1]
    assert health.is_healthy(f"http://localhost:{port}/") is True
    answer = health.probe(f"{base}/missing")
    assert answer == health.Answer(404, b'{"version": "not-a-mock-api"}')


def test_other_hosts_follow_the_proxy_variables(server, monkeypatch) -> None:
    base, seen = server
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", base)
    monkeypatch.setenv("http_proxy", base)
    # the "proxy" (our server) answers for a host that does not exist
    assert health.is_healthy("http://env.example.invalid/health") is True
    assert seen == [("GET", "http://env.example.invalid/health")]
    # asked to connect directly, there is no such host
    assert health.probe("http://env.example.invalid/health", direct=True, timeout=5) is None


def test_nothing_listening_is_unhealthy(unused_proxy) -> None:
    assert health.is_healthy("http://127.0.0.1:9/", timeout=1) is False
    assert health.probe("http://127.0.0.1:9/", timeout=1) is None


def test_the_mock_api_probe_is_the_same_probe(server, unused_proxy) -> None:
    base, seen = server
    # a server answering 200 that is not a mock API; through the proxy it would fail
    assert not process.is_healthy(f"{base}/mockserver/status")
    assert seen == [("GET", "/mockserver/status")]
    assert process.probe is health.probe


# --- many at once, under one deadline ------------------------------------------------


@pytest.fixture
def silent() -> Iterator[str]:
    """A URL whose host takes connections and never answers (nor accepts, past its
    backlog): what a hung or firewalled environment looks like."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/mockserver/status"
    finally:
        listener.close()


@pytest.fixture
def together() -> Iterator[tuple[str, int]]:
    """A server that answers nobody until WAITING requests are in at the same time:
    only probes that run concurrently can get an answer from it."""
    waiting = 8
    barrier = threading.Barrier(waiting, timeout=30)

    class Together(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:  # noqa: N802 - http.server's naming
            barrier.wait()
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    with serving(Together) as base:
        try:
            yield base, waiting
        finally:
            barrier.abort()


def test_probes_run_at_the_same_time(together, unused_proxy) -> None:
    base, waiting = together
    urls = [f"{base}/{index}/mockserver/status" for index in range(waiting)]
    assert health.check_all(urls, deadline=20) == dict.fromkeys(urls, health.HEALTHY)


def test_what_does_not_answer_in_time_is_unknown_never_healthy(
    server, silent, unused_proxy
) -> None:
    base, _ = server
    urls = [f"{base}/", f"{base}/broken", "http://127.0.0.1:9/", silent]
    assert health.check_all(urls, deadline=1) == {
        f"{base}/": health.HEALTHY,
        f"{base}/broken": health.UNHEALTHY,  # an answer, and a bad one
        "http://127.0.0.1:9/": health.UNHEALTHY,  # nothing takes the connection
        silent: health.UNKNOWN,  # no answer by the deadline
    }


def test_probes_that_never_started_are_unknown(server, silent, unused_proxy, monkeypatch) -> None:
    """Behind MAX_PARALLEL silent hosts, the rest never get a turn before the deadline:
    a healthy one among them is unknown, never probed."""
    base, seen = server
    monkeypatch.setattr(health, "MAX_PARALLEL", 1)
    urls = [silent, f"{base}/"]
    assert health.check_all(urls, deadline=1) == dict.fromkeys(urls, health.UNKNOWN)
    assert seen == []


TRICKLE_CLIENT = """
import sys
from ephemera import health
print(health.check_all([sys.argv[1]], deadline=0.5)[sys.argv[1]], flush=True)
"""


def test_a_straggling_probe_does_not_hold_the_process(unused_proxy) -> None:
    """A server that sends a byte at a time keeps a socket timeout from ever firing; the
    process that asked still ends when it is done (the probe threads are not joined at
    exit). Without that, this child would never exit."""
    import socket
    import subprocess
    import sys

    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 100_000:
                if stop.wait(0.05):
                    return
                connection.sendall(bytes([byte]))

    threading.Thread(target=trickle, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mockserver/status"
    try:
        done = subprocess.run(
            [sys.executable, "-c", TRICKLE_CLIENT, url],
            capture_output=True,
            text=True,
            timeout=60,  # a fail-safe: the answer is due at the 0.5 s deadline
        )
    finally:
        stop.set()
        listener.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == health.UNKNOWN


def test_nothing_to_probe_is_nothing(unused_proxy) -> None:
    assert health.check_all([], deadline=1) == {}
