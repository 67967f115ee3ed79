"""The janitor's sweep through the CLI (`ephemera ttl --dry-run`) with 1,000 environment
files and 1,000 leases, against the same with 10 and 10; and the store's part alone.

Two scratch projects, one with N = 10 and one with N = 1,000 environment files on the
local mock API stack (one in ten with a warning ladder of its own), each with a live
lease expiring in three days (so nothing is due: what every 5-minute sweep pays). In
interleaved rounds, the CLI sweeps each project: start-up, the warning horizon over
every file, the store's queries for what is due. Goal: 1,000 costs at most 2x what 10 cost.

Then the store's part alone, in-process: the two index queries over 10,000 leases in
SQLite and 2,000 in DynamoDB (a moto server, slow to fill); neither grows with the
lease count (nothing due: the queries return nothing).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.measure import Times, bench_env, cli, compile_bytecode, goal, interleaved, paired
from benchmarks.motoserver import moto_server
from benchmarks.project import live_lease, live_project
from ephemera.janitor.dispatch import LocalDispatcher
from ephemera.janitor.notify import ConsoleNotifier
from ephemera.janitor.sweep import SweepSettings, sweep
from ephemera.leases import LeaseStore, SqliteLeaseStore

SMALL, LARGE = 10, 1000
ROUNDS = 9
GOAL = 2.0
STORE_LEASES = 10_000
MOTO_LEASES = 2_000  # moto fills slowly; the queries do not grow with the count
STORE_ROUNDS = 5
LIVE_FOR = timedelta(days=3)


def run() -> Iterator[str]:
    compile_bytecode()
    now = datetime.now(UTC)
    projects = {count: _project(count, now) for count in (SMALL, LARGE)}
    try:
        arms = {
            count: cli("ttl", "--dry-run", env=bench_env(EPHEMERA_ROOT=str(root)))
            for count, root in projects.items()
        }
        times = interleaved(ROUNDS, {str(count): arm for count, arm in arms.items()})
        ratio = paired(times[str(LARGE)], times[str(SMALL)])
        yield f"ttl --dry-run, {SMALL} files + {SMALL} leases:     {times[str(SMALL)].text()}"
        yield f"ttl --dry-run, {LARGE} files + {LARGE} leases: {times[str(LARGE)].text()}"
        yield goal(
            f"ttl sweep {LARGE} / {SMALL}",
            ratio.median,
            GOAL,
            f"paired rounds {min(ratio.values):.2f}–{max(ratio.values):.2f}",
        )
    finally:
        for root in projects.values():
            shutil.rmtree(root.parent, ignore_errors=True)
    yield from _store_queries(now)


def _project(count: int, now: datetime) -> Path:
    """Nothing due: every lease expires in three days; one file in ten has its own ladder."""
    own = "warnings: [48h, 2h]\n"
    return live_project(count, now, LIVE_FOR, extra=lambda i: own if i % 10 == 0 else "")


def _store_queries(now: datetime) -> Iterator[str]:
    sqlite = SqliteLeaseStore(Path(tempfile.mkdtemp()) / "leases.db")
    _fill(sqlite, now)
    yield f"store queries alone, {STORE_LEASES:,} leases, sqlite:   {_sweeps(sqlite, now).text()}"
    yield from _dynamodb(now)


def _fill(store: LeaseStore, now: datetime, count: int = STORE_LEASES) -> None:
    for index in range(count):
        store.create(live_lease(f"bench-{index:05d}", now, LIVE_FOR, {}))


def _sweeps(store: LeaseStore, now: datetime) -> Times:
    def once() -> None:
        summary = sweep(
            store,
            now=now,
            dispatcher=LocalDispatcher(lambda name: []),
            notifier=ConsoleNotifier(),
            settings=SweepSettings(ladders="24h,2h,30m"),
        )
        assert not summary.claimed and not summary.warned

    return interleaved(STORE_ROUNDS, {"sweep": once})["sweep"]


def _dynamodb(now: datetime) -> Iterator[str]:
    from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables

    with moto_server() as moto:
        client = moto.client("dynamodb")
        create_tables(client, "leases")
        store = DynamoLeaseStore(client, "leases")
        _fill(store, now, MOTO_LEASES)
        times = _sweeps(store, now).text()
        yield f"store queries alone, {MOTO_LEASES:,} leases, dynamodb (moto): {times}"
