"""The janitor's sweep: destroy what expired, warn what is about to.

Used by `invoke ttl` and the janitor Lambda. Time is injected (`now`), so the TTL maths
is tested without sleeping. Standard library only at import time (the Lambda packages
it; see ephemera.janitor.package).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ephemera.durations import format_when
from ephemera.errors import UsageError
from ephemera.janitor.dispatch import Dispatcher, DispatchResult
from ephemera.janitor.ladder import (
    DEFAULT_LADDER,
    DEFAULT_WARNINGS,
    Ladder,
    LadderSpec,
    Rung,
    due_warnings,
    parse_ladder,
    warning_message,
)
from ephemera.janitor.notify import Notification, Notifier
from ephemera.janitor.summary import SweepItem, SweepSummary
from ephemera.leases.base import (
    ACTIVE,
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseConflict,
    LeaseStore,
    RunRecord,
    new_run_id,
)

BACKOFF = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)  # after the 1st, 2nd, 3rd, 4th and every later failed destroy
JANITOR = "ttl-janitor"
_CAS_ATTEMPTS = 5

ResourceCount = Callable[[Lease], "int | None"]
Ladders = LadderSpec | Callable[[str], LadderSpec]


@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs, beside its store, clock, dispatcher and notifier.

    `ladders`: one ladder for all (`"24h,2h,30m"`, a list of texts or timedeltas), or a
    function env name → ladder (each env's `warnings`). `warning_horizon`: how far
    ahead to look for leases to warn (default: the longest rung of the static ladder,
    or of the default one with a function). `resource_count(lease)`: the resources its
    state holds, for warnings (None: unknown). `env_exists(name)`: False lists the
    lease as an orphan. `dry_run`: reads only. `max_destroys`: claims per sweep.
    """

    ladders: Ladders = DEFAULT_WARNINGS
    warning_horizon: timedelta | None = None
    resource_count: ResourceCount | None = None
    env_exists: Callable[[str], bool] | None = None
    dry_run: bool = False
    max_destroys: int | None = None
    actor: str = JANITOR


def backoff(attempts: int) -> timedelta:
    """The wait before retrying after `attempts` failed destroys: 5m, 15m, 1h, 4h, 4h …"""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


class _Sweep:
    """One sweep's state; `sweep()` below is the interface."""

    def __init__(
        self,
        store: LeaseStore,
        now: datetime,
        dispatcher: Dispatcher,
        notifier: Notifier,
        settings: SweepSettings,
    ) -> None:
        self.store = store
        self.now = now
        self.dispatcher = dispatcher
        self.notifier = notifier
        self.settings = settings
        self.claims = 0
        self.summary = SweepSummary(started_at=now, dry_run=settings.dry_run)

    # helpers -----------------------------------------------------------------
    def ladder(self, env: str) -> Ladder:
        if not callable(self.settings.ladders):
            return parse_ladder(self.settings.ladders)
        try:
            return parse_ladder(self.settings.ladders(env))
        except Exception:  # an unreadable env file must not cost the others their warnings
            return DEFAULT_LADDER

    def count(self, lease: Lease) -> int | None:
        if self.settings.resource_count is None:
            return None
        try:
            return self.settings.resource_count(lease)
        except Exception:
            return None

    def notify(self, event: Notification) -> None:
        try:
            self.notifier.send(event)
        except Exception as exc:
            self.summary.errors.append(
                SweepItem(event.env, f"{event.kind} notification not delivered: {exc}")
            )

    def run_record(self, env: str, result: str, detail: str) -> None:
        try:
            self.store.add_run(
                RunRecord(
                    id=new_run_id("expire", self.now),
                    env=env,
                    op="expire",
                    actor=self.settings.actor,
                    commit=None,
                    started_at=self.now,
                    ended_at=self.now,
                    result=result,
                    detail=detail,
                )
            )
        except Exception as exc:
            self.summary.errors.append(SweepItem(env, f"run record not written: {exc}"))

    # expiry ------------------------------------------------------------------
    def expire_all(self) -> None:
        try:
            candidates = self.store.due((ACTIVE, FAILED), self.now)
        except Exception as exc:
            self.summary.errors.append(SweepItem("*", f"cannot list expired leases: {exc}"))
            return
        for lease in candidates:
            try:
                self.expire(lease)
            except Exception as exc:  # one environment's failure never stops the others
                self.summary.failed.append(SweepItem(lease.env, f"unexpected error: {exc!r}"))

    def expire(self, lease: Lease) -> None:
        env = lease.env
        if self.settings.env_exists is not None and not self.settings.env_exists(env):
            self.summary.orphans.append(env)
        if lease.protected:
            self.summary.skipped.append(SweepItem(env, "protected: never destroyed by the janitor"))
            return
        retry = lease.status == FAILED
        if retry and lease.next_attempt_at is not None and lease.next_attempt_at > self.now:
            self.summary.skipped.append(
                SweepItem(
                    env,
                    f"destroy failed {lease.attempts}x; next attempt at "
                    f"{format_when(lease.next_attempt_at)}",
                )
            )
            return
        if self.settings.max_destroys is not None and self.claims >= self.settings.max_destroys:
            self.summary.skipped.append(
                SweepItem(
                    env,
                    f"max_destroys={self.settings.max_destroys} reached: left for the next sweep",
                )
            )
            return
        assert lease.expires_at is not None
        why = f"expired at {format_when(lease.expires_at)}"
        if retry:
            why += f"; retrying after {lease.attempts} failed destroy(s)"
        if self.settings.dry_run:
            self.claims += 1
            self.summary.claimed.append(SweepItem(env, f"would claim and destroy: {why}"))
            return
        try:
            claimed = self.store.update(
                lease.evolve(
                    status=DESTROYING,
                    status_reason=f"expired: claimed by {self.settings.actor}",
                    status_changed_at=self.now,
                )
            )
        except LeaseConflict:
            self.summary.skipped.append(SweepItem(env, "changed or claimed by someone else"))
            return
        self.claims += 1
        self.summary.claimed.append(SweepItem(env, why))
        try:
            result = self.dispatcher.destroy(claimed)
        except Exception as exc:
            result = DispatchResult("failed", f"{env}: the dispatcher raised {exc!r}")
        if result.outcome == "destroyed" and result.leftovers:
            # never report as destroyed what the state still holds
            result = DispatchResult("failed", result.detail, list(result.leftovers))
        orphan = env in self.summary.orphans
        if result.outcome == "destroyed":
            self.destroyed(claimed, result, orphan)
        elif result.outcome == "dispatched":
            self.dispatched(claimed, result, orphan)
        else:
            self.failed(claimed, result)

    def finish(self, claimed: Lease, **changes: Any) -> Lease | None:
        """Write the outcome onto the lease this sweep claimed. If someone else moved it
        on meanwhile (e.g. the destroy itself recorded `destroyed`), leave theirs."""
        return self.store.modify(
            claimed.env,
            lambda current: current.evolve(**changes) if current.status == DESTROYING else None,
            first=claimed,
            attempts=_CAS_ATTEMPTS,
        )

    def destroyed(self, lease: Lease, result: DispatchResult, orphan: bool) -> None:
        self.finish(
            lease,
            status=DESTROYED,
            status_reason="expired: ttl ran out",
            status_changed_at=self.now,
            next_attempt_at=None,
        )
        self.summary.destroyed.append(SweepItem(lease.env, result.detail or "destroyed"))
        self.run_record(lease.env, "destroyed", result.detail)
        self.notify_expired(
            lease,
            "destroyed",
            f"[ephemera] {lease.env} destroyed: its TTL ran out",
            f"and was destroyed by {self.settings.actor}.",
            result.detail,
            orphan,
            f"\nTo bring it back: make deploy ENV={lease.env}",
        )

    def dispatched(self, lease: Lease, result: DispatchResult, orphan: bool) -> None:
        self.finish(lease, status_reason=f"expired: destroy dispatched: {result.detail}")
        self.summary.dispatched.append(SweepItem(lease.env, result.detail or "dispatched"))
        self.run_record(lease.env, "dispatched", result.detail)
        self.notify_expired(
            lease,
            "dispatched",
            f"[ephemera] {lease.env} expired: destroy started",
            f"; its destroy was handed to {result.detail}.",
            result.detail,
            orphan,
        )

    def notify_expired(
        self,
        lease: Lease,
        kind: str,
        subject: str,
        what_happened: str,
        detail: str,
        orphan: bool,
        after: str = "",
    ) -> None:
        """The notification of an expired environment's outcome (destroyed, dispatched)."""
        joiner = "" if what_happened.startswith(";") else " "
        note = "\nIts environment file no longer exists (orphaned lease)." if orphan else ""
        self.notify(
            Notification(
                env=lease.env,
                kind=kind,
                subject=subject,
                text=(
                    f"Environment {lease.env} (owner {lease.owner}) expired at "
                    f"{format_when(lease.expires_at or self.now)}"
                    f"{joiner}{what_happened}{note}{after}"
                ),
                data={"env": lease.env, "owner": lease.owner, "detail": detail},
                at=self.now,
            )
        )

    def failed(self, lease: Lease, result: DispatchResult) -> None:
        attempts = lease.attempts + 1
        next_at = self.now + backoff(attempts)
        reason = f"expired; destroy attempt {attempts} failed: {result.detail}"
        if result.leftovers:
            reason += f"; leftovers: {', '.join(result.leftovers)}"
        self.finish(
            lease,
            status=FAILED,
            status_reason=reason,
            status_changed_at=self.now,
            attempts=attempts,
            next_attempt_at=next_at,
        )
        self.summary.failed.append(
            SweepItem(lease.env, f"{reason}; next attempt at {format_when(next_at)}")
        )
        self.run_record(lease.env, "failed", reason)
        leftovers = "".join(f"\n  {item}" for item in result.leftovers)
        self.notify(
            Notification(
                env=lease.env,
                kind="failed",
                subject=f"[ephemera] {lease.env}: destroy failed (attempt {attempts})",
                text=(
                    f"Environment {lease.env} (owner {lease.owner}) expired, but destroying it "
                    f"failed: {result.detail}"
                    + (f"\nStill present:{leftovers}" if leftovers else "")
                    + f"\nThe janitor retries at {format_when(next_at)}; to retry now: "
                    f"make destroy ENV={lease.env}"
                ),
                data={
                    "env": lease.env,
                    "owner": lease.owner,
                    "attempts": attempts,
                    "detail": result.detail,
                    "leftovers": list(result.leftovers),
                    "next_attempt_at": next_at.isoformat(),
                },
                at=self.now,
            )
        )

    # warnings ----------------------------------------------------------------
    def horizon(self) -> timedelta:
        """How far ahead a rung can fall due: the longest rung of the ladder(s)."""
        if self.settings.warning_horizon is not None:
            return self.settings.warning_horizon
        ladder = (
            DEFAULT_LADDER
            if callable(self.settings.ladders)
            else parse_ladder(self.settings.ladders)
        )
        return max(ladder, default=timedelta(0))

    def warn_all(self) -> None:
        """Leases expiring within the horizon, read by a query on the status+expiry
        index (never a scan of the whole table)."""
        try:
            leases = self.store.due((ACTIVE,), self.now + self.horizon())
        except Exception as exc:
            self.summary.errors.append(SweepItem("*", f"cannot list expiring leases: {exc}"))
            return
        for lease in leases:
            if lease.protected:
                continue
            if lease.expires_at is None or lease.expires_at <= self.now:
                continue
            try:
                self.warn(lease)
            except Exception as exc:
                self.summary.errors.append(SweepItem(lease.env, f"warning failed: {exc!r}"))

    def warn(self, lease: Lease) -> None:
        ladder = self.ladder(lease.env)
        marked: list[Rung] = []

        def mark_due(current: Lease) -> Lease | None:
            """Record every due rung as sent (a lost race re-reads: another sweep, which
            then sent it, or an extend got there first)."""
            marked[:] = [] if current.protected else due_warnings(current, ladder, self.now)
            if not marked:
                return None
            return current.evolve(
                warnings_sent=current.warnings_sent + tuple(r.text for r in marked)
            )

        if self.settings.dry_run:
            rungs = due_warnings(lease, ladder, self.now)
            if rungs:
                self.summary.warned.append(
                    SweepItem(lease.env, f"would send the {rungs[0].text} warning")
                )
            return
        written = self.store.modify(lease.env, mark_due, first=lease, attempts=_CAS_ATTEMPTS)
        if written is None:
            return
        rung = marked[0]
        event = warning_message(written, rung, self.now, self.count(written))
        self.notify(event)
        skipped = [r.text for r in marked[1:]]
        extra = f" (also marked sent: {', '.join(skipped)})" if skipped else ""
        self.summary.warned.append(
            SweepItem(lease.env, f"{rung.text} warning: {event.subject}{extra}")
        )


def sweep(
    store: LeaseStore,
    *,
    now: datetime,
    dispatcher: Dispatcher,
    notifier: Notifier,
    settings: SweepSettings | None = None,
) -> SweepSummary:
    """Destroy what expired, warn what is about to, and say what happened.

    1. Every active lease expired at `now`, and every failed one whose
       next_attempt_at has come: protected → skipped; otherwise claimed by CAS
       (→ destroying; a lost CAS means another sweep has it: skipped), then
       `dispatcher.destroy`:
         destroyed  → status destroyed, notified;
         dispatched → stays destroying (the async runner finishes it), notified;
         failed     → status failed, attempts + 1, next_attempt_at = now + backoff,
                      the error and leftovers in status_reason, notified once.
       At most `settings.max_destroys` claims (the rest: skipped, with the reason).
       An expired lease whose env file is gone (`env_exists` false) is still
       destroyed, and listed in `orphans`.
    2. Every other active, unprotected lease expiring within the warning horizon
       (a query on the status+expiry index): the most urgent due warning rung is
       sent, after a CAS recording it (and any other due rungs) in warnings_sent
       won — two sweeps never send the same warning twice.

    With `settings.dry_run` it reads only; the summary says what would happen. One
    environment's failure is reported and never stops the others.
    """
    settings = settings or SweepSettings()
    if settings.max_destroys is not None and settings.max_destroys < 0:
        raise UsageError(f"ttl sweep: max_destroys must be ≥ 0, got {settings.max_destroys}")
    run = _Sweep(store, now, dispatcher, notifier, settings)
    run.expire_all()
    run.warn_all()
    return run.summary
