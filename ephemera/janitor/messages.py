"""What the janitor tells an owner about an expired environment: destroyed, its
destroy handed to a runner, or a destroy that failed (the warnings before expiry are
`ladder.warning_message`)."""

from __future__ import annotations

from datetime import datetime

from ephemera.durations import format_when
from ephemera.janitor.dispatch import DispatchResult
from ephemera.janitor.notify import Notification
from ephemera.leases.base import Lease


def expired_notification(
    lease: Lease,
    kind: str,
    subject: str,
    what_happened: str,
    detail: str,
    *,
    orphan: bool,
    now: datetime,
    after: str = "",
) -> Notification:
    """An expired environment's outcome (destroyed, dispatched)."""
    joiner = "" if what_happened.startswith(";") else " "
    note = "\nIts environment file no longer exists (orphaned lease)." if orphan else ""
    return Notification(
        env=lease.env,
        kind=kind,
        subject=subject,
        text=(
            f"Environment {lease.env} (owner {lease.owner}) expired at "
            f"{format_when(lease.expires_at or now)}{joiner}{what_happened}{note}{after}"
        ),
        data={"env": lease.env, "owner": lease.owner, "detail": detail},
        at=now,
    )


def failed_notification(
    lease: Lease, attempts: int, result: DispatchResult, next_at: datetime, now: datetime
) -> Notification:
    """A destroy that failed, what is still there, and when the janitor retries."""
    leftovers = "".join(f"\n  {item}" for item in result.leftovers)
    return Notification(
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
        at=now,
    )
