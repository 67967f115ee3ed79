"""LeaseStore.modify: read-modify-write under compare-and-swap, on both stores."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from ephemera.leases import ACTIVE, Lease

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_concurrent_modifications_all_land(make_store):
    make_store().create(
        Lease(
            env="busy",
            target="local",
            stack="s",
            owner="o@example.com",
            status=ACTIVE,
            created_at=NOW,
            expires_at=NOW,
        )
    )

    def one_hour(_: int) -> None:
        make_store().modify(
            "busy", lambda lease: lease.evolve(expires_at=lease.expires_at + timedelta(hours=1))
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(one_hour, range(20)))
    assert make_store().get("busy").expires_at == NOW + timedelta(hours=20)


def test_modify_of_a_missing_lease_is_none(make_store):
    assert make_store().modify("nobody", lambda lease: lease) is None
