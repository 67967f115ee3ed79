"""extend-ttl: push a lease's expiry back, capped at now + max_ttl.

One compare-and-swap read-modify-write (`LeaseStore.modify`): the checks are re-applied
to every re-read lease, so a racing sweep or another extension is never overwritten.
Standard library only (packaged with the janitor).
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from ephemera.durations import duration_text, format_remaining, format_when, iso_utc
from ephemera.errors import EphemeraError, UsageError
from ephemera.janitor.ladder import rearmed
from ephemera.leases.base import (
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseConflict,
    LeaseStore,
    RunRecord,
    new_run_id,
)

# extend-ttl is a person's or a pipeline's command, and many may race on one lease
# (the acceptance test runs 50 at once): it retries longer, with a short random pause
# so that the losers do not collide again in lockstep.
_EXTEND_ATTEMPTS = 200


def _pause_before_retry(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.001 * min(attempt, 20)))  # noqa: S311 - jitter, not crypto


def _hours_text(hours: float) -> str:
    return f"{hours:g}h"


def extend_by(
    store: LeaseStore,
    env: str,
    by: timedelta,
    *,
    now: datetime,
    max_ttl: timedelta,
    actor: str,
    reason: str = "",
) -> Lease:
    """extend-ttl as people ask for it (the CLI, a pull-request comment): by a duration,
    refused outright when it is longer than max_ttl; then `extend`."""
    if by > max_ttl:
        raise UsageError(
            f"{env}: extend-ttl by {duration_text(by)} is longer than max_ttl "
            f"({duration_text(max_ttl)}); nothing changed"
        )
    hours = by.total_seconds() / 3600
    return extend(store, env, hours, now=now, max_ttl=max_ttl, actor=actor, reason=reason)


def extend(
    store: LeaseStore,
    env: str,
    hours: float,
    *,
    now: datetime,
    max_ttl: timedelta,
    actor: str,
    reason: str = "",
) -> Lease:
    """Push the expiry of `env` back by `hours`; returns the written lease.

    expires_at += hours (from now, if the lease already expired and the janitor
    has not claimed it yet). Refused (UsageError) with no lease, no expiry yet,
    a lease being or already destroyed, a failed janitor destroy, or when the
    new expiry would be past now + max_ttl. Compare-and-swap: on a conflict the
    lease is re-read and the checks re-applied. Warning rungs the new expiry
    moved back past are re-armed. A RunRecord op="extend" is written.
    """
    if not hours > 0:
        raise UsageError(f"extend-ttl {env}: --hours must be a positive number, got {hours!r}")
    delta = timedelta(hours=hours)
    before: dict[str, datetime] = {}

    def extended(lease: Lease) -> Lease:
        _refuse_unless_extendable(lease, env)
        assert lease.expires_at is not None
        new_expiry = _new_expiry(lease.expires_at, delta, now, max_ttl, env, hours)
        before["expires_at"] = lease.expires_at
        return lease.evolve(
            expires_at=new_expiry,
            warnings_sent=rearmed(lease.warnings_sent, new_expiry, now),
        )

    try:
        written = store.modify(env, extended, attempts=_EXTEND_ATTEMPTS, pause=_pause_before_retry)
    except LeaseConflict:
        raise EphemeraError(
            f"extend-ttl {env}: the lease kept changing under us; gave up after "
            f"{_EXTEND_ATTEMPTS} attempts, try again"
        ) from None
    if written is None:
        raise UsageError(
            f"extend-ttl {env}: no lease: {env} is not deployed (make deploy ENV={env})"
        )
    assert written.expires_at is not None
    _record(store, env, now, actor, before["expires_at"], written.expires_at, reason)
    return written


def _refuse_unless_extendable(lease: Lease, env: str) -> None:
    if lease.status in (DESTROYING, DESTROYED):
        raise UsageError(
            f"extend-ttl {env}: refused: the environment is {lease.status}"
            + (f" ({lease.status_reason})" if lease.status_reason else "")
        )
    if lease.status == FAILED and lease.attempts > 0:
        raise UsageError(
            f"extend-ttl {env}: refused: its destroy failed ({lease.status_reason}); "
            f"the janitor retries it, or run make destroy ENV={env}"
        )
    if lease.expires_at is None:
        raise UsageError(
            f"extend-ttl {env}: refused: the lease has no expiry yet (status "
            f"{lease.status}); extend it once the deploy has finished"
        )


def _new_expiry(
    expires_at: datetime,
    delta: timedelta,
    now: datetime,
    max_ttl: timedelta,
    env: str,
    hours: float,
) -> datetime:
    """expires_at (or now, once passed) + delta; UsageError past now + max_ttl."""
    base = max(expires_at, now)
    new_expiry = base + delta
    limit = now + max_ttl
    if new_expiry > limit:
        room = limit - base
        allowed = f"at most {format_remaining(room)} more" if room > timedelta(0) else "no more"
        raise UsageError(
            f"extend-ttl {env}: refused: {_hours_text(hours)} more would expire at "
            f"{format_when(new_expiry)}, past now + max_ttl ({format_remaining(max_ttl)}) = "
            f"{format_when(limit)}; {allowed}"
        )
    return new_expiry


def _record(
    store: LeaseStore,
    env: str,
    now: datetime,
    actor: str,
    old: datetime,
    new: datetime,
    reason: str,
) -> None:
    detail = f"expiry {iso_utc(old)} → {iso_utc(new)}"
    if reason:
        detail += f", {reason}"
    store.add_run(
        RunRecord(
            id=new_run_id("extend", now),
            env=env,
            op="extend",
            actor=actor,
            commit=None,
            started_at=now,
            ended_at=now,
            result="ok",
            detail=detail,
        )
    )
