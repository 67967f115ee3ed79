"""The janitor's sweep on DynamoDB reads leases by querying the status+expiry index:
expiry and warnings alike, never a Scan of the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ephemera.janitor.dispatch import LocalDispatcher
from ephemera.janitor.notify import Notification
from ephemera.janitor.sweep import SweepSettings, sweep
from ephemera.leases import ACTIVE, Lease
from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables
from tests.leases.test_dynamodb import CallLog

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Collect:
    def __init__(self) -> None:
        self.events: list[Notification] = []

    def send(self, event: Notification) -> None:
        self.events.append(event)


def test_sweep_queries_and_never_scans(moto):
    client = moto.client("dynamodb")
    create_tables(client, "leases")
    store = DynamoLeaseStore(client, "leases")
    for env, left in (("soon", timedelta(minutes=90)), ("later", timedelta(days=5))):
        store.create(
            Lease(
                env=env,
                target="aws",
                stack="s",
                owner="o@example.com",
                status=ACTIVE,
                created_at=NOW,
                expires_at=NOW + left,
            )
        )
    calls = CallLog(client)
    notes = Collect()
    summary = sweep(
        store,
        now=NOW,
        dispatcher=LocalDispatcher(lambda env: []),
        notifier=notes,
        settings=SweepSettings(ladders="24h,2h,30m"),
    )
    assert [item.env for item in summary.warned] == ["soon"]
    assert [event.env for event in notes.events] == ["soon"]
    assert "Scan" not in calls.names()
    assert calls.names().count("Query") >= 2  # expiry pass and warning pass
