"""The warning ladder: how long before expiry an owner is warned (default 24h, 2h,
30m), which rungs are due, what the warning says, and which rungs an extension
re-arms. Standard library only (the janitor Lambda packages it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ephemera.durations import format_remaining, format_when, parse_duration
from ephemera.janitor.notify import Notification
from ephemera.leases.base import ACTIVE, Lease

DEFAULT_WARNINGS = ("24h", "2h", "30m")


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
        f"Environment {lease.env} (owner {lease.owner}) expires at {format_when(lease.expires_at)} "
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
