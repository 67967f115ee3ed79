"""The ASGI app on the real uvicorn server (in a thread): responses, and the limits of
a real server (body size, malformed requests, head timeout, keep-alive, log)."""

from __future__ import annotations

import io
import json
import logging
import socket
import time
from typing import Any

import pytest

from ephemera.errors import EphemeraError, UsageError
from ephemera.mockapi import requestlog
from ephemera.mockapi.app import Limits
from ephemera.mockapi.server import bind_socket
from ephemera.mockapi.settings import Settings

from .helpers import app_of, http, raw_exchange, serving


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_health_endpoint_answers_put_and_get() -> None:
    with serving(app_of()) as url:
        for method in ("PUT", "GET"):
            response = http(url + "/mockserver/status", method=method)
            assert response.status == 200
            assert response.headers["content-type"] == "application/json; charset=utf-8"
            assert json.loads(response.body) == {
                "ports": [port_of(url)],
                "version": "ephemera-mockapi",
            }


def test_health_endpoint_wins_over_expectations() -> None:
    catch_all = {"httpRequest": {"path": "/.*"}, "httpResponse": {"statusCode": 500}}
    with serving(app_of(catch_all)) as url:
        assert http(url + "/mockserver/status", method="PUT").status == 200
        assert http(url + "/anything").status == 500


def test_unmatched_request_is_404_with_empty_body() -> None:
    with serving(app_of()) as url:
        response = http(url + "/nothing")
    assert (response.status, response.body) == (404, b"")
    assert "content-type" not in response.headers
    assert response.headers["content-length"] == "0"


def test_response_status_reason_headers_and_body() -> None:
    app = app_of(
        {
            "httpRequest": {"method": "POST", "path": "/pets"},
            "httpResponse": {
                "statusCode": 201,
                "headers": {"Location": "/pets/3", "X-Multi": ["a", "b"]},
                "body": {"id": 3},
            },
        },
        {
            "httpRequest": {"path": "/teapot"},
            "httpResponse": {"statusCode": 418, "reasonPhrase": "Short And Stout"},
        },
        {"httpRequest": {"path": "/text"}, "httpResponse": {"body": "plain"}},
    )
    with serving(app) as url:
        created = raw_exchange(
            port_of(url),
            b"POST /pets HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        )
        teapot = http(url + "/teapot")
        text = http(url + "/text")
    head, _, body = created.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 201 Created"
    assert {
        "location: /pets/3",
        "x-multi: a",
        "x-multi: b",
        "content-type: application/json",
    } <= set(lines)
    assert json.loads(body) == {"id": 3}
    assert (teapot.status, teapot.reason) == (418, "Short And Stout")
    assert text.body == b"plain"
    assert "content-type" not in text.headers  # as MockServer: none unless the body has one


def test_delay_is_applied_before_answering() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    slow = {
        "httpRequest": {"path": "/slow"},
        "httpResponse": {"delay": {"timeUnit": "MILLISECONDS", "value": 1500}},
    }
    with serving(app_of(slow, sleep=sleep)) as url:
        assert http(url + "/slow").status == 200
        assert http(url + "/mockserver/status").status == 200
    assert slept == [1.5]


def test_request_parts_reach_the_matcher() -> None:
    app = app_of(
        {
            "httpRequest": {
                "method": "PUT",
                "path": "/p/1",
                "queryStringParameters": {"a": ["1", "2"]},
                "headers": {"X-Token": "t"},
                "body": {"type": "JSON", "json": {"k": [2]}},
            },
            "httpResponse": {"statusCode": 204},
        }
    )
    with serving(app) as url:
        ok = http(url + "/p/1?a=2&a=1&b=3", "PUT", b'{"k": [1, 2]}', {"x-token": "t"})
        assert ok.status == 204
        assert http(url + "/p/1?a=2", "PUT", b'{"k": [2]}', {"x-token": "t"}).status == 404


def test_one_log_line_per_request() -> None:
    out = io.StringIO()
    log = requestlog.RequestLog(requestlog.setup(None, stream=out))
    hello = {"id": "hello", "httpRequest": {"path": "/hi"}, "httpResponse": {}}
    with serving(app_of(hello, log=log)) as url:
        http(url + "/hi?x=1")
        http(url + "/nope")
        http(url + "/mockserver/status", method="PUT")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert " GET /hi?x=1 200 expectation [0] hello " in lines[0]
    assert " GET /nope 404 no expectation matched " in lines[1]
    assert " PUT /mockserver/status 200 control plane status " in lines[2]


def test_real_server_over_http() -> None:
    once = {
        "httpRequest": {"path": "/a"},
        "httpResponse": {"body": "A"},
        "times": {"remainingTimes": 1},
    }
    with serving(app_of(once)) as url:
        assert http(url + "/a").body == b"A"
        gone = http(url + "/a")
    assert (gone.status, gone.body) == (404, b"")


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(EphemeraError) as caught:
            bind_socket("127.0.0.1", port, "mockapi start")
    assert caught.value.exit_code == 1
    assert caught.value.message == (
        f"mockapi start: port {port} on 127.0.0.1 is already in use by another program; "
        "stop it or choose another MOCKAPI_PORT"
    )


def test_unknown_bind_address_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        bind_socket("192.0.2.1", 0, "mockapi serve")  # TEST-NET-1: not on this machine
    assert caught.value.message == (
        "mockapi serve: MOCKAPI_BIND: '192.0.2.1' is not an address of this machine"
    )


# the limits of a real server ---------------------------------------------------------


ECHO = {"httpRequest": {"path": "/up"}, "httpResponse": {"statusCode": 201}}


@pytest.mark.parametrize("chunked", [False, True])
def test_a_body_past_the_limit_is_refused_with_413(chunked: bool) -> None:
    app = app_of(ECHO, limits=Limits(max_body=1000))
    with serving(app) as url:
        port = port_of(url)
        assert http(url + "/up", "POST", b"x" * 1000).status == 201  # at the limit: fine
        if chunked:
            big = b"3e8\r\n" + b"x" * 1000 + b"\r\n" + b"1\r\ny\r\n0\r\n\r\n"
            head = b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        else:
            big, head = b"", b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n"
        answer = raw_exchange(port, head + big)
    assert answer.startswith(b"HTTP/1.1 413 Request Entity Too Large\r\n") or answer.startswith(
        b"HTTP/1.1 413 Content Too Large\r\n"
    )
    assert b"connection: close" in answer.lower()
    assert len(app.journal) == 1  # the refused request is not recorded


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n",
    ],
)
def test_a_malformed_request_gets_400_and_no_traceback(request_bytes: bytes) -> None:
    out = io.StringIO()
    logger = requestlog.setup(None, stream=out)
    with serving(app_of(ECHO, log=requestlog.RequestLog(logger))) as url:
        answer = raw_exchange(port_of(url), request_bytes)
        assert http(url + "/up", "POST", b"fine").status == 201  # the server lives on
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert "Invalid HTTP request received." in out.getvalue()
    assert "Traceback" not in out.getvalue()


def test_a_request_head_past_the_limit_gets_400() -> None:
    out = io.StringIO()
    requestlog.setup(None, stream=out)
    with serving(app_of(ECHO)) as url:
        answer = raw_exchange(
            port_of(url), b"GET /up HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert "request line and headers larger than 65536 bytes" in out.getvalue()
    assert "Traceback" not in out.getvalue()


def test_a_connection_that_sends_no_request_head_is_closed() -> None:
    with serving(app_of(ECHO), Settings(header_timeout=0.3)) as url:
        sock = socket.create_connection(("127.0.0.1", port_of(url)), timeout=5)
        with sock:
            sock.sendall(b"GET /up HTTP/1.1\r\nHost: x\r\n")  # ...and never the blank line
            started = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server
            assert time.monotonic() - started < 4


def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    with serving(app_of(ECHO)) as url:
        sock = socket.create_connection(("127.0.0.1", port_of(url)), timeout=5)
        with sock:
            for _ in range(3):
                sock.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                assert sock.recv(1000).startswith(b"HTTP/1.1 201 Created\r\n")


def test_the_log_is_rotated_by_size(tmp_path: Any) -> None:
    log = tmp_path / "mockapi.log"
    logger = requestlog.setup(log, max_bytes=2000, backups=2)
    with serving(app_of(ECHO, log=requestlog.RequestLog(logger))) as url:
        for _ in range(100):
            http(url + "/up", "POST", b"")
    logging.getLogger(requestlog.LOGGER).handlers[0].close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["mockapi.log", "mockapi.log.1", "mockapi.log.2"]
    assert all(p.stat().st_size <= 2000 for p in tmp_path.iterdir())
