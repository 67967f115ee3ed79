"""SQLite-specific behaviour of the local lease store."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from ephemera.leases.base import ACTIVE, Lease
from ephemera.leases.sqlite import SqliteLeaseStore

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def make_lease(env: str) -> Lease:
    return Lease(env=env, target="local", stack="s", owner="o", status=ACTIVE, created_at=NOW)


def test_creates_the_file_under_missing_parent_dirs(tmp_path: Path) -> None:
    path = tmp_path / "project" / ".ephemera" / "leases.db"
    assert not path.parent.exists()
    store = SqliteLeaseStore(path)
    assert path.is_file()
    assert store.list() == []


def test_uses_write_ahead_logging(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    SqliteLeaseStore(path).create(make_lease("dev"))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    written = SqliteLeaseStore(path).create(make_lease("dev"))
    assert SqliteLeaseStore(path).get("dev") == written


def test_stores_times_as_fixed_width_utc_text(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    SqliteLeaseStore(path).create(make_lease("dev").evolve(expires_at=NOW))
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT created_at, expires_at FROM leases").fetchone()
    assert row == ("2030-01-01T12:00:00.000000+00:00", "2030-01-01T12:00:00.000000+00:00")


def test_has_the_status_expiry_index(tmp_path: Path) -> None:
    path = tmp_path / "leases.db"
    SqliteLeaseStore(path)
    with sqlite3.connect(path) as db:
        columns = [row[2] for row in db.execute("PRAGMA index_info(leases_status_expiry)")]
    assert columns == ["status", "expires_at"]


def test_a_database_from_before_the_client_column_gains_it(tmp_path: Path) -> None:
    """Run records gained `client` (the API's audit records): an older runs table is
    altered on open, and its rows read back with client None."""
    from ephemera.leases.base import RunRecord

    path = tmp_path / "leases.db"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE runs (id TEXT PRIMARY KEY, env TEXT NOT NULL, op TEXT NOT NULL, "
            "actor TEXT NOT NULL, commit_sha TEXT, started_at TEXT NOT NULL, ended_at TEXT, "
            "result TEXT NOT NULL, added INTEGER NOT NULL DEFAULT 0, changed INTEGER NOT NULL "
            "DEFAULT 0, destroyed INTEGER NOT NULL DEFAULT 0, log_path TEXT, detail TEXT)"
        )
        db.execute(
            "INSERT INTO runs (id, env, op, actor, started_at, result) VALUES "
            "('old', 'dev', 'apply', 'alice', '2030-01-01T12:00:00.000000+00:00', 'ok')"
        )
    store = SqliteLeaseStore(path)
    [old] = store.runs("dev")
    assert old.id == "old" and old.client is None
    audit = RunRecord("new", "dev", "audit:extend", "bot", None, NOW, client="127.0.0.1")
    store.add_run(audit)
    assert store.runs("dev")[0] == audit
