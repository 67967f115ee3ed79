"""The resident checker: checkov loaded once, each scan run in a fork of it; both sides.

checkov spends ~1.4 s loading its modules before it looks at a plan; a scan itself takes
~0.2 s. This program, run by checkov's own interpreter (`.venv-checkov/bin/python`,
never by Ephemera's), loads checkov once and then serves scans on a unix socket: each
request is answered by a fork of the loaded process, which runs checkov's command line
(`Checkov(argv).run()`, what the `checkov` script runs) with the request's environment
and working directory, its stdout and stderr captured, and exits. A fork starts from
the same loaded state every time, so no scan sees what an earlier one left behind.

    python checkovd.py SOCKET IDLE_SECONDS

- The socket lives in a directory only its owner can enter (`ephemera.gate.checkov`
  makes it so) and a peer whose uid is not ours is refused, so only the user who
  started it can have checks run (a scan loads Python from `--external-checks-dir`).
- One request per connection: a JSON line `{"argv": [...], "env": {...}, "cwd": "...",
  "timeout": seconds}`; the answer, a JSON line `{"returncode": n, "stdout": "...",
  "stderr": "..."}`. A fork still scanning a second after `timeout` is killed (its
  caller has given up on it).
- Two checkers started at once for one socket: a lock beside it lets one bind, and the
  other exits.
- It exits after IDLE_SECONDS without a request, after an hour between two scans (the
  next caller starts a fresh one: nothing it loaded lives longer), and at once if
  another checker already answers on SOCKET.

The caller's side is `Resident` (used by `ephemera.gate.checkov.run`, the one runner):
it finds the checker of a checkov install, starts it when none answers, and asks it.

Standard library only at the top (checkov is imported by the server alone): Ephemera's
modules are not importable in checkov's interpreter.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

MAX_REQUEST = 1 << 20  # bytes
START_SECONDS = 120.0  # for a checker to load checkov and answer, at most
LIFETIME_SECONDS = 3600.0  # then it leaves (once idle between scans) for a fresh one
KILL_GRACE_SECONDS = 1.0  # a scan's fork outlives its caller's timeout by this, at most
POLL_SECONDS = 0.05


class Scan(socketserver.StreamRequestHandler):
    """One scan, in the forked child that socketserver made for this connection."""

    def handle(self) -> None:
        if _peer_uid(self.connection) != os.getuid():
            return
        line = self.rfile.readline(MAX_REQUEST)
        if not line.strip():
            return  # a caller asking whether a checker answers (`Resident.start`)
        request = json.loads(line)
        if request.get("timeout"):  # the caller gives up then: so does this fork
            os.setpgid(0, 0)  # with the workers checkov starts (a group of its own)
            signal.signal(signal.SIGALRM, _kill_group)
            signal.setitimer(signal.ITIMER_REAL, float(request["timeout"]) + KILL_GRACE_SECONDS)
        reply = _scan(request["argv"], request["env"], request["cwd"])
        self.wfile.write(json.dumps(reply).encode() + b"\n")


def _kill_group(signum: int, frame: object) -> None:
    os.killpg(0, signal.SIGKILL)


class Server(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    timeout = None  # set from IDLE_SECONDS

    def handle_timeout(self) -> None:
        self.idle = True


def _peer_uid(connection: socket.socket) -> int:
    if not hasattr(socket, "SO_PEERCRED"):  # not Linux: the directory's mode guards it
        return os.getuid()
    credentials = connection.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
    )
    return struct.unpack("3i", credentials)[1]


def _scan(argv: list[str], env: dict[str, str], cwd: str) -> dict[str, object]:
    """checkov's command line with `argv`, its output captured in files (so that it
    can be any size), as the `checkov` script would run it."""
    from checkov.main import Checkov

    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", category=SyntaxWarning)
                code = Checkov(argv=argv).run()
        except SystemExit as exit_:
            code = exit_.code
        except BaseException as exc:  # noqa: BLE001 - reported as checkov's own failure
            print(f"checkov failed: {exc!r}", file=sys.stderr)
            code = 2
        sys.stdout.flush()
        sys.stderr.flush()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if not isinstance(code, int):
        code = 0 if code is None else 1
    return {
        "returncode": code,
        "stdout": stdout.decode("utf-8", "replace"),
        "stderr": stderr.decode("utf-8", "replace"),
    }


def _answered(path: str) -> bool:
    """Whether a checker already listens on `path`."""
    with socket.socket(socket.AF_UNIX) as probe:
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def main(path: str, idle: float) -> int:
    import checkov.main  # noqa: F401 - the point: loaded once, before the first request

    old_umask = os.umask(0o177)  # the socket and its lock: 0600
    # Two checkers starting at once: the second waits here, then finds the first.
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _answered(path):
            return 0
        Path(path).unlink(missing_ok=True)  # a checker that died left it
        server = Server(path, Scan)
    os.umask(old_umask)
    server.timeout = idle
    retire = time.monotonic() + LIFETIME_SECONDS
    try:
        while True:
            server.idle = False
            server.handle_request()
            server.collect_children()
            if (server.idle or time.monotonic() > retire) and not server.active_children:
                return 0
    finally:
        server.server_close()
        if Path(path).exists() and not _answered(path):
            Path(path).unlink(missing_ok=True)


# --- the caller's side ---------------------------------------------------------------


class Resident:
    """The checker of one checkov `interpreter`, in `directory` (which the caller made
    private); `identity` says what else it depends on (checkov's version, the
    environment its interpreter started with). It stays `idle` seconds after its last
    scan. Its socket's name covers all of that, and this file's code."""

    def __init__(self, interpreter: str, identity: str, directory: Path, idle: float) -> None:
        self.interpreter = interpreter
        self.directory = directory
        self.idle = idle
        whole = f"{Path(interpreter).resolve()}\0{identity}\0{Path(__file__).read_text()}"
        self.path = directory / f"checkov-{hashlib.sha256(whole.encode()).hexdigest()[:16]}"
        self.starting: subprocess.Popen[bytes] | None = None

    def start(self, env: Mapping[str, str]) -> None:
        """Start a checker unless one answers (or is starting): it loads checkov in the
        background while the caller goes on."""
        if self.starting is not None and self.starting.poll() is None:
            return
        answering = self._connection(0.5)
        if answering is not None:
            answering.close()
            return
        home = self.directory / "checker-home"
        home.mkdir(mode=0o700, exist_ok=True)
        with open(self.directory / "checker.log", "ab") as log:
            self.starting = subprocess.Popen(
                # -P: not this directory on sys.path (its checkov.py is not checkov)
                [self.interpreter, "-P", __file__, str(self.path), str(self.idle)],
                cwd=home,
                env={**env, "HOME": str(home)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # it outlives this command: that is the point
            )

    def scan(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
    ) -> tuple[int, str, str] | None:
        """(exit code, stdout, stderr) of checkov `argv`, run by the checker (started if
        need be); None when no checker could answer: the caller runs checkov itself.
        TimeoutError when the scan takes longer than `timeout`."""
        connection = self._connection(1.0)
        if connection is None:
            self.start(env)
            connection = self._wait_for_checker()
        if connection is None:
            return None
        request = {"argv": list(argv), "env": dict(env), "cwd": str(cwd), "timeout": timeout}
        try:
            with connection:
                connection.settimeout(timeout)
                connection.sendall(json.dumps(request).encode() + b"\n")
                with connection.makefile("rb") as answer:
                    reply = json.loads(answer.readline(64 << 20) or b"null")
        except TimeoutError:
            raise  # checkov itself is too slow: the caller says so, it does not retry
        except (OSError, ValueError):
            return None
        if not isinstance(reply, dict):
            return None  # the fork died before answering
        return int(reply["returncode"]), str(reply["stdout"]), str(reply["stderr"])

    def _wait_for_checker(self) -> socket.socket | None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            connection = self._connection(deadline - time.monotonic())
            if connection is not None:
                return connection
            if self.starting is None or self.starting.poll() is not None:
                return None  # nobody is coming
            time.sleep(POLL_SECONDS)
        return None

    def _connection(self, timeout: float) -> socket.socket | None:
        connection = socket.socket(socket.AF_UNIX)
        connection.settimeout(max(timeout, 0.01))
        try:
            connection.connect(str(self.path))
        except OSError:
            connection.close()
            return None
        return connection


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
