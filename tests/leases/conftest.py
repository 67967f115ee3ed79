"""Lease store fixtures: every contract test runs on SQLite and on DynamoDB (moto server)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ephemera.leases.base import LeaseStore
from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables
from ephemera.leases.sqlite import SqliteLeaseStore

TABLE = "ephemera-leases"

# make_store(page_size=None) -> a new store on the same data. DynamoDB uses page_size as
# the Limit of every Query and Scan; SQLite has no pages and ignores it.
StoreFactory = Callable[..., LeaseStore]


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """Builds a new store on one fresh data set; call it once per thread if needed."""
    if request.param == "sqlite":
        path = tmp_path / "leases.db"

        def sqlite_store(page_size: int | None = None) -> LeaseStore:
            return SqliteLeaseStore(path)

        return sqlite_store

    moto = request.getfixturevalue("moto")
    create_tables(moto.client("dynamodb"), TABLE)

    session = moto.session()
    session_lock = threading.Lock()

    def dynamo_store(page_size: int | None = None) -> LeaseStore:
        # Each store gets its own client. boto3 clients are thread-safe but sessions are
        # not, so threads take turns building their client from the shared session.
        with session_lock:
            return DynamoLeaseStore.from_session(session, TABLE, moto.endpoint, page_size=page_size)

    return dynamo_store


@pytest.fixture
def store(make_store: StoreFactory) -> LeaseStore:
    return make_store()
