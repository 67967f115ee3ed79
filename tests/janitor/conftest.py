"""Fixtures of the janitor's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ephemera.leases import SqliteLeaseStore


@pytest.fixture
def store(tmp_path: Path) -> SqliteLeaseStore:
    return SqliteLeaseStore(tmp_path / "leases.db")
