"""The local mock API under load: a matching GET, 32 keep-alive connections.

Three servers on 127.0.0.1, measured in turn within one run (rounds interleaved, so
they share the machine's state): the mock API (`python -m ephemera.mockapi serve`
with expectations/local-demo.json, GET /pets, which is matched after the
priority-10 expectation is tried); a bare ASGI app on the same server
(`benchmarks/bare_app.py`); and the previous mock API, werkzeug's threaded server,
run from git history (the `ephemera/` tree of WERKZEUG_REVISION, extracted with `git
archive`; nothing of it is kept in the tree). Goals: >= 0.7x the bare app, >= 3x
werkzeug.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from benchmarks.loadgen import Result, load
from benchmarks.measure import goal
from benchmarks.project import REPO_ROOT, free_port

WERKZEUG_REVISION = "8abe7ff9e77bae7d3c02406b666833321347d848"  # main before issue 13
PATH = "/pets"
CONNECTIONS = 32
REQUESTS = 6_000  # per round and server
ROUNDS = 3
GOAL_BARE, GOAL_WERKZEUG = 0.7, 3.0


def run() -> Iterator[str]:
    expectations = REPO_ROOT / "expectations" / "local-demo.json"
    with tempfile.TemporaryDirectory(prefix="ephemera-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        ports = {
            "mock API": stack.enter_context(_mockapi(work, expectations)),
            "bare ASGI": stack.enter_context(_bare("asgi", work)),
            "Starlette": stack.enter_context(_bare("starlette", work)),
        }
        old = _werkzeug_tree(work)
        if old is not None:
            ports["werkzeug"] = stack.enter_context(_werkzeug(old, work, expectations))
        results: dict[str, list[Result]] = {name: [] for name in ports}
        for port in ports.values():
            load(port, PATH, connections=CONNECTIONS, total=500)  # warm up
        for _ in range(ROUNDS):
            for name, port in ports.items():
                results[name].append(load(port, PATH, connections=CONNECTIONS, total=REQUESTS))
    yield f"GET {PATH}, {CONNECTIONS} keep-alive connections, {REQUESTS} requests x {ROUNDS} rounds"
    yield "req/s: median (min, max) of the rounds; latency: median of the rounds' p50 and p99"
    for name, rounds in results.items():
        yield _line(name, rounds)
    mock = statistics.median(r.per_second for r in results["mock API"])
    bare = statistics.median(r.per_second for r in results["Starlette"])
    floor = statistics.median(r.per_second for r in results["bare ASGI"])
    yield goal("mock API / bare Starlette app (req/s)", mock / bare, GOAL_BARE, at_least=True)
    yield f"ratio mock API / bare ASGI callable: {mock / floor:5.2f}x  (no goal: the floor)"
    if "werkzeug" in results:
        old_rate = statistics.median(r.per_second for r in results["werkzeug"])
        ratio = mock / old_rate
        yield goal("mock API / werkzeug (req/s)", ratio, GOAL_WERKZEUG, at_least=True)
    else:
        yield f"werkzeug: skipped, {WERKZEUG_REVISION[:10]} is not in this clone's history"


def _line(name: str, rounds: list[Result]) -> str:
    rates = [r.per_second for r in rounds]
    p50 = statistics.median(r.percentile(50) for r in rounds) * 1000
    p99 = statistics.median(r.percentile(99) for r in rounds) * 1000
    errors = sum(r.errors for r in rounds)
    return (
        f"{name + ':':<10} {statistics.median(rates):8.0f} req/s (min {min(rates):.0f}, "
        f"max {max(rates):.0f})  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  errors {errors}"
    )


@contextmanager
def _server(
    command: list[str], port: int, env: dict[str, str], cwd: Path, logs: Path
) -> Iterator[int]:
    """The server `command` on `port`, its output in `logs` (a scratch directory, never
    the checkout)."""
    log = open(logs / f"server-{port}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command, cwd=cwd, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait(port, process)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _mockapi(work: Path, expectations: Path) -> object:
    port = free_port()
    env = {
        "MOCKAPI_PORT": str(port),
        "MOCKAPI_EXPECTATIONS": str(expectations),
        "MOCKAPI_TOKEN_FILE": str(work / "token"),
        "MOCKAPI_LOG": str(work / "mockapi.log"),
    }
    return _server([sys.executable, "-m", "ephemera.mockapi", "serve"], port, env, REPO_ROOT, work)


def _bare(kind: str, work: Path) -> object:
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.bare_app", str(port), kind]
    return _server(command, port, {}, REPO_ROOT, work)


def _werkzeug(tree: Path, work: Path, expectations: Path) -> object:
    port = free_port()
    env = {
        "MOCKAPI_PORT": str(port),
        "MOCKAPI_EXPECTATIONS": str(expectations),
        "PYTHONPATH": str(tree),
    }
    command = [sys.executable, "-m", "ephemera.mockapi", "serve"]
    return _server(command, port, {**env, "PYTHONSAFEPATH": "1"}, tree, work)


def _werkzeug_tree(work: Path) -> Path | None:
    """The `ephemera/` package of WERKZEUG_REVISION, or None without that history."""
    archive = work / "werkzeug.tar"
    result = subprocess.run(
        ["git", "archive", "--format=tar", f"--output={archive}", WERKZEUG_REVISION, "ephemera"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    tree = work / "werkzeug"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            opener.open(f"http://127.0.0.1:{port}/mockserver/status", timeout=1).close()
            return
        except OSError as exc:
            if getattr(exc, "code", None):  # an HTTP error status: it is up
                return
            time.sleep(0.1)
    raise RuntimeError(f"the server on port {port} did not start")
