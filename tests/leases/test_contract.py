"""The LeaseStore contract, run on every backend (SQLite file, DynamoDB on moto server)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ephemera.leases.base import (
    ACTIVE,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseConflict,
    LeaseStore,
    OpLock,
    RunRecord,
)
from ephemera.leases.holders import Holder

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
PLUS_TWO = timezone(timedelta(hours=2))
HOLDER = Holder("20300101T120000Z-apply-0123456789", "deploy", "host-a", 4242, NOW, 987654)


def make_lease(env: str = "dev-alice", **changes: object) -> Lease:
    lease = Lease(
        env=env,
        target="local",
        stack="mock-api",
        owner="alice",
        status=ACTIVE,
        created_at=NOW,
    )
    return lease.evolve(**changes)


def full_lease(env: str = "dev-full") -> Lease:
    """Every field set, some times in a non-UTC zone, outputs a JSON map can hold."""
    return make_lease(
        env,
        target="aws",
        stack="network",
        owner="bob",
        status=FAILED,
        created_at=datetime(2030, 1, 1, 14, 0, tzinfo=PLUS_TWO),
        applied_at=NOW + timedelta(minutes=5, microseconds=123456),
        expires_at=NOW + 24 * HOUR,
        protected=True,
        warnings_sent=("24h", "2h"),
        attempts=3,
        next_attempt_at=NOW + timedelta(minutes=30),
        outputs={
            "url": "http://127.0.0.1:8080/",
            "port": 8080,
            "ratio": 0.25,
            "enabled": False,
            "subnets": ["a", "b"],
            "nested": {"empty": None, "list": [1, 2.5, "x"]},
        },
        last_run_id="run-42",
        status_reason="destroy failed: 2 resources remain",
        status_changed_at=NOW + timedelta(minutes=10),
        holder=HOLDER,
        claim_deadline=NOW + timedelta(minutes=2, microseconds=5),
    )


def make_run(run_id: str, env: str = "dev-alice", minute: int = 0, **changes: object) -> RunRecord:
    run = RunRecord(
        id=run_id,
        env=env,
        op="apply",
        actor="alice",
        commit="abc1234",
        started_at=NOW + timedelta(minutes=minute),
    )
    return replace(run, **changes)


# -- create / get ---------------------------------------------------------------------------


def test_get_missing_is_none(store: LeaseStore) -> None:
    assert store.get("nobody") is None


def test_create_writes_version_one_and_round_trips_every_field(store: LeaseStore) -> None:
    lease = full_lease()
    written = store.create(lease)
    assert written == lease.evolve(version=1)
    stored = store.get(lease.env)
    assert stored == written
    assert stored.created_at.utcoffset() == timedelta(0)
    assert stored.outputs["ratio"] == 0.25 and isinstance(stored.outputs["port"], int)


def test_create_round_trips_a_minimal_lease(store: LeaseStore) -> None:
    written = store.create(make_lease())
    assert store.get("dev-alice") == written
    assert written.outputs == {} and written.warnings_sent == () and written.expires_at is None


def test_create_ignores_the_given_version(store: LeaseStore) -> None:
    assert store.create(make_lease(version=7)).version == 1
    assert store.get("dev-alice").version == 1


def test_create_twice_conflicts_and_keeps_the_first(store: LeaseStore) -> None:
    first = store.create(make_lease(owner="alice"))
    with pytest.raises(LeaseConflict):
        store.create(make_lease(owner="mallory"))
    assert store.get("dev-alice") == first


# -- update / put ---------------------------------------------------------------------------


def test_update_bumps_the_version(store: LeaseStore) -> None:
    created = store.create(make_lease())
    updated = store.update(created.evolve(expires_at=NOW + HOUR, attempts=1))
    assert updated.version == 2
    assert store.get("dev-alice") == updated
    again = store.update(updated.evolve(status=DESTROYING))
    assert again.version == 3
    assert store.get("dev-alice") == again


def test_update_can_clear_optional_fields(store: LeaseStore) -> None:
    created = store.create(full_lease())
    cleared = created.evolve(
        applied_at=None,
        expires_at=None,
        next_attempt_at=None,
        status_changed_at=None,
        protected=False,
        warnings_sent=(),
        attempts=0,
        outputs={},
        last_run_id=None,
        status_reason=None,
    )
    written = store.update(cleared)
    assert store.get(created.env) == written == cleared.evolve(version=2)


def test_update_with_a_stale_version_conflicts(store: LeaseStore) -> None:
    created = store.create(make_lease())
    current = store.update(created.evolve(owner="bob"))
    with pytest.raises(LeaseConflict):
        store.update(created.evolve(owner="carol"))
    assert store.get("dev-alice") == current


def test_update_with_a_future_version_conflicts(store: LeaseStore) -> None:
    created = store.create(make_lease())
    with pytest.raises(LeaseConflict):
        store.update(created.evolve(version=5, owner="carol"))
    assert store.get("dev-alice") == created


def test_update_of_a_missing_lease_conflicts(store: LeaseStore) -> None:
    with pytest.raises(LeaseConflict):
        store.update(make_lease("ghost", version=1))
    assert store.get("ghost") is None


def test_put_creates_then_updates(store: LeaseStore) -> None:
    created = store.put(make_lease())
    assert created.version == 1
    updated = store.put(created.evolve(expires_at=NOW + HOUR))
    assert updated.version == 2
    assert store.get("dev-alice") == updated
    with pytest.raises(LeaseConflict):
        store.put(created.evolve(owner="stale"))
    with pytest.raises(LeaseConflict):
        store.put(make_lease())  # version 0 again: the lease already exists


# -- list -----------------------------------------------------------------------------------


def test_list_is_empty_at_first(store: LeaseStore) -> None:
    assert store.list() == []


def test_list_returns_every_lease_sorted_by_env(store: LeaseStore) -> None:
    names = ["pr-7", "dev-bob", "staging", "dev-alice", "pr-10"]
    written = {name: store.create(make_lease(name, status=DESTROYED)) for name in names}
    assert store.list() == [written[name] for name in sorted(names)]


def test_list_follows_every_page(make_store) -> None:
    store = make_store(page_size=3)
    names = [f"env-{i:02d}" for i in range(11)]
    for name in reversed(names):
        store.create(make_lease(name))
    assert [lease.env for lease in store.list()] == names


# -- due ------------------------------------------------------------------------------------


@pytest.fixture
def due_leases(store: LeaseStore) -> dict[str, Lease]:
    specs = {
        "a": (ACTIVE, NOW - 2 * HOUR),
        "b": (ACTIVE, NOW - HOUR),
        "c": (ACTIVE, NOW),  # at `before`: due
        "d": (ACTIVE, NOW + timedelta(microseconds=1)),  # just after: not due
        "e": (DESTROYING, NOW - 3 * HOUR),
        "f": (FAILED, NOW - timedelta(minutes=30)),
        "g": (ACTIVE, None),  # no expiry yet: never due
        "h": (DEPLOYING, NOW - 5 * HOUR),
        "i": (DESTROYED, NOW - 10 * HOUR),
        "j": (ACTIVE, NOW + 30 * HOUR),
    }
    return {
        name: store.create(make_lease(name, status=status, expires_at=expires_at))
        for name, (status, expires_at) in specs.items()
    }


def envs(leases: list[Lease]) -> list[str]:
    return [lease.env for lease in leases]


def test_due_filters_by_status_and_time(store: LeaseStore, due_leases: dict) -> None:
    assert store.due((ACTIVE,), NOW) == [due_leases[n] for n in ("a", "b", "c")]
    assert envs(store.due((ACTIVE,), NOW - 90 * timedelta(minutes=1))) == ["a"]
    assert envs(store.due((ACTIVE,), NOW + 100 * HOUR)) == ["a", "b", "c", "d", "j"]
    assert envs(store.due((DESTROYED,), NOW)) == ["i"]
    assert store.due((ACTIVE,), NOW - 24 * HOUR) == []


def test_due_merges_statuses_in_expiry_order(store: LeaseStore, due_leases: dict) -> None:
    assert envs(store.due((ACTIVE, FAILED), NOW)) == ["a", "b", "f", "c"]
    assert envs(store.due((FAILED, DESTROYING, ACTIVE), NOW)) == ["e", "a", "b", "f", "c"]
    assert envs(store.due((ACTIVE, ACTIVE), NOW)) == ["a", "b", "c"]


def test_due_with_no_status_or_unknown_status_is_empty(store: LeaseStore, due_leases) -> None:
    assert store.due((), NOW) == []
    assert store.due(("no-such-status",), NOW) == []


def test_due_compares_instants_not_zones(store: LeaseStore, due_leases: dict) -> None:
    assert envs(store.due((ACTIVE,), NOW.astimezone(PLUS_TWO))) == ["a", "b", "c"]


def test_due_follows_status_and_expiry_changes(store: LeaseStore, due_leases: dict) -> None:
    store.update(due_leases["a"].evolve(status=DESTROYING))
    store.update(due_leases["b"].evolve(expires_at=NOW + HOUR))
    store.update(due_leases["g"].evolve(expires_at=NOW - 4 * HOUR))
    assert envs(store.due((ACTIVE,), NOW)) == ["g", "c"]
    assert envs(store.due((DESTROYING,), NOW)) == ["e", "a"]


def test_due_follows_every_page(make_store) -> None:
    store = make_store(page_size=4)
    expected = []
    for i in range(30):
        status = FAILED if i % 3 == 0 else ACTIVE
        lease = store.create(make_lease(f"env-{i:02d}", status=status, expires_at=NOW - i * HOUR))
        expected.append(lease)
    for i in range(5):  # not due: later, or another status
        store.create(make_lease(f"late-{i}", expires_at=NOW + (i + 1) * HOUR))
        store.create(make_lease(f"gone-{i}", status=DESTROYED, expires_at=NOW - HOUR))
    expected.reverse()  # earliest expiry first
    assert store.due((ACTIVE, FAILED), NOW) == expected
    assert store.due((FAILED,), NOW) == [lease for lease in expected if lease.status == FAILED]


def test_due_follows_pages_cut_by_size(store: LeaseStore) -> None:
    """Over 1 MB of due leases: DynamoDB cuts the result into pages by size."""
    blob = "x" * 100_000
    expected = [
        store.create(
            make_lease(f"big-{i:02d}", expires_at=NOW - (12 - i) * HOUR, outputs={"blob": blob})
        )
        for i in range(12)
    ]
    assert store.due((ACTIVE,), NOW) == expected


# -- runs -----------------------------------------------------------------------------------


def test_runs_of_an_unknown_env_are_empty(store: LeaseStore) -> None:
    assert store.runs("nobody") == []


def test_runs_newest_first_with_limit(store: LeaseStore) -> None:
    for minute in (3, 0, 4, 1, 2):
        store.add_run(make_run(f"r{minute}", minute=minute))
    store.add_run(make_run("other", env="dev-bob", minute=10))
    assert [r.id for r in store.runs("dev-alice")] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.id for r in store.runs("dev-alice", limit=2)] == ["r4", "r3"]
    assert [r.id for r in store.runs("dev-alice", limit=5)] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.id for r in store.runs("dev-alice", limit=50)] == ["r4", "r3", "r2", "r1", "r0"]
    assert [r.id for r in store.runs("dev-bob")] == ["other"]


def test_runs_order_is_time_order_across_zones(store: LeaseStore) -> None:
    store.add_run(make_run("early", started_at=datetime(2030, 1, 1, 13, 0, tzinfo=PLUS_TWO)))
    store.add_run(make_run("late", started_at=NOW))  # 12:00 UTC is after 11:00 UTC
    assert [r.id for r in store.runs("dev-alice")] == ["late", "early"]


def test_runs_follow_every_page(make_store) -> None:
    store = make_store(page_size=2)
    for minute in range(7):
        store.add_run(make_run(f"r{minute}", minute=minute))
    assert [r.id for r in store.runs("dev-alice")] == [f"r{m}" for m in range(6, -1, -1)]
    assert [r.id for r in store.runs("dev-alice", limit=5)] == [f"r{m}" for m in range(6, 1, -1)]


def test_add_run_round_trips(store: LeaseStore) -> None:
    bare = make_run("bare", commit=None)
    full = make_run(
        "full",
        minute=1,
        op="destroy",
        actor="janitor",
        ended_at=NOW + timedelta(minutes=9, microseconds=5),
        result="ok",
        added=1,
        changed=2,
        destroyed=3,
        log_path=".ephemera/runs/dev-alice/full.log",
        detail="expired at 2030-01-01T12:00:00+00:00",
    )
    audit = make_run(
        "audit",
        minute=2,
        op="audit:extend",
        actor="ci-bot",
        ended_at=NOW + timedelta(minutes=2),
        result="accepted",
        detail="4h: expires 2030-01-01 20:00 UTC",
        client="127.0.0.1",
    )
    store.add_run(bare)
    store.add_run(full)
    store.add_run(audit)
    assert store.runs("dev-alice") == [audit, full, bare]


def test_finish_run_overwrites_the_record(store: LeaseStore) -> None:
    run = make_run("r1", log_path="r1.log")
    store.add_run(run)
    assert store.runs("dev-alice") == [run]
    finished = replace(
        run,
        ended_at=NOW + timedelta(minutes=3),
        result="failed",
        added=4,
        changed=0,
        destroyed=1,
        detail="Error: timeout",
    )
    store.finish_run(finished)
    assert store.runs("dev-alice") == [finished]


# -- concurrency ----------------------------------------------------------------------------


def test_concurrent_extensions_lose_no_update(make_store) -> None:
    """50 threads read-modify-write "expires_at += 1h", retrying on conflict: +50h."""
    workers = 50
    make_store().create(make_lease(expires_at=NOW))
    barrier = threading.Barrier(workers, timeout=120)

    def extend(_: int) -> int:
        store = make_store()
        barrier.wait()
        for attempt in range(10_000):
            lease = store.get("dev-alice")
            try:
                store.update(lease.evolve(expires_at=lease.expires_at + HOUR))
            except LeaseConflict:
                continue
            return attempt
        raise AssertionError("never won the compare-and-swap")

    with ThreadPoolExecutor(workers) as pool:
        retries = list(pool.map(extend, range(workers)))
    final = make_store().get("dev-alice")
    assert final.expires_at == NOW + workers * HOUR
    assert final.version == 1 + workers
    assert len(retries) == workers


def test_two_claimers_exactly_one_wins(make_store) -> None:
    """Two janitors claim the same expired lease active -> destroying: one wins."""
    setup = make_store()
    for round_ in range(10):
        env = f"race-{round_}"
        setup.create(make_lease(env, expires_at=NOW - HOUR))
        barrier = threading.Barrier(2, timeout=60)

        def claim(_: int, env: str = env, barrier: threading.Barrier = barrier) -> bool:
            store = make_store()
            lease = store.get(env)
            assert lease.status == ACTIVE
            barrier.wait()  # both have read version 1 before either writes
            try:
                store.update(lease.evolve(status=DESTROYING, status_changed_at=NOW))
            except LeaseConflict:
                return False
            return True

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(claim, range(2)))
        assert outcomes == [False, True]
        stored = setup.get(env)
        assert stored.status == DESTROYING and stored.version == 2


# -- operation locks -------------------------------------------------------------------------


def make_lock(env: str = "dev-alice", run: str = "run-1", **changes: object) -> OpLock:
    holder = replace(HOLDER, run_id=run)
    return OpLock(env=env, holder=holder, deadline=NOW + 2 * HOUR).evolve(**changes)


def test_no_lock_at_first(store: LeaseStore) -> None:
    assert store.get_lock("dev-alice") is None


def test_put_lock_creates_version_one_and_round_trips(store: LeaseStore) -> None:
    written = store.put_lock(make_lock(), None)
    assert written == make_lock(version=1)
    assert store.get_lock("dev-alice") == written
    assert store.get("dev-alice") is None  # a lock is no lease
    assert store.list() == [] and store.due((ACTIVE,), NOW + 1000 * HOUR) == []


def test_a_second_lock_conflicts_and_keeps_the_first(store: LeaseStore) -> None:
    first = store.put_lock(make_lock(run="first"), None)
    with pytest.raises(LeaseConflict):
        store.put_lock(make_lock(run="second"), None)
    assert store.get_lock("dev-alice") == first


def test_replacing_a_lock_is_compare_and_swap(store: LeaseStore) -> None:
    first = store.put_lock(make_lock(run="first"), None)
    renewed = store.put_lock(first.evolve(deadline=NOW + 3 * HOUR), first)
    assert renewed.version == 2 and store.get_lock("dev-alice") == renewed
    with pytest.raises(LeaseConflict):  # `first` is stale now
        store.put_lock(make_lock(run="takeover"), first)
    taken = store.put_lock(make_lock(run="takeover"), renewed)
    assert store.get_lock("dev-alice").holder.run_id == "takeover" == taken.holder.run_id


def test_delete_lock_only_removes_the_same_version(store: LeaseStore) -> None:
    first = store.put_lock(make_lock(), None)
    renewed = store.put_lock(first.evolve(deadline=NOW + 3 * HOUR), first)
    assert store.delete_lock(first) is False and store.get_lock("dev-alice") == renewed
    assert store.delete_lock(renewed) is True and store.get_lock("dev-alice") is None
    assert store.delete_lock(renewed) is False


def test_locks_of_two_environments_are_independent(store: LeaseStore) -> None:
    store.put_lock(make_lock("a-env"), None)
    store.put_lock(make_lock("b-env"), None)
    store.create(make_lease("a-env"))
    assert [lease.env for lease in store.list()] == ["a-env"]
    assert store.get_lock("b-env").env == "b-env"


def test_in_status_lists_claimed_leases_whatever_their_expiry(store: LeaseStore) -> None:
    store.create(make_lease("soon", status=DEPLOYING, expires_at=NOW, holder=HOLDER))
    store.create(make_lease("late", status=DESTROYING, expires_at=NOW + 9000 * HOUR))
    store.create(make_lease("live", status=ACTIVE, expires_at=NOW))
    found = {lease.env: lease for lease in store.in_status((DEPLOYING, DESTROYING))}
    assert sorted(found) == ["late", "soon"]
    assert found["soon"].holder == HOLDER
