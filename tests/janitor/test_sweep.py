"""The sweep: claims, destroys, backoff, dry runs, warnings, concurrency. Time is injected."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ephemera.janitor.dispatch import DispatchResult
from ephemera.janitor.notify import Notification
from ephemera.janitor.summary import format_summary
from ephemera.janitor.sweep import sweep
from ephemera.leases import (
    ACTIVE,
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseStore,
    SqliteLeaseStore,
)

from .helpers import NOW, ConflictOnce, H, M, Recorder, lease, run_sweep

# ------------------------------------------------------------------ sweep: destroys


def test_expired_lease_is_claimed_destroyed_and_notified(store: SqliteLeaseStore) -> None:
    store.create(lease("old", expires_in=-M))
    store.create(lease("young", expires_in=30 * H))
    rec = Recorder()
    summary = run_sweep(store, rec)
    assert rec.destroyed == ["old"]
    old = store.get("old")
    assert old.status == DESTROYED
    assert old.status_reason == "expired: ttl ran out"
    assert old.status_changed_at == NOW
    assert rec.kinds() == [("old", "destroyed")]
    assert [i.env for i in summary.claimed] == ["old"]
    assert [i.env for i in summary.destroyed] == ["old"]
    assert summary.ok
    assert store.get("young").status == ACTIVE
    [run] = store.runs("old")
    assert (run.op, run.actor, run.result) == ("expire", "ttl-janitor", "destroyed")
    # A second sweep finds nothing left to do.
    rec2 = Recorder()
    again = run_sweep(store, rec2, NOW + M)
    assert rec2.destroyed == [] and again.claimed == []


def test_protected_leases_are_never_claimed(store: SqliteLeaseStore) -> None:
    store.create(lease("keep", expires_in=-H, protected=True))
    rec = Recorder()
    summary = run_sweep(store, rec)
    assert rec.destroyed == [] and rec.sent == []
    assert store.get("keep").status == ACTIVE and store.get("keep").version == 1
    assert [(i.env, i.reason) for i in summary.skipped] == [
        ("keep", "protected: never destroyed by the janitor")
    ]


def test_dispatched_destroy_stays_destroying(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=-M))
    rec = Recorder({"qa": DispatchResult("dispatched", "codebuild build janitor:1234")})
    summary = run_sweep(store, rec)
    qa = store.get("qa")
    assert qa.status == DESTROYING
    assert "codebuild build janitor:1234" in qa.status_reason
    assert rec.kinds() == [("qa", "dispatched")]
    assert [i.env for i in summary.dispatched] == ["qa"] and summary.destroyed == []


def test_failed_destroy_backs_off_and_is_retried(store: SqliteLeaseStore) -> None:
    arns = ["arn:aws:s3:::qa-bucket", "arn:aws:sns:us-east-1:123456789012:qa"]
    store.create(lease("qa", expires_in=-M))
    rec = Recorder({"qa": DispatchResult("failed", "destroy: AccessDenied", arns)})
    summary = run_sweep(store, rec)
    qa = store.get("qa")
    assert qa.status == FAILED and qa.attempts == 1
    assert qa.next_attempt_at == NOW + 5 * M
    assert "AccessDenied" in qa.status_reason and arns[0] in qa.status_reason
    assert [i.env for i in summary.failed] == ["qa"] and not summary.ok
    [event] = rec.sent
    assert event.kind == "failed"
    assert all(arn in event.text for arn in arns)
    assert event.data["leftovers"] == arns

    # Before next_attempt_at: not retried, not notified again.
    early = run_sweep(store, rec, NOW + 4 * M)
    assert rec.destroyed == ["qa"] and len(rec.sent) == 1
    assert "next attempt at" in early.skipped[0].reason

    # At next_attempt_at: claimed again (failed → destroying) and failing again.
    run_sweep(store, rec, NOW + 5 * M)
    qa = store.get("qa")
    assert rec.destroyed == ["qa", "qa"] and len(rec.sent) == 2
    assert qa.attempts == 2 and qa.next_attempt_at == NOW + 5 * M + 15 * M

    # Third time lucky.
    rec.outcomes["qa"] = DispatchResult("destroyed", "gone")
    run_sweep(store, rec, NOW + 20 * M)
    assert store.get("qa").status == DESTROYED
    assert store.get("qa").next_attempt_at is None


def test_dispatcher_exception_and_destroy_with_leftovers_are_failures(
    store: SqliteLeaseStore,
) -> None:
    store.create(lease("boom", expires_in=-M))
    store.create(lease("left", expires_in=-M))
    store.create(lease("ok", expires_in=-M))
    rec = Recorder(
        {
            "boom": RuntimeError("terraform crashed"),
            "left": DispatchResult("destroyed", "done?", ["aws_s3_bucket.b"]),
        }
    )
    summary = run_sweep(store, rec)
    assert sorted(rec.destroyed) == ["boom", "left", "ok"]  # one failure stops no other
    assert store.get("boom").status == FAILED
    assert "terraform crashed" in store.get("boom").status_reason
    assert store.get("left").status == FAILED  # never reported as destroyed
    assert "aws_s3_bucket.b" in store.get("left").status_reason
    assert store.get("ok").status == DESTROYED
    assert sorted(i.env for i in summary.failed) == ["boom", "left"]
    assert [i.env for i in summary.destroyed] == ["ok"]


def test_a_broken_lease_write_stops_no_other_environment(store: SqliteLeaseStore) -> None:
    class Flaky(ConflictOnce):
        def update(self, lease: Lease) -> Lease:
            if lease.env == "bad":
                raise OSError("disk full")
            return self.inner.update(lease)

    store.create(lease("bad", expires_in=-2 * M))
    store.create(lease("good", expires_in=-M))
    rec = Recorder()
    summary = sweep(Flaky(store), now=NOW, dispatcher=rec, notifier=rec)
    assert rec.destroyed == ["good"]
    assert store.get("good").status == DESTROYED
    assert [i.env for i in summary.failed] == ["bad"]
    assert "disk full" in summary.failed[0].reason


def test_orphaned_leases_are_destroyed_and_reported(store: SqliteLeaseStore) -> None:
    store.create(lease("gone", expires_in=-M))
    store.create(lease("here", expires_in=-M))
    rec = Recorder()
    summary = run_sweep(store, rec, env_exists=lambda name: name != "gone")
    assert sorted(rec.destroyed) == ["gone", "here"]
    assert summary.orphans == ["gone"]
    gone_event = next(e for e in rec.sent if e.env == "gone")
    assert "no longer exists" in gone_event.text


def test_max_destroys_caps_claims_per_sweep(store: SqliteLeaseStore) -> None:
    for i, env in enumerate(["a", "b", "c"]):
        store.create(lease(env, expires_in=-(3 - i) * M))
    rec = Recorder()
    summary = run_sweep(store, rec, max_destroys=1)
    assert rec.destroyed == ["a"]  # the longest expired first
    assert [i.env for i in summary.skipped] == ["b", "c"]
    assert all("max_destroys=1 reached" in i.reason for i in summary.skipped)
    assert store.get("b").status == ACTIVE
    run_sweep(store, rec, max_destroys=5)
    assert rec.destroyed == ["a", "b", "c"]


def test_dry_run_changes_nothing(store: SqliteLeaseStore) -> None:
    store.create(lease("old", expires_in=-M))
    store.create(lease("soon", expires_in=H))
    before = store.list()
    rec = Recorder()
    summary = run_sweep(store, rec, dry_run=True)
    assert store.list() == before
    assert rec.destroyed == [] and rec.sent == []
    assert store.runs("old") == []
    assert summary.dry_run
    assert [(i.env, i.reason.split(":")[0]) for i in summary.claimed] == [
        ("old", "would claim and destroy")
    ]
    assert [(i.env, i.reason) for i in summary.warned] == [("soon", "would send the 2h warning")]
    assert "dry run" in format_summary(summary)


def test_summary_json_and_console_format(store: SqliteLeaseStore) -> None:
    store.create(lease("old", expires_in=-M))
    store.create(lease("keep", expires_in=-M, protected=True))
    summary = run_sweep(store, Recorder())
    data = json.loads(summary.to_json())
    assert data["destroyed"][0]["env"] == "old"
    assert data["skipped"][0] == {
        "env": "keep",
        "reason": "protected: never destroyed by the janitor",
    }
    assert data["dry_run"] is False and data["ok"] is True
    assert set(data) >= {"claimed", "destroyed", "failed", "warned", "skipped", "orphans"}
    text = format_summary(summary)
    assert "destroyed  old:" in text and "skipped    keep:" in text
    empty = run_sweep(SqliteLeaseStore(store.path.parent / "empty.db"), Recorder())
    assert "nothing to do" in format_summary(empty)


# ------------------------------------------------------------------ sweep: warnings


def test_warning_sent_once_per_rung(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=2 * H - M))
    rec = Recorder()
    counts = {"qa": 7}
    summary = run_sweep(store, rec, resource_count=lambda lease: counts[lease.env])
    [event] = rec.sent
    assert event.kind == "warning" and event.data["rung"] == "2h"
    assert "7 resources" in event.text
    assert "also marked sent: 24h" in summary.warned[0].reason
    assert set(store.get("qa").warnings_sent) == {"2h", "24h"}
    run_sweep(store, rec, NOW + 10 * M)
    assert len(rec.sent) == 1  # the same rung is not sent twice
    run_sweep(store, rec, NOW + 95 * M)  # 24m left: the 30m rung
    assert [e.data["rung"] for e in rec.sent] == ["2h", "30m"]
    assert all(e.kind == "warning" for e in rec.sent)


def test_warnings_use_each_envs_ladder_and_skip_protected(store: SqliteLeaseStore) -> None:
    store.create(lease("custom", expires_in=50 * M))
    store.create(lease("default", expires_in=50 * M))
    store.create(lease("keep", expires_in=50 * M, protected=True))
    ladders = {"custom": ("1h",)}
    rec = Recorder()
    run_sweep(store, rec, ladders=lambda env: ladders.get(env, ("24h", "2h", "30m")))
    assert sorted((e.env, e.data["rung"]) for e in rec.sent) == [
        ("custom", "1h"),
        ("default", "2h"),
    ]


def test_a_failing_notifier_is_reported_not_raised(store: SqliteLeaseStore) -> None:
    class Broken(Recorder):
        def send(self, event: Notification) -> None:
            raise OSError("webhook down")

    store.create(lease("old", expires_in=-M))
    store.create(lease("soon", expires_in=H))
    rec = Broken()
    summary = run_sweep(store, rec)
    assert store.get("old").status == DESTROYED
    assert store.get("soon").warnings_sent  # recorded: never sent twice, even if lost
    assert sorted(i.env for i in summary.errors) == ["old", "soon"]
    assert "webhook down" in summary.errors[0].reason
    assert not summary.ok


# ------------------------------------------------------------------ concurrency


@pytest.fixture(params=["sqlite", "dynamodb"])
def any_store(request, tmp_path: Path) -> Iterator[LeaseStore]:
    if request.param == "sqlite":
        yield SqliteLeaseStore(tmp_path / "leases.db")
        return
    from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables

    moto = request.getfixturevalue("moto")
    client = moto.client("dynamodb")
    create_tables(client, "ephemera-leases")
    yield DynamoLeaseStore(client, "ephemera-leases")


class Lockstep(LeaseStore):
    """Makes every sweep read the same leases before any of them writes: each `due` and
    `list` waits at a barrier for the other sweeps, so their CAS writes really collide."""

    def __init__(self, inner: LeaseStore, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=60)

    def due(self, statuses, before):
        found = self.inner.due(statuses, before)
        self.barrier.wait()
        return found

    def list(self):
        found = self.inner.list()
        self.barrier.wait()
        return found

    get = property(lambda self: self.inner.get)
    create = property(lambda self: self.inner.create)
    update = property(lambda self: self.inner.update)
    add_run = property(lambda self: self.inner.add_run)
    finish_run = property(lambda self: self.inner.finish_run)
    runs = property(lambda self: self.inner.runs)
    get_lock = property(lambda self: self.inner.get_lock)
    put_lock = property(lambda self: self.inner.put_lock)
    delete_lock = property(lambda self: self.inner.delete_lock)


def test_two_sweeps_at_once_destroy_and_warn_each_env_exactly_once(
    any_store: LeaseStore,
) -> None:
    expired = [f"exp-{i}" for i in range(6)]
    warned = [f"warn-{i}" for i in range(4)]
    for env in expired:
        any_store.create(lease(env, expires_in=-M))
    for env in warned:
        any_store.create(lease(env, expires_in=H))
    rec = Recorder()  # shared: records every destroy and notification of both sweeps
    shared = Lockstep(any_store, parties=2)
    summaries = []
    errors = []

    def one_sweep() -> None:
        try:
            summaries.append(sweep(shared, now=NOW, dispatcher=rec, notifier=rec))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one_sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(summaries) == 2

    assert sorted(rec.destroyed) == expired  # each exactly once
    assert all(any_store.get(env).status == DESTROYED for env in expired)
    warnings = sorted(e.env for e in rec.sent if e.kind == "warning")
    assert warnings == warned  # each exactly once
    claimed = sorted(i.env for s in summaries for i in s.claimed)
    assert claimed == expired
    lost = sorted(i.env for s in summaries for i in s.skipped)
    assert lost == expired  # every lease was read by both, and claimed by one
