"""The lease state machine of docs/lifecycle.md, transition by transition, on both lease
stores (SQLite and DynamoDB on moto): what the sweep does with each state a run left."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from ephemera.janitor.dispatch import DispatchResult
from ephemera.janitor.notify import Notification
from ephemera.janitor.sweep import CLAIM_TTL, sweep
from ephemera.leases.base import (
    ACTIVE,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    UNTRACKED,
    Lease,
    LeaseStore,
)
from ephemera.leases.holders import Holder, holder_here, this_host
from ephemera.leases.oplock import acquire

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


class Janitor:
    """Dispatcher and notifier: destroys (or fails) what it is handed, records it."""

    def __init__(self, outcome: str = "destroyed") -> None:
        self.outcome = outcome
        self.handed: list[Lease] = []

    def destroy(self, lease: Lease) -> DispatchResult:
        self.handed.append(lease)
        return DispatchResult(self.outcome, "done" if self.outcome != "failed" else "boom")

    def send(self, event: Notification) -> None:
        pass


def dead_holder(op: str = "deploy") -> Holder:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return Holder("run-dead", op, this_host(), child.pid, NOW - 2 * H)


def lease(env: str, status: str, expires_in: timedelta, **fields: object) -> Lease:
    return Lease(
        env=env,
        target="local",
        stack="s",
        owner="o@example.com",
        status=status,
        created_at=NOW - 3 * H,
        expires_at=NOW + expires_in,
        **fields,
    )


def run(store: LeaseStore, janitor: Janitor, now: datetime = NOW):
    return sweep(store, now=now, dispatcher=janitor, notifier=janitor)


def test_a_dead_unexpired_deploy_becomes_failed_naming_its_run(store: LeaseStore) -> None:
    dead = dead_holder()
    store.create(lease("qa", DEPLOYING, 5 * H, holder=dead, claim_deadline=NOW + H))
    summary = run(store, janitor := Janitor())
    after = store.get("qa")
    assert (after.status, after.holder, after.claim_deadline) == (FAILED, None, None)
    assert after.status_reason == f"{dead.describe()} stopped without finishing"
    assert after.expires_at == NOW + 5 * H and janitor.handed == []
    assert [i.env for i in summary.recovered] == ["qa"]


def test_a_dead_expired_deploy_is_taken_over_and_destroyed(store: LeaseStore) -> None:
    store.create(lease("qa", DEPLOYING, -H, holder=dead_holder(), claim_deadline=NOW + H))
    summary = run(store, janitor := Janitor())
    assert store.get("qa").status == DESTROYED
    (handed,) = janitor.handed
    assert handed.status == DESTROYING and handed.holder.op == "expire"
    assert handed.claim_deadline == NOW + CLAIM_TTL
    assert "taken over" in summary.claimed[0].reason


def test_a_dead_destroy_is_retried_expired_or_not(store: LeaseStore) -> None:
    store.create(lease("qa", DESTROYING, 5 * H, holder=dead_holder("destroy")))
    run(store, Janitor())
    assert store.get("qa").status == DESTROYED


def test_a_claim_from_another_host_waits_for_its_deadline(store: LeaseStore) -> None:
    far = Holder("run-far", "deploy", "another-host", 1234, NOW)
    store.create(lease("qa", DEPLOYING, -H, holder=far, claim_deadline=NOW + H))
    run(store, janitor := Janitor())
    assert store.get("qa").status == DEPLOYING and janitor.handed == []
    run(store, janitor, NOW + H)
    assert store.get("qa").status == DESTROYED


def test_a_live_operation_is_never_taken_over(store: LeaseStore) -> None:
    store.create(lease("qa", DEPLOYING, -H, holder=holder_here("run-me", "deploy", NOW)))
    store.create(lease("busy", ACTIVE, -H))
    acquire(store, "qa", holder_here("run-me", "deploy", NOW), NOW)
    acquire(store, "busy", holder_here("run-plan", "plan", NOW), NOW)
    summary = run(store, janitor := Janitor())
    assert store.get("qa").status == DEPLOYING and store.get("busy").status == ACTIVE
    assert janitor.handed == []
    assert "an operation is running" in {i.env: i.reason for i in summary.skipped}["busy"]


def test_expired_active_untracked_and_failed_leases_are_claimed(store: LeaseStore) -> None:
    store.create(lease("a", ACTIVE, -H))
    store.create(lease("u", UNTRACKED, -H))
    store.create(lease("f", FAILED, -H, attempts=1, next_attempt_at=NOW - H))
    store.create(lease("waiting", FAILED, -H, attempts=1, next_attempt_at=NOW + H))
    run(store, Janitor())
    statuses = {x.env: x.status for x in store.list()}
    assert statuses == {"a": DESTROYED, "u": DESTROYED, "f": DESTROYED, "waiting": FAILED}


def test_a_failed_destroy_backs_off_and_a_dispatched_one_keeps_its_claim(
    store: LeaseStore,
) -> None:
    store.create(lease("bad", ACTIVE, -H))
    run(store, Janitor("failed"))
    bad = store.get("bad")
    assert (bad.status, bad.attempts, bad.holder) == (FAILED, 1, None)
    assert bad.next_attempt_at == NOW + timedelta(minutes=5)
    store.create(lease("far", ACTIVE, -H))
    run(store, Janitor("dispatched"))
    far = store.get("far")
    assert far.status == DESTROYING and far.claim_deadline == NOW + CLAIM_TTL
    run(store, Janitor(), NOW + CLAIM_TTL)  # the dispatched build never finished
    assert store.get("far").status == DESTROYED
