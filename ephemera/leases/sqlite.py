"""SQLite lease store: `.ephemera/leases.db`, compare-and-swap on `version`.

A file SQLite cannot read (a damaged header, not a database) is a `LeaseStoreUnreadable`
naming the file and what to run (exit 2), never an unexpected error; an empty file is an
empty store (status and reconcile then find the environments whose state holds
resources and call them untracked).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from ephemera.errors import UsageError
from ephemera.leases.base import (
    LEASE_TIMES,
    Lease,
    LeaseConflict,
    LeaseStore,
    OpLock,
    RunRecord,
)
from ephemera.leases.codec import from_text, to_text
from ephemera.leases.holders import Holder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leases (
    env TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    stack TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    applied_at TEXT,
    expires_at TEXT,
    protected INTEGER NOT NULL DEFAULT 0,
    warnings_sent TEXT NOT NULL DEFAULT '[]',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',
    last_run_id TEXT,
    status_reason TEXT,
    status_changed_at TEXT,
    holder TEXT,
    claim_deadline TEXT,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_status_expiry ON leases (status, expires_at);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    env TEXT NOT NULL,
    op TEXT NOT NULL,
    actor TEXT NOT NULL,
    commit_sha TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    result TEXT NOT NULL,
    added INTEGER NOT NULL DEFAULT 0,
    changed INTEGER NOT NULL DEFAULT 0,
    destroyed INTEGER NOT NULL DEFAULT 0,
    log_path TEXT,
    detail TEXT,
    client TEXT
);
CREATE INDEX IF NOT EXISTS runs_env_started ON runs (env, started_at);
CREATE TABLE IF NOT EXISTS locks (
    env TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    deadline TEXT NOT NULL,
    version INTEGER NOT NULL
);
"""
# Columns added since the first release, for databases created before them.
_ADDED_COLUMNS = {
    "leases": {"holder": "TEXT", "claim_deadline": "TEXT"},
    "runs": {"client": "TEXT"},
}


class LeaseStoreUnreadable(UsageError):
    """The lease database is not one SQLite can read: its path and what to do (exit 2)."""

    def __init__(self, path: Path, error: Exception) -> None:
        super().__init__(
            f"{path}: the lease database cannot be read ({error}). Nothing was changed. "
            f"Move it aside (mv {path} {path}.damaged), then run 'invoke reconcile' to "
            "recover the leases of the environments whose state holds resources."
        )


_LEASE_COLUMNS = [f.name for f in fields(Lease)]


def _lease_row(lease: Lease) -> dict[str, Any]:
    row = asdict(lease)
    for name in LEASE_TIMES:
        row[name] = to_text(row[name])
    row["protected"] = int(lease.protected)
    row["warnings_sent"] = json.dumps(list(lease.warnings_sent))
    row["outputs"] = json.dumps(lease.outputs, sort_keys=True)
    row["holder"] = json.dumps(lease.holder.to_dict()) if lease.holder else None
    return row


def _lease_from_row(row: sqlite3.Row) -> Lease:
    data = dict(row)
    for name in LEASE_TIMES:
        data[name] = from_text(data[name])
    data["protected"] = bool(data["protected"])
    data["warnings_sent"] = tuple(json.loads(data["warnings_sent"]))
    data["outputs"] = json.loads(data["outputs"])
    data["holder"] = Holder.from_dict(json.loads(data["holder"])) if data["holder"] else None
    return Lease(**data)


def _lock_from_row(row: sqlite3.Row) -> OpLock:
    deadline = from_text(row["deadline"])
    assert deadline is not None
    holder = Holder.from_dict(json.loads(row["holder"]))
    return OpLock(env=row["env"], holder=holder, deadline=deadline, version=row["version"])


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    data = dict(row)
    data["commit"] = data.pop("commit_sha")
    data["started_at"] = from_text(data["started_at"])
    data["ended_at"] = from_text(data["ended_at"])
    return RunRecord(**data)


class SqliteLeaseStore(LeaseStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            for table, added in _ADDED_COLUMNS.items():
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                for column, kind in added.items():
                    if column not in present:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise LeaseStoreUnreadable(self.path, exc) from None
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError):
                raise
            raise LeaseStoreUnreadable(self.path, exc) from None
        finally:
            db.close()

    def get(self, env: str) -> Lease | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM leases WHERE env = ?", (env,)).fetchone()
        return None if row is None else _lease_from_row(row)

    def create(self, lease: Lease) -> Lease:
        written = lease.evolve(version=1)
        row = _lease_row(written)
        placeholders = ", ".join(f":{c}" for c in _LEASE_COLUMNS)
        try:
            with self._connect() as db:
                db.execute(
                    f"INSERT INTO leases ({', '.join(_LEASE_COLUMNS)}) VALUES ({placeholders})",  # noqa: S608
                    row,
                )
        except sqlite3.IntegrityError as exc:
            raise LeaseConflict(f"{lease.env}: a lease already exists") from exc
        return written

    def update(self, lease: Lease) -> Lease:
        written = lease.evolve(version=lease.version + 1)
        row = _lease_row(written)
        row["expected_version"] = lease.version
        assignments = ", ".join(f"{c} = :{c}" for c in _LEASE_COLUMNS if c != "env")
        with self._connect() as db:
            cursor = db.execute(
                f"UPDATE leases SET {assignments} WHERE env = :env AND version = :expected_version",  # noqa: S608
                row,
            )
        if cursor.rowcount != 1:
            raise LeaseConflict(
                f"{lease.env}: the lease changed since it was read (version {lease.version})"
            )
        return written

    def list(self) -> list[Lease]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM leases ORDER BY env").fetchall()
        return [_lease_from_row(r) for r in rows]

    def due(self, statuses: tuple[str, ...], before: datetime) -> list[Lease]:
        marks = ", ".join("?" for _ in statuses)
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM leases WHERE status IN ({marks}) AND expires_at <= ? "  # noqa: S608
                "ORDER BY expires_at",
                (*statuses, to_text(before)),
            ).fetchall()
        return [_lease_from_row(r) for r in rows]

    def get_lock(self, env: str) -> OpLock | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM locks WHERE env = ?", (env,)).fetchone()
        return None if row is None else _lock_from_row(row)

    def put_lock(self, lock: OpLock, expected: OpLock | None) -> OpLock:
        version = 1 if expected is None else expected.version + 1
        written = lock.evolve(version=version)
        row = {
            "env": lock.env,
            "holder": json.dumps(lock.holder.to_dict()),
            "deadline": to_text(lock.deadline),
            "version": version,
        }
        with self._connect() as db:
            if expected is None:
                try:
                    db.execute(
                        "INSERT INTO locks (env, holder, deadline, version) "
                        "VALUES (:env, :holder, :deadline, :version)",
                        row,
                    )
                except sqlite3.IntegrityError as exc:
                    raise LeaseConflict(f"{lock.env}: the operation lock is held") from exc
                return written
            cursor = db.execute(
                "UPDATE locks SET holder = :holder, deadline = :deadline, version = :version "
                "WHERE env = :env AND version = :expected",
                {**row, "expected": expected.version},
            )
        if cursor.rowcount != 1:
            raise LeaseConflict(f"{lock.env}: the operation lock changed since it was read")
        return written

    def delete_lock(self, lock: OpLock) -> bool:
        with self._connect() as db:
            cursor = db.execute(
                "DELETE FROM locks WHERE env = ? AND version = ?", (lock.env, lock.version)
            )
        return cursor.rowcount == 1

    def add_run(self, run: RunRecord) -> None:
        self._write_run(run, "INSERT")

    def finish_run(self, run: RunRecord) -> None:
        self._write_run(run, "REPLACE")

    def _write_run(self, run: RunRecord, verb: str) -> None:
        row = asdict(run)
        row["commit_sha"] = row.pop("commit")
        row["started_at"] = to_text(run.started_at)
        row["ended_at"] = to_text(run.ended_at)
        columns = list(row)
        with self._connect() as db:
            db.execute(
                f"{verb} INTO runs ({', '.join(columns)}) "  # noqa: S608
                f"VALUES ({', '.join(':' + c for c in columns)})",
                row,
            )

    def runs(self, env: str, limit: int = 50) -> list[RunRecord]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM runs WHERE env = ? ORDER BY started_at DESC LIMIT ?",
                (env, limit),
            ).fetchall()
        return [_run_from_row(r) for r in rows]
