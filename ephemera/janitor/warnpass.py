"""The sweep's warning pass: leases expiring within the horizon get their most urgent
due rung, once. Read by a query on the status+expiry index, never a scan."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ephemera.janitor.ladder import (
    DEFAULT_LADDER,
    Ladder,
    LadderSpec,
    Rung,
    due_warnings,
    parse_ladder,
    warning_message,
)
from ephemera.janitor.notify import Notification
from ephemera.janitor.summary import SweepItem, SweepSummary
from ephemera.leases.base import ACTIVE, Lease, LeaseStore

_CAS_ATTEMPTS = 5
Ladders = LadderSpec | Callable[[str], LadderSpec]


@dataclass
class WarningPass:
    """One sweep's warnings: what it reads and writes, how it notifies and counts."""

    store: LeaseStore
    now: datetime
    summary: SweepSummary
    ladders: Ladders
    warning_horizon: timedelta | None
    dry_run: bool
    notify: Callable[[Notification], None]
    count: Callable[[Lease], int | None]

    def ladder(self, env: str) -> Ladder:
        if not callable(self.ladders):
            return parse_ladder(self.ladders)
        try:
            return parse_ladder(self.ladders(env))
        except Exception:  # an unreadable env file must not cost the others their warnings
            return DEFAULT_LADDER

    def horizon(self) -> timedelta:
        """How far ahead a rung can fall due: the longest rung of the ladder(s)."""
        if self.warning_horizon is not None:
            return self.warning_horizon
        ladder = DEFAULT_LADDER if callable(self.ladders) else parse_ladder(self.ladders)
        return max(ladder, default=timedelta(0))

    def run(self) -> None:
        try:
            leases = self.store.due((ACTIVE,), self.now + self.horizon())
        except Exception as exc:
            self.summary.errors.append(SweepItem("*", f"cannot list expiring leases: {exc}"))
            return
        for lease in leases:
            if lease.protected or lease.expires_at is None or lease.expires_at <= self.now:
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

        if self.dry_run:
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
