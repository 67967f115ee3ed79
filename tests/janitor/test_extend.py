"""extend-ttl: the expiry moves back, capped, under compare-and-swap. Time is injected."""

from __future__ import annotations

import pytest

from ephemera.errors import EphemeraError, UsageError
from ephemera.janitor.extend import extend
from ephemera.janitor.ladder import (
    rearmed,
)
from ephemera.leases import (
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseConflict,
    SqliteLeaseStore,
)

from .helpers import NOW, ConflictOnce, H, M, lease

# ------------------------------------------------------------------ extend


def test_extend_moves_expiry_and_records_the_run(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=2 * H))
    written = extend(store, "qa", 3, now=NOW, max_ttl=24 * H, actor="bob", reason="demo tomorrow")
    assert written.expires_at == NOW + 5 * H
    assert store.get("qa").expires_at == NOW + 5 * H
    [run] = store.runs("qa")
    assert run.op == "extend" and run.actor == "bob" and run.result == "ok"
    assert run.detail == "expiry 2025-03-01T14:00:00Z → 2025-03-01T17:00:00Z, demo tomorrow"


def test_extend_refused_past_max_ttl(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=20 * H))
    with pytest.raises(UsageError, match=r"past now \+ max_ttl .*at most 4h 0m more"):
        extend(store, "qa", 5, now=NOW, max_ttl=24 * H, actor="bob")
    assert store.get("qa").expires_at == NOW + 20 * H
    assert store.runs("qa") == []
    extend(store, "qa", 4, now=NOW, max_ttl=24 * H, actor="bob")  # exactly the cap is fine


@pytest.mark.parametrize("status", [DESTROYING, DESTROYED])
def test_extend_refused_while_destroying_or_destroyed(store: SqliteLeaseStore, status: str) -> None:
    store.create(lease("qa", status=status))
    with pytest.raises(UsageError, match=f"refused: the environment is {status}"):
        extend(store, "qa", 1, now=NOW, max_ttl=24 * H, actor="bob")


def test_extend_refused_without_lease_expiry_or_positive_hours(store: SqliteLeaseStore) -> None:
    with pytest.raises(UsageError, match="no lease"):
        extend(store, "ghost", 1, now=NOW, max_ttl=24 * H, actor="bob")
    store.create(lease("new", status=DEPLOYING, expires_in=None))
    with pytest.raises(UsageError, match="no expiry yet"):
        extend(store, "new", 1, now=NOW, max_ttl=24 * H, actor="bob")
    store.create(lease("qa"))
    with pytest.raises(UsageError, match="positive"):
        extend(store, "qa", 0, now=NOW, max_ttl=24 * H, actor="bob")
    store.create(lease("broken", status=FAILED, attempts=2, expires_in=-H))
    with pytest.raises(UsageError, match="destroy failed"):
        extend(store, "broken", 1, now=NOW, max_ttl=24 * H, actor="bob")


def test_extend_of_an_expired_unswept_lease_counts_from_now(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=-30 * M, warnings_sent=("24h", "2h", "30m")))
    written = extend(store, "qa", 2, now=NOW, max_ttl=24 * H, actor="bob")
    assert written.expires_at == NOW + 2 * H
    assert written.warnings_sent == ("24h", "2h")  # 30m re-armed


def test_extend_rearms_the_rungs_it_moved_past(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=H, warnings_sent=("24h", "2h")))
    written = extend(store, "qa", 4, now=NOW, max_ttl=48 * H, actor="bob")
    assert written.warnings_sent == ("24h",)  # 5h left: the 2h warning will be sent again
    assert rearmed(("24h", "2h", "odd"), NOW + 30 * H, NOW) == ("odd",)


def test_extend_retries_a_lost_compare_and_swap(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=2 * H))
    racy = ConflictOnce(store)
    written = extend(racy, "qa", 1, now=NOW, max_ttl=24 * H, actor="bob")
    assert racy.conflicts == 1
    final = store.get("qa")
    assert final == written
    assert final.expires_at == NOW + 3 * H
    assert final.owner == "carol@example.com"  # the concurrent write was not lost


def test_extend_gives_up_when_the_lease_never_settles(store: SqliteLeaseStore) -> None:
    class AlwaysConflict(ConflictOnce):
        def update(self, lease: Lease) -> Lease:
            raise LeaseConflict("busy")

    store.create(lease("qa"))
    with pytest.raises(EphemeraError, match="kept changing"):
        extend(AlwaysConflict(store), "qa", 1, now=NOW, max_ttl=24 * H, actor="bob")
