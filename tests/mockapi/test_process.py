"""start/stop building blocks: pidfiles, process identity, readiness and its failures."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ephemera.errors import EphemeraError
from ephemera.mockapi import process
from ephemera.mockapi.controltoken import ensure_token
from ephemera.mockapi.model import ExpectationsError
from ephemera.mockapi.settings import Settings

PIDFILE = Path("run") / "mockapi.pid"


def settings(
    tmp_path: Path, port: int, expectations: list[dict[str, Any]] | None = None
) -> Settings:
    path = tmp_path / "expectations.json"
    path.write_text(json.dumps(expectations or []))
    return Settings(
        bind="127.0.0.1",
        port=port,
        expectations=path,
        pidfile=tmp_path / PIDFILE,
        log=tmp_path / "run" / "mockapi.log",
    )


@pytest.mark.parametrize(
    ("content", "pid"),
    [
        ("1234\n", 1234),
        ("  99 ", 99),
        ("", None),
        ("abc", None),
        ("0", None),
        ("1", None),
        ("-5", None),
    ],
)
def test_read_pid(tmp_path: Path, content: str, pid: int | None) -> None:
    pidfile = tmp_path / "pid"
    pidfile.write_text(content)
    assert process.read_pid(pidfile, "test") == pid


def test_read_pid_without_pidfile(tmp_path: Path) -> None:
    assert process.read_pid(tmp_path / "none", "test") is None


def test_write_pidfile_replaces_whole(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    pidfile.write_text("999999")
    process.write_pidfile(pidfile, 4321)
    assert pidfile.read_text() == "4321\n"
    assert [p.name for p in tmp_path.iterdir()] == ["pid"]


@pytest.mark.parametrize(
    ("bind", "host"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("0.0.0.0", "127.0.0.1"),  # noqa: S104
        ("::", "::1"),
        ("::1", "::1"),
        ("localhost", "localhost"),
    ],
)
def test_connect_host(bind: str, host: str) -> None:
    assert process.connect_host(bind) == host


def test_only_a_mockapi_server_is_ours() -> None:
    assert not process.is_mockapi_process(os.getpid())  # pytest is not a mock API
    assert not process.is_mockapi_process(2**22 + 12345)  # beyond pid_max: no such process


def test_stop_without_pidfile_succeeds(tmp_path: Path) -> None:
    out = io.StringIO()
    process.stop(tmp_path / "none.pid", out=out)
    assert out.getvalue() == f"mock API was not running (no pidfile {tmp_path / 'none.pid'})\n"


def test_stop_never_signals_a_process_that_is_not_ours(tmp_path: Path) -> None:
    pidfile = tmp_path / "mockapi.pid"
    pidfile.write_text(f"{os.getpid()}\n")  # a reused pid: this very test process
    out = io.StringIO()
    process.stop(pidfile, out=out)
    assert (
        out.getvalue()
        == f"mock API was not running (stale pidfile for pid {os.getpid()} removed)\n"
    )
    assert not pidfile.exists()


def test_stop_removes_an_unreadable_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "mockapi.pid"
    pidfile.write_text("garbage")
    out = io.StringIO()
    process.stop(pidfile, out=out)
    assert out.getvalue() == f"mock API was not running (unreadable pidfile {pidfile} removed)\n"
    assert not pidfile.exists()


def test_start_refuses_invalid_expectations_before_anything(tmp_path: Path) -> None:
    config = settings(tmp_path, 1, [{"httpRequest": {"secure": True}, "httpResponse": {}}])
    with pytest.raises(ExpectationsError) as caught:
        process.start(config)
    assert caught.value.message == (
        f"{config.expectations}: [0].httpRequest.secure: not supported by the local mock API"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.integration
def test_start_reports_a_server_that_exits(tmp_path: Path, port: int) -> None:
    config = settings(tmp_path, port)
    crash = [sys.executable, "-c", "import sys; print('boom: cannot serve'); sys.exit(3)"]
    with pytest.raises(EphemeraError) as caught:
        process.start(config, command=crash, out=io.StringIO())
    message = caught.value.message
    assert message.startswith(
        f"mockapi start: the mock API exited with code 3 before it answered; {config.log} says:\n"
    )
    assert "  boom: cannot serve" in message
    assert not (tmp_path / PIDFILE).exists()


@pytest.mark.integration
def test_start_gives_up_on_a_server_that_never_answers(tmp_path: Path, port: int) -> None:
    config = settings(tmp_path, port)
    marker = tmp_path / "child.pid"
    hang = [
        sys.executable,
        "-c",
        f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); "
        "print('starting', flush=True); time.sleep(600)",
    ]
    started = time.monotonic()
    with pytest.raises(EphemeraError) as caught:
        process.start(config, command=hang, timeout=1.0, out=io.StringIO())
    assert time.monotonic() - started < 10
    assert caught.value.message.startswith(
        f"mockapi start: the mock API did not answer http://127.0.0.1:{port}/mockserver/status "
        f"within 1 s; {config.log} says:\n  starting"
    )
    assert not (tmp_path / PIDFILE).exists()
    child = int(marker.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)  # terminated and reaped by start


@pytest.mark.integration
def test_start_does_not_mistake_another_server_for_its_own(tmp_path: Path, port: int) -> None:
    """A server on the port that is not a mock API: refused before spawning."""
    other = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(EphemeraError) as caught:
            process.start(settings(tmp_path, port), out=io.StringIO())
        assert "is already in use by another program" in caught.value.message
        assert not process.is_healthy(f"http://127.0.0.1:{port}/mockserver/status")
    finally:
        other.terminate()
        other.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_the_token_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "run" / "mockapi.token"
    token = ensure_token(path, "mockapi start")
    assert len(token) >= 40 and path.stat().st_mode & 0o777 == 0o600
    assert ensure_token(path, "mockapi start") == token  # kept across restarts
    path.write_text("two words\n")
    with pytest.raises(EphemeraError) as caught:
        ensure_token(path, "mockapi start")
    assert caught.value.message == (
        f"mockapi start: {path} does not hold a token (one line, no spaces)"
    )
