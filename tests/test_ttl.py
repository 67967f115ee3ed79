"""TTL maths, extend-ttl, the warning ladder and the sweep. Time is injected; no sleeps."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ephemera.dispatch import DispatchResult
from ephemera.errors import EphemeraError, UsageError
from ephemera.leases import (
    ACTIVE,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseConflict,
    LeaseStore,
    SqliteLeaseStore,
)
from ephemera.notify import Notification
from ephemera.ttl import (
    DEFAULT_LADDER,
    Rung,
    backoff,
    due_warnings,
    extend,
    format_remaining,
    format_summary,
    parse_duration,
    parse_ladder,
    rearmed,
    renewed_expiry,
    rung_text,
    sweep,
    warning_message,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)


def lease(env: str = "qa", *, expires_in: timedelta | None = 8 * H, **fields) -> Lease:
    values = dict(
        env=env,
        target="local",
        stack="local-mock-api",
        owner="alice@example.com",
        status=ACTIVE,
        created_at=NOW - H,
        applied_at=NOW - H,
        expires_at=None if expires_in is None else NOW + expires_in,
    )
    values.update(fields)
    return Lease(**values)


@pytest.fixture
def store(tmp_path: Path) -> SqliteLeaseStore:
    return SqliteLeaseStore(tmp_path / "leases.db")


class Recorder:
    """A dispatcher and a notifier that record what they were asked to do."""

    def __init__(self, outcomes: dict[str, DispatchResult | Exception] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.destroyed: list[str] = []
        self.sent: list[Notification] = []
        self.lock = threading.Lock()

    def destroy(self, lease: Lease) -> DispatchResult:
        assert lease.status == DESTROYING  # only ever called on a lease this sweep claimed
        with self.lock:
            self.destroyed.append(lease.env)
        outcome = self.outcomes.get(lease.env, DispatchResult("destroyed", "gone"))
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def send(self, event: Notification) -> None:
        with self.lock:
            self.sent.append(event)

    def kinds(self) -> list[tuple[str, str]]:
        return [(e.env, e.kind) for e in self.sent]


def run_sweep(store: LeaseStore, rec: Recorder, now: datetime = NOW, **kwargs):
    return sweep(store, now=now, dispatcher=rec, notifier=rec, **kwargs)


# ------------------------------------------------------------------ durations


def test_existing_helpers_still_work() -> None:
    assert parse_duration("30m") == 30 * M
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError):
        parse_duration("0h")
    assert format_remaining(2 * H + 5 * M) == "2h 5m"
    assert format_remaining(-5 * M) == "expired 5m ago"
    assert renewed_expiry(NOW + 10 * H, 8 * H, NOW) == NOW + 10 * H
    assert renewed_expiry(None, 8 * H, NOW) == NOW + 8 * H


def test_rungs_and_ladders() -> None:
    assert rung_text(24 * H) == "24h"
    assert rung_text(90 * M) == "90m"
    assert rung_text(timedelta(days=2)) == "48h"
    with pytest.raises(ValueError):
        rung_text(timedelta(seconds=30))
    assert parse_ladder("30m, 24h,2h") == (24 * H, 2 * H, 30 * M)
    assert parse_ladder(["2h", 2 * H, "1d"]) == (24 * H, 2 * H)
    assert DEFAULT_LADDER == (24 * H, 2 * H, 30 * M)
    assert sorted([Rung(2 * H), Rung(30 * M)])[0].text == "30m"


def test_backoff_5m_15m_1h_4h_then_4h() -> None:
    assert [backoff(n) for n in range(1, 7)] == [5 * M, 15 * M, H, 4 * H, 4 * H, 4 * H]


# ------------------------------------------------------------------ warnings


def texts(rungs: list[Rung]) -> list[str]:
    return [r.text for r in rungs]


def test_due_warnings_most_urgent_first_and_each_once() -> None:
    ladder = DEFAULT_LADDER
    assert due_warnings(lease(expires_in=25 * H), ladder, NOW) == []
    assert texts(due_warnings(lease(expires_in=24 * H), ladder, NOW)) == ["24h"]
    assert texts(due_warnings(lease(expires_in=H), ladder, NOW)) == ["2h", "24h"]
    assert texts(due_warnings(lease(expires_in=10 * M), ladder, NOW)) == ["30m", "2h", "24h"]
    sent = lease(expires_in=H, warnings_sent=("24h",))
    assert texts(due_warnings(sent, ladder, NOW)) == ["2h"]
    # expired, not active, no expiry: nothing to warn about
    assert due_warnings(lease(expires_in=-M), ladder, NOW) == []
    assert due_warnings(lease(expires_in=H, status=DESTROYING), ladder, NOW) == []
    assert due_warnings(lease(expires_in=None, status=DEPLOYING), ladder, NOW) == []


def test_warning_message_says_what_and_how_to_extend() -> None:
    event = warning_message(lease("qa-api", expires_in=2 * H), Rung(2 * H), NOW, 12)
    assert event.kind == "warning" and event.env == "qa-api"
    for needle in (
        "qa-api",
        "alice@example.com",
        "2025-03-01 14:00 UTC",
        "invoke extend-ttl --env qa-api --hours 4",
        "make extend-ttl ENV=qa-api HOURS=4",
        "12 resources",
    ):
        assert needle in event.text
    assert "2h" in event.subject
    unknown = warning_message(lease(expires_in=H), Rung(2 * H), NOW, None)
    assert "everything in its Terraform state" in unknown.text


# ------------------------------------------------------------------ extend


def test_extend_moves_expiry_and_records_the_run(store: SqliteLeaseStore) -> None:
    store.create(lease("qa", expires_in=2 * H))
    written = extend(store, "qa", 3, now=NOW, max_ttl=24 * H, actor="bob", reason="demo tomorrow")
    assert written.expires_at == NOW + 5 * H
    assert store.get("qa").expires_at == NOW + 5 * H
    [run] = store.runs("qa")
    assert run.op == "extend" and run.actor == "bob" and run.result == "ok"
    assert run.detail == "2025-03-01 14:00 UTC → 2025-03-01 17:00 UTC, demo tomorrow"


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


class ConflictOnce(LeaseStore):
    """A store whose first update loses to a concurrent writer (who records a warning)."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.conflicts = 0

    def update(self, lease: Lease) -> Lease:
        if self.conflicts == 0:
            self.conflicts += 1
            current = self.inner.get(lease.env)
            self.inner.update(current.evolve(owner="carol@example.com"))
        return self.inner.update(lease)

    def __getattr__(self, name):  # everything else: the real store
        return getattr(self.inner, name)

    get = property(lambda self: self.inner.get)
    create = property(lambda self: self.inner.create)
    list = property(lambda self: self.inner.list)
    due = property(lambda self: self.inner.due)
    add_run = property(lambda self: self.inner.add_run)
    finish_run = property(lambda self: self.inner.finish_run)
    runs = property(lambda self: self.inner.runs)


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
