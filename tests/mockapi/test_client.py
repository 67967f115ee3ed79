"""The official MockServer Python client (PyPI mockserver-client 9.2.0) drives a real
mock API process (`python -m ephemera.mockapi start`, as the local-mock-api stack
starts it) through a team's scenario: create expectations, match, verify passing and
failing, retrieve recorded requests and active expectations, clear, reset."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from mockserver import (
    HttpRequest,
    HttpResponse,
    MockServerClient,
    Times,
    VerificationTimes,
)
from mockserver.exceptions import MockServerError, MockServerVerificationError

from ephemera.mockapi import process
from ephemera.mockapi.settings import Settings

pytestmark = pytest.mark.integration

CATCH_ALL = {"id": "catch-all", "priority": -1, "httpResponse": {"statusCode": 404}}


@pytest.fixture
def started(tmp_path: Path, port: int) -> Iterator[tuple[int, str]]:
    """A detached mock API whose expectation file holds a catch-all; (port, token)."""
    expectations = tmp_path / "expectations.json"
    expectations.write_text(json.dumps([CATCH_ALL]))
    settings = Settings(
        port=port,
        expectations=expectations,
        pidfile=tmp_path / "run" / "mockapi.pid",
        log=tmp_path / "run" / "mockapi.log",
    )
    process.start(settings, out=io.StringIO())
    token_file = tmp_path / "run" / "mockapi.token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    try:
        yield port, token_file.read_text().strip()
    finally:
        process.stop(settings.require_pidfile("test"), out=io.StringIO())


def get(port: int, path: str, **headers: str) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_python_client_scenario(started: tuple[int, str]) -> None:
    port, token = started
    client = MockServerClient("127.0.0.1", port, control_plane_bearer_token=token)
    try:
        assert client.has_started(attempts=1)
        created = client.when(
            HttpRequest(method="GET", path="/hello", headers={"Accept": ["text/plain"]}),
            times=Times.exactly(2),
        ).respond(HttpResponse(status_code=200, body="hi", headers={"X-Demo": ["1"]}))
        [hello] = created
        assert hello.id and hello.http_request.path == "/hello"

        assert get(port, "/hello", Accept="text/plain") == (200, b"hi")
        client.verify(HttpRequest(path="/hello"), VerificationTimes.at_least(1))
        with pytest.raises(MockServerVerificationError) as failed:
            client.verify(HttpRequest(path="/never-called"), VerificationTimes.at_least(1))
        assert str(failed.value).startswith("Request not found at least once, expected:<{")

        recorded = client.retrieve_recorded_requests(HttpRequest(path="/hello"))
        assert [r.path for r in recorded] == ["/hello"]
        active = client.retrieve_active_expectations()
        assert [e.id for e in active] == [hello.id, "catch-all"]

        client.clear(HttpRequest(path="/hello"), clear_type="EXPECTATIONS")
        assert [e.id for e in client.retrieve_active_expectations()] == ["catch-all"]
        assert get(port, "/hello", Accept="text/plain")[0] == 404  # the catch-all's answer

        client.reset()
        assert client.retrieve_active_expectations() == []
        assert client.retrieve_recorded_requests() == []
    finally:
        client.close()


def test_with_a_catch_all_verify_of_a_request_never_sent_fails(started: tuple[int, str]) -> None:
    port, token = started
    client = MockServerClient("127.0.0.1", port, control_plane_bearer_token=token)
    try:
        get(port, "/sent")
        client.verify(HttpRequest(path="/sent"), VerificationTimes.exactly(1))
        with pytest.raises(MockServerVerificationError):
            client.verify(HttpRequest(path="/never-sent"))
        # the control plane's own requests were neither matched nor recorded
        assert [r.path for r in client.retrieve_recorded_requests()] == ["/sent"]
    finally:
        client.close()


def test_without_the_token_the_client_is_refused(started: tuple[int, str]) -> None:
    port, _ = started
    client = MockServerClient("127.0.0.1", port)
    try:
        assert client.has_started(attempts=1)  # status needs no token
        with pytest.raises(MockServerError):
            client.reset()
    finally:
        client.close()
