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
from ephemera.janitor.ladder import DEFAULT_WARNINGS
from ephemera.janitor.messages import expired_notification, failed_notification
from ephemera.janitor.notify import Notification, Notifier
from ephemera.janitor.summary import SweepItem, SweepSummary
from ephemera.janitor.warnpass import Ladders, WarningPass
from ephemera.leases.base import (
    ACTIVE,
    CLAIMED,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    FAR_FUTURE,
    UNTRACKED,
    Lease,
    LeaseConflict,
    LeaseStore,
    RunRecord,
    new_run_id,
)
from ephemera.leases.holders import Holder, holder_here
from ephemera.leases.oplock import claim_is_stale, is_live

BACKOFF = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)  # after the 1st, 2nd, 3rd, 4th and every later failed destroy
JANITOR = "ttl-janitor"
# A sweep's claim lasts this long: a dispatched destroy that has not finished by then
# (its build never ran, or died) is taken over by a later sweep and retried.
CLAIM_TTL = timedelta(hours=2)
EXPIRABLE = (ACTIVE, FAILED, UNTRACKED)
_CAS_ATTEMPTS = 5

ResourceCount = Callable[[Lease], "int | None"]


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
        self.holder: Holder = holder_here(new_run_id("expire", now), "expire", now)
        self.claims = 0
        self.handled: set[str] = set()  # each environment once per sweep
        self.summary = SweepSummary(started_at=now, dry_run=settings.dry_run)

    # helpers -----------------------------------------------------------------
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

    def run_record(self, env: str, result: str, detail: str, removed: int | None = None) -> None:
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
                    destroyed=removed or 0,
                    detail=detail,
                )
            )
        except Exception as exc:
            self.summary.errors.append(SweepItem(env, f"run record not written: {exc}"))

    def each(
        self, statuses: tuple[str, ...], before: datetime, act: Callable[[Lease], None]
    ) -> None:
        """`act` on every lease due in `statuses`; one failure never stops the others."""
        try:
            candidates = self.store.due(statuses, before)
        except Exception as exc:
            self.summary.errors.append(SweepItem("*", f"cannot list leases: {exc}"))
            return
        for lease in candidates:
            if lease.env in self.handled:
                continue
            self.handled.add(lease.env)
            try:
                act(lease)
            except Exception as exc:
                self.summary.failed.append(SweepItem(lease.env, f"unexpected error: {exc!r}"))

    # claims a run left behind ----------------------------------------------------
    def recover(self, lease: Lease) -> None:
        """A deploying or destroying lease whose run stopped without finishing: an
        expired one, or one being destroyed, is destroyed (retried); an unexpired
        deploy becomes failed, for a deploy or a later sweep to deal with."""
        if not claim_is_stale(self.store, lease, self.now):
            return
        who = lease.holder.describe() if lease.holder else "an earlier run"
        expired = lease.expires_at is not None and lease.expires_at <= self.now
        if lease.protected or (lease.status == DEPLOYING and not expired):
            self.abandon(lease, f"{who} stopped without finishing")
        else:
            self.expire(lease, f"taken over: {who} stopped without finishing")

    def abandon(self, lease: Lease, reason: str) -> None:
        if self.settings.dry_run:
            self.summary.recovered.append(SweepItem(lease.env, f"would mark failed: {reason}"))
            return
        try:
            self.store.update(
                lease.evolve(
                    status=FAILED,
                    status_reason=reason,
                    status_changed_at=self.now,
                    expires_at=lease.expires_at or self.now,
                    holder=None,
                    claim_deadline=None,
                )
            )
        except LeaseConflict:
            self.summary.skipped.append(SweepItem(lease.env, "changed by someone else"))
            return
        self.summary.recovered.append(SweepItem(lease.env, f"failed: {reason}"))
        self.run_record(lease.env, "failed", reason)

    # expiry ------------------------------------------------------------------
    def skip_reason(self, lease: Lease) -> str | None:
        """Why an expired lease is not destroyed in this sweep, if it is not."""
        if lease.protected:
            return "protected: never destroyed by the janitor"
        next_at = lease.next_attempt_at
        if lease.status == FAILED and next_at is not None and next_at > self.now:
            return f"destroy failed {lease.attempts}x; next attempt at {format_when(next_at)}"
        if lease.status not in CLAIMED and is_live(self.store.get_lock(lease.env), self.now):
            return "an operation is running on it: left for the next sweep"
        if self.settings.max_destroys is not None and self.claims >= self.settings.max_destroys:
            return f"max_destroys={self.settings.max_destroys} reached: left for the next sweep"
        return None

    def expire(self, lease: Lease, why: str | None = None) -> None:
        env = lease.env
        if self.settings.env_exists is not None and not self.settings.env_exists(env):
            self.summary.orphans.append(env)
        skipped = self.skip_reason(lease)
        if skipped:
            self.summary.skipped.append(SweepItem(env, skipped))
            return
        if why is None:
            why = f"expired at {format_when(lease.expires_at or self.now)}"
            if lease.status == FAILED:
                why += f"; retrying after {lease.attempts} failed destroy(s)"
        if self.settings.dry_run:
            self.claims += 1
            self.summary.claimed.append(SweepItem(env, f"would claim and destroy: {why}"))
            return
        claimed = self.claim(lease)
        if claimed is None:
            self.summary.skipped.append(SweepItem(env, "changed or claimed by someone else"))
            return
        self.claims += 1
        self.summary.claimed.append(SweepItem(env, why))
        self.dispatch(claimed, self.count(claimed))

    def claim(self, lease: Lease) -> Lease | None:
        """destroying, held by this sweep until CLAIM_TTL; None when the CAS lost."""
        try:
            return self.store.update(
                lease.evolve(
                    status=DESTROYING,
                    status_reason=f"expired: claimed by {self.settings.actor}",
                    status_changed_at=self.now,
                    holder=self.holder,
                    claim_deadline=self.now + CLAIM_TTL,
                )
            )
        except LeaseConflict:
            return None

    def dispatch(self, claimed: Lease, removed: int | None) -> None:
        try:
            result = self.dispatcher.destroy(claimed)
        except Exception as exc:
            result = DispatchResult("failed", f"{claimed.env}: the dispatcher raised {exc!r}")
        if result.outcome == "destroyed" and result.leftovers:
            # never report as destroyed what the state still holds
            result = DispatchResult("failed", result.detail, list(result.leftovers))
        orphan = claimed.env in self.summary.orphans
        if result.outcome == "destroyed":
            self.destroyed(claimed, result, orphan, removed)
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

    def destroyed(
        self, lease: Lease, result: DispatchResult, orphan: bool, removed: int | None
    ) -> None:
        self.finish(
            lease,
            status=DESTROYED,
            status_reason="expired: ttl ran out",
            status_changed_at=self.now,
            next_attempt_at=None,
            holder=None,
            claim_deadline=None,
        )
        self.summary.destroyed.append(SweepItem(lease.env, result.detail or "destroyed"))
        self.run_record(lease.env, "destroyed", result.detail, removed)
        self.notify(
            expired_notification(
                lease,
                "destroyed",
                f"[ephemera] {lease.env} destroyed: its TTL ran out",
                f"and was destroyed by {self.settings.actor}.",
                result.detail,
                orphan=orphan,
                now=self.now,
                after=f"\nTo bring it back: make deploy ENV={lease.env}",
            )
        )

    def dispatched(self, lease: Lease, result: DispatchResult, orphan: bool) -> None:
        self.finish(lease, status_reason=f"expired: destroy dispatched: {result.detail}")
        self.summary.dispatched.append(SweepItem(lease.env, result.detail or "dispatched"))
        self.run_record(lease.env, "dispatched", result.detail)
        self.notify(
            expired_notification(
                lease,
                "dispatched",
                f"[ephemera] {lease.env} expired: destroy started",
                f"; its destroy was handed to {result.detail}.",
                result.detail,
                orphan=orphan,
                now=self.now,
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
            holder=None,
            claim_deadline=None,
        )
        self.summary.failed.append(
            SweepItem(lease.env, f"{reason}; next attempt at {format_when(next_at)}")
        )
        self.run_record(lease.env, "failed", reason)
        self.notify(failed_notification(lease, attempts, result, next_at, self.now))

    def warnings(self) -> WarningPass:
        settings = self.settings
        return WarningPass(
            self.store,
            self.now,
            self.summary,
            settings.ladders,
            settings.warning_horizon,
            settings.dry_run,
            self.notify,
            self.count,
        )


def sweep(
    store: LeaseStore,
    *,
    now: datetime,
    dispatcher: Dispatcher,
    notifier: Notifier,
    settings: SweepSettings | None = None,
) -> SweepSummary:
    """Recover what dead runs left, destroy what expired, warn what is about to, and say
    what happened.

    1. Every deploying or destroying lease whose run stopped without finishing (no
       live operation lock; its holder's process gone from this host, or its claim
       deadline passed): an unexpired deploy → failed, with the run named; anything
       else → claimed and destroyed as in 2 (listed in `recovered` or `claimed`).
    2. Every active or untracked lease expired at `now`, and every failed one whose
       next_attempt_at has come: protected → skipped; busy (a live operation lock) →
       skipped; otherwise claimed by CAS (→ destroying, held by this sweep until
       CLAIM_TTL; a lost CAS means another sweep has it: skipped), then
       `dispatcher.destroy`:
         destroyed  → status destroyed, notified, an `expire` run with −N;
         dispatched → stays destroying (the async runner finishes it), notified;
         failed     → status failed, attempts + 1, next_attempt_at = now + backoff,
                      the error and leftovers in status_reason, notified once.
       At most `settings.max_destroys` claims (the rest: skipped, with the reason).
       An expired lease whose env file is gone (`env_exists` false) is still
       destroyed, and listed in `orphans`.
    3. Every other active, unprotected lease expiring within the warning horizon: the
       most urgent due warning rung is sent once (`warnpass`).

    With `settings.dry_run` it reads only; the summary says what would happen. One
    environment's failure is reported and never stops the others.
    """
    settings = settings or SweepSettings()
    if settings.max_destroys is not None and settings.max_destroys < 0:
        raise UsageError(f"ttl sweep: max_destroys must be ≥ 0, got {settings.max_destroys}")
    run = _Sweep(store, now, dispatcher, notifier, settings)
    run.each(CLAIMED, FAR_FUTURE, run.recover)
    run.each(EXPIRABLE, now, run.expire)
    run.warnings().run()
    return run.summary
