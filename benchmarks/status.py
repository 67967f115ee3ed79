"""`ephemera status --json` with 1,000 live environments, and with 1,000 that do not
answer, through the CLI.

A scratch project with 1,000 environment files, each with an active lease. Live: every
lease's URL is one real mock API (`python -m ephemera.mockapi serve`), so 1,000 health
probes reach a real server and get a real answer. Silent: every URL is a socket that
takes connections and never answers (its backlog full, the rest are never accepted),
which is what a hung host looks like; every probe waits out the deadline (3 s).

Goals: live within 0.5 s; silent within the deadline + 0.5 s, each one `unknown`.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.measure import bench_env, cli, compile_bytecode, goal, interleaved
from benchmarks.mockapi_throughput import _mockapi
from benchmarks.project import REPO_ROOT, live_project
from ephemera.health import DEFAULT_DEADLINE

COUNT = 1000
ROUNDS = 9
SILENT_ROUNDS = 3
GOAL_LIVE = 0.5
SLACK = 0.5


def run() -> Iterator[str]:
    compile_bytecode()
    with tempfile.TemporaryDirectory(prefix="ephemera-bench-") as scratch:
        work = Path(scratch)
        with _mockapi(work, REPO_ROOT / "expectations" / "local-demo.json") as port:
            live = _project(f"http://127.0.0.1:{port}")
            yield from _measure("live", live, ROUNDS, GOAL_LIVE, "healthy")
        with _silent() as url:
            silent = _project(url)
            limit = DEFAULT_DEADLINE + SLACK
            yield from _measure("silent", silent, SILENT_ROUNDS, limit, "unknown")
        for root in (live, silent):
            shutil.rmtree(root.parent, ignore_errors=True)


def _measure(label: str, root: Path, rounds: int, limit: float, health: str) -> Iterator[str]:
    status = cli("status", "--json", env=bench_env(EPHEMERA_ROOT=str(root)))
    rows = json.loads(status())["environments"]
    found = {row["health"] for row in rows}
    assert len(rows) == COUNT and found == {health}, found
    times = interleaved(rounds, {label: status})[label]
    yield f"status --json, {COUNT} {label} environments (every one {health}): {times.text()}"
    yield goal(
        f"status, {COUNT} {label}", times.median, limit, f"max {max(times.values):.2f} s", " s"
    )


def _project(url: str) -> Path:
    outputs = {"url": url, "health_url": f"{url}/mockserver/status"}
    return live_project(COUNT, datetime.now(UTC), timedelta(hours=4), outputs)


class _silent:  # noqa: N801 - a context manager, used as one
    """A listening socket that never accepts: connections queue, then hang."""

    def __enter__(self) -> str:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __exit__(self, *_: object) -> None:
        self.socket.close()
