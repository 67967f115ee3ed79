"""The command line, end to end: real `python -m ephemera.mockapi` processes and HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ephemera.mockapi import __main__ as cli
from ephemera.mockapi import process

from .helpers import http, port_is_closed

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ephemera.mockapi", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


class MockApi:
    """MOCKAPI_* variables for one server in a tmp dir, and its base URL."""

    def __init__(self, tmp_path: Path, port: int) -> None:
        self.tmp_path = tmp_path
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.expectations = tmp_path / "expectations.json"
        self.pidfile = tmp_path / "run" / "mockapi.pid"
        self.log = tmp_path / "run" / "mockapi.log"
        self.env = {
            "MOCKAPI_BIND": "127.0.0.1",
            "MOCKAPI_PORT": str(port),
            "MOCKAPI_EXPECTATIONS": str(self.expectations),
            "MOCKAPI_PIDFILE": str(self.pidfile),
            "MOCKAPI_LOG": str(self.log),
        }

    def write(self, expectations: Any) -> None:
        self.expectations.write_text(json.dumps(expectations))

    def start(self) -> int:
        result = run("start", env=self.env)
        assert result.returncode == 0, result.stderr
        pid = int(self.pidfile.read_text())
        assert result.stdout == f"mock API listening on {self.url} (pid {pid})\n"
        return pid

    def stop(self) -> subprocess.CompletedProcess[str]:
        return run("stop", env={"MOCKAPI_PIDFILE": str(self.pidfile)})


@pytest.fixture
def mockapi(tmp_path: Path, port: int) -> Iterator[MockApi]:
    api = MockApi(tmp_path, port)
    yield api
    api.stop()  # whatever the test did, leave nothing running


EXPECTATIONS = [
    {
        "id": "limited",
        "httpRequest": {"method": "GET", "path": "/items"},
        "httpResponse": {"body": "limited"},
        "times": {"remainingTimes": 2, "unlimited": False},
    },
    {
        "id": "fallback",
        "httpRequest": {"method": "GET", "path": "/items"},
        "httpResponse": {"body": "fallback"},
    },
    {
        "id": "catch-all",
        "httpRequest": {"path": "/items.*"},
        "httpResponse": {"statusCode": 400},
        "priority": -1,
    },
    {
        "id": "vip",
        "priority": 10,
        "httpRequest": {"path": "/items.*", "headers": {"X-Vip": "yes"}},
        "httpResponse": {"body": "vip"},
    },
    {
        "id": "slow",
        "httpRequest": {"path": "/slow"},
        "httpResponse": {"body": "slow", "delay": {"timeUnit": "MILLISECONDS", "value": 300}},
    },
]


@pytest.mark.integration
def test_start_serve_and_stop(mockapi: MockApi) -> None:
    mockapi.write(EXPECTATIONS)
    pid = mockapi.start()
    assert process.is_mockapi_process(pid)

    for method in ("PUT", "GET"):
        status = http(mockapi.url + "/mockserver/status", method=method)
        assert status.status == 200
        assert json.loads(status.body) == {"ports": [mockapi.port], "version": "ephemera-mockapi"}

    # times: two uses, then the request falls through to the next match
    bodies = [http(mockapi.url + "/items").body for _ in range(3)]
    assert bodies == [b"limited", b"limited", b"fallback"]
    # priority: highest first, whatever the file order; lowest last
    assert http(mockapi.url + "/items", headers={"X-Vip": "yes"}).body == b"vip"
    assert http(mockapi.url + "/items/1").status == 400
    # delay
    started = time.monotonic()
    assert http(mockapi.url + "/slow").body == b"slow"
    assert 0.3 <= time.monotonic() - started < 5
    # unmatched: 404, empty body
    missing = http(mockapi.url + "/nothing")
    assert (missing.status, missing.body) == (404, b"")

    stopped = mockapi.stop()
    assert (stopped.returncode, stopped.stdout) == (0, f"mock API stopped (pid {pid})\n")
    assert not mockapi.pidfile.exists()
    assert port_is_closed(mockapi.port)
    assert not process.is_mockapi_process(pid)

    log = mockapi.log.read_text()
    assert f"mock API listening on {mockapi.url} with 5 expectation(s)" in log
    assert " GET /items 200 expectation [0] limited " in log
    assert " GET /nothing 404 no expectation matched " in log
    assert log.rstrip().endswith("mock API stopped")  # SIGTERM: a clean exit

    again = mockapi.stop()  # idempotent
    assert (again.returncode, again.stderr) == (0, "")
    assert again.stdout == f"mock API was not running (no pidfile {mockapi.pidfile})\n"


@pytest.mark.integration
def test_start_replaces_a_running_server(mockapi: MockApi) -> None:
    mockapi.write([{"httpRequest": {"path": "/v"}, "httpResponse": {"body": "one"}}])
    first = mockapi.start()
    mockapi.write([{"httpRequest": {"path": "/v"}, "httpResponse": {"body": "two"}}])
    second = mockapi.start()
    assert second != first
    assert not process.is_mockapi_process(first)
    assert http(mockapi.url + "/v").body == b"two"
    assert mockapi.stop().returncode == 0
    assert port_is_closed(mockapi.port)


@pytest.mark.integration
def test_start_with_invalid_expectations_exits_2(mockapi: MockApi) -> None:
    mockapi.write([{"httpRequest": {"path": "/a", "secure": True}, "httpResponse": {}}])
    result = run("start", env=mockapi.env)
    assert result.returncode == 2
    assert result.stderr == (
        f"{mockapi.expectations}: [0].httpRequest.secure: not supported by the local mock API\n"
    )
    assert result.stdout == ""
    assert not mockapi.pidfile.exists()
    assert port_is_closed(mockapi.port)


@pytest.mark.integration
def test_start_on_a_port_in_use_exits_1(mockapi: MockApi) -> None:
    mockapi.write([])
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", mockapi.port))
        holder.listen()
        result = run("start", env=mockapi.env)
    assert result.returncode == 1
    assert result.stderr == (
        f"mockapi start: port {mockapi.port} on 127.0.0.1 is already in use by another "
        "program; stop it or choose another MOCKAPI_PORT\n"
    )
    assert not mockapi.pidfile.exists()


@pytest.mark.integration
def test_start_without_its_variables_exits_2(tmp_path: Path) -> None:
    env = {"MOCKAPI_EXPECTATIONS": "", "MOCKAPI_PIDFILE": "", "MOCKAPI_LOG": ""}
    result = run("start", env=env)
    assert (result.returncode, result.stderr) == (
        2,
        "mockapi start: MOCKAPI_EXPECTATIONS is not set\n",
    )
    result = run("stop", env={"MOCKAPI_PIDFILE": ""})
    assert (result.returncode, result.stderr) == (2, "mockapi stop: MOCKAPI_PIDFILE is not set\n")


@pytest.mark.integration
def test_the_demo_file(mockapi: MockApi) -> None:
    mockapi.env["MOCKAPI_EXPECTATIONS"] = str(REPO_ROOT / "expectations" / "local-demo.json")
    mockapi.start()
    url = mockapi.url
    pets = http(url + "/pets")
    assert pets.headers["Content-Type"] == "application/json"
    assert len(json.loads(pets.body)) == 3
    assert len(json.loads(http(url + "/pets?species=cat").body)) == 2
    assert http(url + "/pets?species=fish").body == pets.body  # filter does not match
    assert json.loads(http(url + "/pets/1").body)["name"] == "Tom"
    assert http(url + "/pets/one").status == 404
    created = http(
        url + "/pets",
        method="POST",
        body=b'{"species": "parrot", "name": "Polly", "age": 2}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert (created.status, created.headers["Location"]) == (201, "/pets/3")
    invalid = http(url + "/pets", method="POST", body=b'{"name": "Polly"}')
    assert (invalid.status, invalid.reason) == (422, "Unprocessable Entity")
    assert http(url + "/admin/stats").status == 404
    authorized = http(url + "/admin/stats", headers={"Authorization": "Bearer demo-token"})
    assert json.loads(authorized.body) == {"pets": 3, "adoptions": 1}
    assert http(url + "/pets/2/adopt", method="POST", body=b"").body == b"adopted"
    assert http(url + "/pets/2/adopt", method="POST", body=b"").status == 409
    assert mockapi.stop().returncode == 0


# check, and the in-process entry point ------------------------------------------------


@pytest.mark.integration
def test_check_command(tmp_path: Path) -> None:
    demo = REPO_ROOT / "expectations" / "local-demo.json"
    good = run("check", str(demo))
    assert good.returncode == 0
    assert good.stdout.startswith(f"{demo}: ") and good.stdout.endswith(" expectation(s), ok\n")
    bad = tmp_path / "bad.json"
    bad.write_text('[{"httpRequest": {"path": "*"}, "httpResponse": {"connectionOptions": {}}}]')
    result = run("check", str(demo), str(bad))
    assert result.returncode == 2
    assert result.stderr == (
        f"{bad}: [0].httpRequest.path: invalid regular expression (nothing to repeat at "
        "position 0); escape special characters to match them literally\n"
        f"{bad}: [0].httpResponse.connectionOptions: not supported by the local mock API\n"
    )
    assert "Traceback" not in result.stderr
    assert run("check").returncode == 2  # usage: FILE is required
    assert run().returncode == 2


def test_unexpected_errors_exit_3_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(config: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(process, "start", broken)
    monkeypatch.setenv("EPHEMERA_ROOT", str(tmp_path))
    monkeypatch.setenv("EPHEMERA_HOME", str(tmp_path / "home"))
    code = cli.main(["start"], environ={})
    assert code == 3
    err = capsys.readouterr().err
    assert err.startswith("mockapi start: unexpected error: RuntimeError('kaboom') (traceback in ")
    assert len(err.splitlines()) == 1
    [saved] = (tmp_path / "home" / "logs").iterdir()
    assert "kaboom" in saved.read_text()


@pytest.mark.integration
def test_journal_size_option_bounds_what_retrieve_returns(mockapi: MockApi) -> None:
    mockapi.write([{"httpResponse": {}}])
    result = run("start", "--journal-size", "3", env=mockapi.env)
    assert result.returncode == 0, result.stderr
    for n in range(5):
        http(f"{mockapi.url}/r{n}")
    token = (mockapi.pidfile.parent / "mockapi.token").read_text().strip()
    reply = http(
        f"{mockapi.url}/mockserver/retrieve?type=REQUESTS",
        method="PUT",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert [r["path"] for r in json.loads(reply.body)] == ["/r2", "/r3", "/r4"]
