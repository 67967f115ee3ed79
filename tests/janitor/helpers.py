"""Shared by the janitor's tests: a fixed now, a lease builder, and a recorder that is
both the dispatcher and the notifier of a sweep."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from ephemera.janitor.dispatch import DispatchResult
from ephemera.janitor.notify import Notification
from ephemera.janitor.sweep import SweepSettings, sweep
from ephemera.leases import ACTIVE, DESTROYING, Lease, LeaseStore

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


def run_sweep(store: LeaseStore, rec: Recorder, now: datetime = NOW, **settings):
    """One sweep with `rec` as dispatcher and notifier; keywords are SweepSettings."""
    return sweep(store, now=now, dispatcher=rec, notifier=rec, settings=SweepSettings(**settings))


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
    get_lock = property(lambda self: self.inner.get_lock)
    put_lock = property(lambda self: self.inner.put_lock)
    delete_lock = property(lambda self: self.inner.delete_lock)
