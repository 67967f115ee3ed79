"""50 concurrent `extend-ttl` of 1h on one lease end at expiry + 50h, on both stores:
no update is lost (the compare-and-swap of ephemera.ttl.extend, retried)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from ephemera.janitor.extend import extend
from ephemera.leases import ACTIVE, Lease

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EXPIRY = NOW + timedelta(hours=8)


def test_fifty_concurrent_extensions_lose_no_update(make_store):
    make_store().create(
        Lease(
            env="busy",
            target="local",
            stack="s",
            owner="o@example.com",
            status=ACTIVE,
            created_at=NOW,
            expires_at=EXPIRY,
        )
    )

    def one_hour(index: int) -> None:
        extend(make_store(), "busy", 1, now=NOW, max_ttl=timedelta(days=7), actor=f"user{index}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(one_hour, range(50)))

    store = make_store()
    lease = store.get("busy")
    assert lease.expires_at == EXPIRY + timedelta(hours=50)
    assert lease.version == 51
    extensions = [run for run in store.runs("busy", limit=100) if run.op == "extend"]
    assert len(extensions) == 50
    assert len({run.id for run in extensions}) == 50  # one `now`, 50 distinct run ids
