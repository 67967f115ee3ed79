"""A janitor sweep over 10,000 leases with nothing expired (SQLite, and DynamoDB on moto).

Nothing is due, so this measures the cost of asking the store what is due (two index
queries: expired, and expiring within the warning horizon): the per-sweep overhead a
schedule pays every 5 minutes, which stays flat however many leases are far from expiry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.project import free_port
from ephemera.janitor.dispatch import LocalDispatcher
from ephemera.janitor.notify import ConsoleNotifier
from ephemera.janitor.sweep import SweepSettings, sweep
from ephemera.leases import ACTIVE, Lease, LeaseStore, SqliteLeaseStore

COUNT = 10_000


def _fill(store: LeaseStore, now: datetime) -> None:
    for index in range(COUNT):
        store.create(
            Lease(
                env=f"bench-{index:05d}",
                target="local",
                stack="local-mock-api",
                owner="b@example.com",
                status=ACTIVE,
                created_at=now,
                expires_at=now + timedelta(days=3),
            )
        )


def _sweep_seconds(store: LeaseStore, now: datetime) -> float:
    started = time.perf_counter()
    summary = sweep(
        store,
        now=now,
        dispatcher=LocalDispatcher(lambda name: []),
        notifier=ConsoleNotifier(),
        settings=SweepSettings(ladders="24h,2h,30m"),
    )
    elapsed = time.perf_counter() - started
    assert not summary.claimed and not summary.warned
    return elapsed


def run() -> Iterator[str]:
    now = datetime.now(UTC)
    sqlite = SqliteLeaseStore(Path(tempfile.mkdtemp()) / "leases.db")
    _fill(sqlite, now)
    seconds = _sweep_seconds(sqlite, now)
    yield f"sqlite:          {seconds / COUNT * 1000:.5f} s per 1,000 leases ({seconds:.3f} s)"
    yield from _dynamodb(now)


def _dynamodb(now: datetime) -> Iterator[str]:
    import boto3

    from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait(endpoint)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
        client = boto3.Session(region_name="us-east-1").client("dynamodb", endpoint_url=endpoint)
        create_tables(client, "leases")
        store = DynamoLeaseStore(client, "leases")
        _fill(store, now)
        seconds = _sweep_seconds(store, now)
        yield f"dynamodb (moto): {seconds / COUNT * 1000:.5f} s per 1,000 leases ({seconds:.3f} s)"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait(endpoint: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # noqa: S310
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")
