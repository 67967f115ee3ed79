"""Start and stop the mock API as a detached process, tracked by a pidfile.

`start` runs under Terraform's local-exec, which waits until every holder of its
output pipes has closed them: the server therefore gets /dev/null as stdin, the log
file as stdout and stderr, and a session of its own, so that it outlives `start`
without holding Terraform up. `stop` runs on destroy and must never stall it: it
succeeds when there is nothing to stop, and it signals a pid only when that process
really is a mock API server (the pid may have been reused since the pidfile was
written).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from ephemera.errors import EphemeraError, tail
from ephemera.health import connect_host, probe
from ephemera.mockapi.controlplane import VERSION
from ephemera.mockapi.controltoken import ensure_token
from ephemera.mockapi.expectations import load_file
from ephemera.mockapi.model import STATUS_PATH
from ephemera.mockapi.server import bind_socket, format_host
from ephemera.mockapi.settings import Settings

START_TIMEOUT = 15.0  # seconds for the server to answer its health endpoint
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
KILL_TIMEOUT = 5.0
POLL_INTERVAL = 0.1
MODULE = "ephemera.mockapi"
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # holds ephemera/


def serve_command() -> list[str]:
    return [sys.executable, "-m", MODULE, "serve"]


def start(
    settings: Settings,
    *,
    command: list[str] | None = None,
    timeout: float = START_TIMEOUT,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
) -> int:
    """Validate, replace a running instance, spawn the server, wait until it answers.

    Returns the server's pid. `command` replaces the server command line (tests).
    """
    where = "mockapi start"
    expectations = settings.require_expectations(where)
    pidfile = settings.require_pidfile(where)
    log_path = settings.require_log(where)
    load_file(expectations)  # invalid: exit 2 before anything is stopped or started
    token_file = settings.require_token_file(where)
    ensure_token(token_file, where)
    settings = replace(settings, token_file=token_file)

    previous = read_pid(pidfile, where)
    if previous is not None and is_mockapi_process(previous):
        err.write(f"{where}: stopping the mock API already running (pid {previous})\n")
        stop_pid(previous, where)
    bind_socket(settings.bind, settings.port, where).close()  # a clear error if in use

    try:
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = log_path.open("ab")
    except OSError as exc:
        raise EphemeraError(f"{where}: cannot write {exc.filename}: {exc.strerror}") from None
    with log:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        log.write(f"--- {stamp} {where}: {format_host(settings.bind)}:{settings.port}\n".encode())
        log.flush()
        offset = log.tell()
        process = subprocess.Popen(
            command or serve_command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **settings.environment(), "PYTHONUNBUFFERED": "1"},
            # the directory holding the ephemera package: `-m` imports it from there
            cwd=_PACKAGE_ROOT,
            start_new_session=True,
            close_fds=True,
        )
    try:
        write_pidfile(pidfile, process.pid)
    except OSError as exc:
        _terminate(process)
        raise EphemeraError(f"{where}: cannot write {exc.filename}: {exc.strerror}") from None

    url = f"http://{format_host(connect_host(settings.bind))}:{settings.port}"
    problem = _wait_until_ready(process, url + STATUS_PATH, timeout)
    if problem:
        _terminate(process)
        pidfile.unlink(missing_ok=True)
        raise EphemeraError(f"{where}: {problem}; {log_path} says:\n{_log_tail(log_path, offset)}")
    out.write(f"mock API listening on {url} (pid {process.pid})\n")
    out.flush()
    return process.pid


def stop(pidfile: Path, *, timeout: float = STOP_TIMEOUT, out: TextIO = sys.stdout) -> None:
    """Stop the server named by the pidfile; nothing to stop is success too."""
    where = "mockapi stop"
    pid = read_pid(pidfile, where)
    if pid is None:
        if pidfile.exists():
            pidfile.unlink()
            out.write(f"mock API was not running (unreadable pidfile {pidfile} removed)\n")
        else:
            out.write(f"mock API was not running (no pidfile {pidfile})\n")
        return
    if not is_mockapi_process(pid):
        pidfile.unlink(missing_ok=True)
        out.write(f"mock API was not running (stale pidfile for pid {pid} removed)\n")
        return
    stop_pid(pid, where, timeout=timeout)
    pidfile.unlink(missing_ok=True)
    out.write(f"mock API stopped (pid {pid})\n")


def stop_pid(pid: int, where: str, *, timeout: float = STOP_TIMEOUT) -> None:
    """SIGTERM, wait, then SIGKILL; returns once the server process is gone."""
    _signal(pid, signal.SIGTERM, where)
    if _wait_until_gone(pid, timeout):
        return
    _signal(pid, signal.SIGKILL, where)
    if not _wait_until_gone(pid, KILL_TIMEOUT):
        raise EphemeraError(f"{where}: the mock API (pid {pid}) is still running after SIGKILL")


def read_pid(pidfile: Path, where: str) -> int | None:
    """The pid in the pidfile; None when there is no pidfile or it holds no valid pid."""
    try:
        text = pidfile.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EphemeraError(f"{where}: cannot read the pidfile {pidfile}: {exc.strerror}") from None
    # never 0, 1 or negative: os.kill would signal a process group, init, or everything
    return int(text) if text.isascii() and text.isdigit() and int(text) > 1 else None


def write_pidfile(pidfile: Path, pid: int) -> None:
    """Written whole or not at all (rename), so `stop` never reads half a pid."""
    partial = pidfile.with_name(pidfile.name + ".partial")
    partial.write_text(f"{pid}\n", encoding="utf-8")
    os.replace(partial, pidfile)


def is_mockapi_process(pid: int) -> bool:
    """Whether pid is a live mock API server (`python -m ephemera.mockapi serve`).

    A zombie has an empty command line, so it counts as gone, as it should.
    """
    argv = _command_line(pid)
    return argv is not None and MODULE in argv and "serve" in argv


def is_healthy(url: str, timeout: float = 1.0) -> bool:
    """Whether the status endpoint at `url` is a mock API's (not some other server's).
    Asked directly, never through a proxy: the server runs on this machine."""
    answer = probe(url, timeout=timeout, direct=True)
    if answer is None or answer.status != 200:
        return False
    try:
        return json.loads(answer.body).get("version") == VERSION
    except (ValueError, AttributeError):  # not JSON, not an object
        return False


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, timeout: float) -> str | None:
    """None once the server answers; else why not (exited, or no answer in time)."""
    deadline = time.monotonic() + timeout
    while True:
        code = process.poll()
        if code is not None:
            return f"the mock API exited with code {code} before it answered"
        if is_healthy(url):
            return None
        if time.monotonic() >= deadline:
            return f"the mock API did not answer {url} within {timeout:g} s"
        time.sleep(POLL_INTERVAL)


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _signal(pid: int, signum: int, where: str) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise EphemeraError(
            f"{where}: not allowed to signal the mock API (pid {pid}); it belongs to another user"
        ) from None


def _wait_until_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_mockapi_process(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL)
    return True


def _command_line(pid: int) -> list[str] | None:
    """The process's argv, or None if there is no such process."""
    proc = Path("/proc")
    if proc.is_dir():
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            return None
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    result = subprocess.run(  # no /proc (macOS): ps
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.split() if result.returncode == 0 else None


def _log_tail(log_path: Path, offset: int) -> str:
    try:
        with log_path.open("rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"  (cannot read the log: {exc.strerror})"
    return tail(text) if text.strip() else "  (nothing)"
