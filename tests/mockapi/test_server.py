"""The WSGI app (through werkzeug's test client) and the real threaded server."""

from __future__ import annotations

import io
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.test import Client

from ephemera.errors import EphemeraError, UsageError
from ephemera.mockapi.expectations import parse
from ephemera.mockapi.server import MockApp, bind_socket, create_server

from .helpers import http


def app(*expectations: dict[str, Any], **kwargs: Any) -> MockApp:
    return MockApp(parse(json.dumps(list(expectations)), "test.json"), **kwargs)


def test_health_endpoint_answers_put_and_get() -> None:
    client = Client(app(port=4321))
    for method in ("PUT", "GET"):
        response = client.open("/mockserver/status", method=method)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        assert response.get_json() == {"ports": [4321], "version": "ephemera-mockapi"}


def test_health_endpoint_wins_over_expectations() -> None:
    client = Client(app({"httpRequest": {"path": "/.*"}, "httpResponse": {"statusCode": 500}}))
    assert client.put("/mockserver/status").status_code == 200
    assert client.get("/anything").status_code == 500


def test_unmatched_request_is_404_with_empty_body() -> None:
    response = Client(app()).get("/nothing")
    assert response.status_code == 404
    assert response.data == b""
    assert "Content-Type" not in response.headers


def test_response_status_reason_headers_and_body() -> None:
    client = Client(
        app(
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
    )
    created = client.post("/pets", data=b"{}")
    assert created.status == "201 Created"
    assert created.headers["Location"] == "/pets/3"
    assert created.headers.getlist("X-Multi") == ["a", "b"]
    assert created.headers["Content-Type"] == "application/json"
    assert created.get_json() == {"id": 3}
    assert client.get("/teapot").status == "418 Short And Stout"
    text = client.get("/text")
    assert text.data == b"plain"
    assert "Content-Type" not in text.headers  # as MockServer: none unless the body has one


def test_delay_is_applied_before_answering() -> None:
    slept: list[float] = []
    client = Client(
        app(
            {
                "httpRequest": {"path": "/slow"},
                "httpResponse": {"delay": {"timeUnit": "MILLISECONDS", "value": 1500}},
            },
            sleep=slept.append,
        )
    )
    assert client.get("/slow").status_code == 200
    assert client.get("/mockserver/status").status_code == 200
    assert slept == [1.5]


def test_request_parts_reach_the_matcher() -> None:
    client = Client(
        app(
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
    )
    ok = client.put("/p/1?a=2&a=1&b=3", headers={"x-token": "t"}, data=b'{"k": [1, 2]}')
    assert ok.status_code == 204
    assert client.put("/p/1?a=2", headers={"x-token": "t"}, data=b'{"k": [2]}').status_code == 404


def test_one_log_line_per_request() -> None:
    log = io.StringIO()
    client = Client(
        app({"id": "hello", "httpRequest": {"path": "/hi"}, "httpResponse": {}}, log=log)
    )
    client.get("/hi?x=1")
    client.get("/nope")
    client.put("/mockserver/status")
    lines = log.getvalue().splitlines()
    assert len(lines) == 3
    assert " GET /hi?x=1 200 expectation [0] hello " in lines[0]
    assert " GET /nope 404 no expectation matched " in lines[1]
    assert " PUT /mockserver/status 200 status " in lines[2]


@pytest.fixture
def running() -> Iterator[int]:
    """A real threaded server on a free port, in this process."""
    expectations = parse(
        json.dumps(
            [
                {
                    "httpRequest": {"path": "/a"},
                    "httpResponse": {"body": "A"},
                    "times": {"remainingTimes": 1},
                },
            ]
        ),
        "test.json",
    )
    server = create_server(expectations, "127.0.0.1", 0, log=None, where="test")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        thread.join(10)


def test_real_server_over_http(running: int) -> None:
    base = f"http://127.0.0.1:{running}"
    status = http(base + "/mockserver/status", method="PUT")
    assert json.loads(status.body) == {"ports": [running], "version": "ephemera-mockapi"}
    assert http(base + "/a").body == b"A"
    gone = http(base + "/a")
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
