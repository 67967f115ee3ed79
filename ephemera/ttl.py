"""Durations, expiry and the clock; extend-ttl, the warning ladder and the sweep.

Time is always injected (`now` arguments or a `Clock`), so TTL maths is tested
without sleeping.

- `extend(store, env, hours, now=, max_ttl=, actor=, reason=)`: the lease's
  expiry moves back, capped at now + max_ttl; compare-and-swap with retry.
- `due_warnings(lease, ladder, now)` / `warning_message(...)`: the ladder
  (default 24h, 2h, 30m before expiry); each rung sent once per lease.
- `sweep(store, now=, dispatcher=, notifier=, ...)`: claims each expired lease by
  compare-and-swap (active/failed → destroying), has it destroyed, records the
  outcome; sends due warnings. Used by `invoke ttl` and the janitor Lambda.

Imports only the standard library and ephemera modules that do (it is packaged
into the janitor Lambda; see ephemera.lambda_package).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ephemera.dispatch import Dispatcher, DispatchResult
from ephemera.durations import DURATION_PATTERN as DURATION_PATTERN  # `as`: re-exported
from ephemera.durations import Clock as Clock
from ephemera.durations import format_remaining, parse_duration
from ephemera.durations import renewed_expiry as renewed_expiry
from ephemera.durations import system_clock as system_clock
from ephemera.errors import EphemeraError, UsageError
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
from ephemera.notify import Notification, Notifier

# --------------------------------------------------------------------------- extend

DEFAULT_WARNINGS = ("24h", "2h", "30m")
BACKOFF = (
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=4),
)  # after the 1st, 2nd, 3rd, 4th and every later failed destroy
JANITOR = "ttl-janitor"
_CAS_ATTEMPTS = 5
# extend-ttl is a person's or a pipeline's command, and many may race on one lease
# (the acceptance test runs 50 at once): it retries longer, with a short random pause
# so that the losers do not collide again in lockstep.
_EXTEND_ATTEMPTS = 200


def _pause_before_retry(attempt: int) -> None:
    time.sleep(random.uniform(0, 0.001 * min(attempt, 20)))  # noqa: S311 - jitter, not crypto


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _hours_text(hours: float) -> str:
    return f"{hours:g}h"


def rearmed(warnings_sent: tuple[str, ...], expires_at: datetime, now: datetime) -> tuple[str, ...]:
    """The rungs in `warnings_sent` that are still behind us once the lease expires at
    `expires_at`: a rung the new expiry moved back past (expires_at - rung > now) is
    dropped, so it is sent again when its time comes. Unknown texts are kept."""
    kept = []
    for text in warnings_sent:
        try:
            before = parse_duration(text)
        except ValueError:
            kept.append(text)
            continue
        if expires_at - before <= now:
            kept.append(text)
    return tuple(kept)


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
    for attempt in range(_EXTEND_ATTEMPTS):
        if attempt:
            _pause_before_retry(attempt)
        lease = store.get(env)
        if lease is None:
            raise UsageError(
                f"extend-ttl {env}: no lease: {env} is not deployed (make deploy ENV={env})"
            )
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
        base = max(lease.expires_at, now)
        new_expiry = base + delta
        limit = now + max_ttl
        if new_expiry > limit:
            room = limit - base
            allowed = f"at most {format_remaining(room)} more" if room > timedelta(0) else "no more"
            raise UsageError(
                f"extend-ttl {env}: refused: {_hours_text(hours)} more would expire at "
                f"{_when(new_expiry)}, past now + max_ttl ({format_remaining(max_ttl)}) = "
                f"{_when(limit)}; {allowed}"
            )
        changed = lease.evolve(
            expires_at=new_expiry,
            warnings_sent=rearmed(lease.warnings_sent, new_expiry, now),
        )
        try:
            written = store.update(changed)
        except LeaseConflict:
            continue
        detail = f"{_when(lease.expires_at)} → {_when(new_expiry)}"
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
        return written
    raise EphemeraError(
        f"extend-ttl {env}: the lease kept changing under us; gave up after "
        f"{_EXTEND_ATTEMPTS} attempts, try again"
    )


# --------------------------------------------------------------------------- warnings


@dataclass(frozen=True, order=True)
class Rung:
    """One step of the warning ladder: `before` the expiry. Ordered most urgent first."""

    before: timedelta

    @property
    def text(self) -> str:
        """The key recorded in `warnings_sent`: whole hours as `2h`, else minutes `30m`."""
        return rung_text(self.before)


def rung_text(before: timedelta) -> str:
    seconds = int(before.total_seconds())
    if seconds <= 0 or seconds % 60:
        raise ValueError(f"a warning rung must be a whole number of minutes, got {before}")
    minutes = seconds // 60
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


Ladder = tuple[timedelta, ...]
LadderSpec = Iterable[str | timedelta] | str


def parse_ladder(spec: LadderSpec) -> Ladder:
    """`"24h,2h,30m"`, `["24h", "2h"]` or timedeltas → timedeltas, longest first, no repeats."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    ladder = set()
    for item in items:
        if isinstance(item, timedelta):
            rung_text(item)  # validates
            ladder.add(item)
        elif str(item).strip():
            ladder.add(parse_duration(str(item).strip()))
    return tuple(sorted(ladder, reverse=True))


DEFAULT_LADDER: Ladder = parse_ladder(DEFAULT_WARNINGS)


def due_warnings(lease: Lease, ladder: Iterable[timedelta], now: datetime) -> list[Rung]:
    """The rungs of `ladder` due now and not yet sent, most urgent (closest to expiry) first.

    A rung is due once now ≥ expires_at - rung, while the lease is active and not
    yet expired. The sweep sends only the first one and records all of them as
    sent: a lease that enters several rungs at once (a short TTL, a missed sweep)
    gets one message, the most urgent, not a burst of stale ones.
    """
    if lease.status != ACTIVE or lease.expires_at is None or lease.expires_at <= now:
        return []
    remaining = lease.expires_at - now
    due = {Rung(before) for before in ladder if remaining <= before}
    return sorted(r for r in due if r.text not in lease.warnings_sent)


def warning_message(
    lease: Lease,
    rung: Rung,
    now: datetime,
    resources: int | None,
    *,
    extend_hours: int = 4,
) -> Notification:
    """The warning for `rung`: environment, owner, expiry, the extend commands, and what
    will be destroyed (`resources` = resources in its state; None = unknown)."""
    assert lease.expires_at is not None
    left = format_remaining(lease.expires_at - now)
    if resources is None:
        what = "everything in its Terraform state"
    elif resources == 1:
        what = "the 1 resource its Terraform state holds"
    else:
        what = f"the {resources} resources its Terraform state holds"
    text = (
        f"Environment {lease.env} (owner {lease.owner}) expires at {_when(lease.expires_at)} "
        f"(in {left}). Then the janitor destroys it: {what}.\n"
        f"To keep it longer, extend its lease:\n"
        f"  invoke extend-ttl --env {lease.env} --hours {extend_hours}\n"
        f"  make extend-ttl ENV={lease.env} HOURS={extend_hours}"
    )
    return Notification(
        env=lease.env,
        kind="warning",
        subject=f"[ephemera] {lease.env} expires in {left} ({rung.text} warning)",
        text=text,
        data={
            "env": lease.env,
            "owner": lease.owner,
            "expires_at": lease.expires_at.isoformat(),
            "rung": rung.text,
            "resources": resources,
        },
        at=now,
    )


# --------------------------------------------------------------------------- sweep


def backoff(attempts: int) -> timedelta:
    """The wait before retrying after `attempts` failed destroys: 5m, 15m, 1h, 4h, 4h …"""
    return BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


@dataclass(frozen=True)
class SweepItem:
    env: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"env": self.env, "reason": self.reason}


@dataclass
class SweepSummary:
    """What one sweep did (or, with dry_run, would do), environment by environment."""

    started_at: datetime
    dry_run: bool = False
    claimed: list[SweepItem] = field(default_factory=list)
    destroyed: list[SweepItem] = field(default_factory=list)
    dispatched: list[SweepItem] = field(default_factory=list)
    failed: list[SweepItem] = field(default_factory=list)
    warned: list[SweepItem] = field(default_factory=list)
    skipped: list[SweepItem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # leases whose env file was deleted
    errors: list[SweepItem] = field(default_factory=list)  # notification / bookkeeping errors

    LISTS = ("claimed", "destroyed", "dispatched", "failed", "warned", "skipped", "errors")

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "started_at": self.started_at.isoformat(),
            "dry_run": self.dry_run,
            "ok": self.ok,
        }
        for name in self.LISTS:
            data[name] = [item.to_dict() for item in getattr(self, name)]
        data["orphans"] = list(self.orphans)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def format_summary(summary: SweepSummary) -> str:
    """A few console lines: one per environment touched, grouped by what happened."""
    head = f"ttl sweep at {_when(summary.started_at)}"
    if summary.dry_run:
        head += " (dry run: nothing was changed)"
    lines = [head]
    for name in SweepSummary.LISTS:
        for item in getattr(summary, name):
            lines.append(f"  {name:<10} {item.env}: {item.reason}")
    if summary.orphans:
        lines.append(f"  orphans    {', '.join(summary.orphans)} (lease without env file)")
    if len(lines) == 1:
        lines.append("  nothing to do")
    return "\n".join(lines)


ResourceCount = Callable[[Lease], "int | None"]
Ladders = LadderSpec | Callable[[str], LadderSpec]


class _Sweep:
    """One sweep's state; `sweep()` below is the interface."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        now: datetime,
        dispatcher: Dispatcher,
        notifier: Notifier,
        ladders: Ladders,
        resource_count: ResourceCount | None,
        env_exists: Callable[[str], bool] | None,
        dry_run: bool,
        max_destroys: int | None,
        actor: str,
        warning_horizon: timedelta | None = None,
    ) -> None:
        self.store = store
        self.warning_horizon = warning_horizon
        self.now = now
        self.dispatcher = dispatcher
        self.notifier = notifier
        self.ladders = ladders
        self.resource_count = resource_count
        self.env_exists = env_exists
        self.dry_run = dry_run
        self.max_destroys = max_destroys
        self.actor = actor
        self.claims = 0
        self.summary = SweepSummary(started_at=now, dry_run=dry_run)

    # helpers -----------------------------------------------------------------
    def ladder(self, env: str) -> Ladder:
        if not callable(self.ladders):
            return parse_ladder(self.ladders)
        try:
            return parse_ladder(self.ladders(env))
        except Exception:  # an unreadable env file must not cost the others their warnings
            return DEFAULT_LADDER

    def count(self, lease: Lease) -> int | None:
        if self.resource_count is None:
            return None
        try:
            return self.resource_count(lease)
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
                    actor=self.actor,
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
        if self.env_exists is not None and not self.env_exists(env):
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
                    f"{_when(lease.next_attempt_at)}",
                )
            )
            return
        if self.max_destroys is not None and self.claims >= self.max_destroys:
            self.summary.skipped.append(
                SweepItem(env, f"max_destroys={self.max_destroys} reached: left for the next sweep")
            )
            return
        assert lease.expires_at is not None
        why = f"expired at {_when(lease.expires_at)}"
        if retry:
            why += f"; retrying after {lease.attempts} failed destroy(s)"
        if self.dry_run:
            self.claims += 1
            self.summary.claimed.append(SweepItem(env, f"would claim and destroy: {why}"))
            return
        try:
            claimed = self.store.update(
                lease.evolve(
                    status=DESTROYING,
                    status_reason=f"expired: claimed by {self.actor}",
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
        current: Lease | None = claimed
        for _ in range(_CAS_ATTEMPTS):
            assert current is not None
            try:
                return self.store.update(current.evolve(**changes))
            except LeaseConflict:
                current = self.store.get(claimed.env)
                if current is None or current.status != DESTROYING:
                    return current
        raise EphemeraError(f"{claimed.env}: the lease kept changing; outcome not recorded")

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
            f"and was destroyed by {self.actor}.",
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
                    f"{_when(lease.expires_at or self.now)}{joiner}{what_happened}{note}{after}"
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
            SweepItem(lease.env, f"{reason}; next attempt at {_when(next_at)}")
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
                    + f"\nThe janitor retries at {_when(next_at)}; to retry now: "
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
        if self.warning_horizon is not None:
            return self.warning_horizon
        ladder = DEFAULT_LADDER if callable(self.ladders) else parse_ladder(self.ladders)
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
        current: Lease | None = lease
        for _ in range(_CAS_ATTEMPTS):
            assert current is not None
            rungs = due_warnings(current, ladder, self.now)
            if not rungs:
                return
            rung = rungs[0]
            if self.dry_run:
                self.summary.warned.append(
                    SweepItem(lease.env, f"would send the {rung.text} warning")
                )
                return
            marked = current.warnings_sent + tuple(r.text for r in rungs)
            try:
                written = self.store.update(current.evolve(warnings_sent=marked))
            except LeaseConflict:
                # Another sweep (which then sent it) or an extend got there first: re-read.
                current = self.store.get(lease.env)
                if current is None or current.protected:
                    return
                continue
            event = warning_message(written, rung, self.now, self.count(written))
            self.notify(event)
            skipped = [r.text for r in rungs[1:]]
            extra = f" (also marked sent: {', '.join(skipped)})" if skipped else ""
            self.summary.warned.append(
                SweepItem(lease.env, f"{rung.text} warning: {event.subject}{extra}")
            )
            return


def sweep(
    store: LeaseStore,
    *,
    now: datetime,
    dispatcher: Dispatcher,
    notifier: Notifier,
    ladders: Ladders = DEFAULT_WARNINGS,
    resource_count: ResourceCount | None = None,
    env_exists: Callable[[str], bool] | None = None,
    dry_run: bool = False,
    max_destroys: int | None = None,
    actor: str = JANITOR,
    warning_horizon: timedelta | None = None,
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
       At most `max_destroys` claims (the rest: skipped, with the reason). An
       expired lease whose env file is gone (`env_exists` false) is still
       destroyed, and listed in `orphans`.
    2. Every other active, unprotected lease: the most urgent due warning rung
       is sent, after a CAS recording it (and any other due rungs) in
       warnings_sent won — two sweeps never send the same warning twice.

    `ladders`: one ladder for all (`"24h,2h,30m"`, a list of texts or
    timedeltas), or a function env name → ladder (each env's `warnings`).
    `warning_horizon`: how far ahead to look for leases to warn (default: the
    longest rung of the static ladder, or of the default one with a function);
    the warning pass queries the store for leases expiring within it.
    `dry_run`: reads only; the summary says what would happen. One
    environment's failure is reported and never stops the others.
    """
    if max_destroys is not None and max_destroys < 0:
        raise UsageError(f"ttl sweep: max_destroys must be ≥ 0, got {max_destroys}")
    run = _Sweep(
        store,
        now=now,
        dispatcher=dispatcher,
        notifier=notifier,
        ladders=ladders,
        resource_count=resource_count,
        env_exists=env_exists,
        dry_run=dry_run,
        max_destroys=max_destroys,
        actor=actor,
        warning_horizon=warning_horizon,
    )
    run.expire_all()
    run.warn_all()
    return run.summary
