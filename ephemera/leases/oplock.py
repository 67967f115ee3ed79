"""The per-environment operation lock, and whether a claimed lease's run is still alive.

One plan, deploy, destroy or drift of an environment at a time, decided before any
work: `acquire` takes the lock or fails at once naming its holder (never touching the
lease); a lock whose holder is gone (its process ended on this host, or its deadline
passed) is taken over, and `acquire` says whose it was. The holder's heartbeat keeps
the deadline ahead (`renew`). Standard library only: the janitor Lambda uses it too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ephemera.durations import format_when
from ephemera.errors import EphemeraError
from ephemera.leases.base import CLAIMED, Lease, LeaseConflict, LeaseStore, OpLock
from ephemera.leases.holders import Holder, is_gone, is_stale

LOCK_TTL = timedelta(minutes=2)  # a lock not renewed for this long has run out
HEARTBEAT_SECONDS = 30.0  # how often a running operation renews its lock
_ATTEMPTS = 20


class OperationLocked(EphemeraError):
    """Another operation holds the environment (exit 1); says who and how to clear it."""

    def __init__(self, lock: OpLock) -> None:
        self.lock = lock
        super().__init__(
            f"{lock.env}: another operation is running: {lock.holder.describe()}. "
            f"Try again when it has finished. If that run is dead, its lock is taken over "
            f"once its process is gone from {lock.holder.host} or at "
            f"{format_when(lock.deadline)}; to clear it now: make unlock ENV={lock.env}"
        )


def is_live(lock: OpLock | None, now: datetime) -> bool:
    return lock is not None and not is_stale(lock.holder, lock.deadline, now)


def acquire(
    store: LeaseStore, env: str, holder: Holder, now: datetime, ttl: timedelta = LOCK_TTL
) -> tuple[OpLock, OpLock | None]:
    """Take `env`'s lock for `holder`: (the lock, the stale lock it replaced or None).
    OperationLocked while a live holder has it."""
    for _ in range(_ATTEMPTS):
        current = store.get_lock(env)
        if is_live(current, now):
            assert current is not None
            raise OperationLocked(current)
        try:
            return store.put_lock(OpLock(env, holder, now + ttl), current), current
        except LeaseConflict:
            continue  # someone else took or renewed it meanwhile: look again
    raise EphemeraError(f"{env}: the operation lock kept changing; try again")


def renew(store: LeaseStore, lock: OpLock, now: datetime, ttl: timedelta = LOCK_TTL) -> OpLock:
    """Push the deadline back; LeaseConflict when the lock is no longer ours."""
    return store.put_lock(lock.evolve(deadline=now + ttl), lock)


def release(store: LeaseStore, lock: OpLock) -> bool:
    """Remove our lock (not one that replaced it); whether it was still ours."""
    return store.delete_lock(lock)


def claim_is_stale(store: LeaseStore, lease: Lease, now: datetime) -> bool:
    """A claimed (deploying, destroying) lease whose run stopped without finishing: no
    live operation lock on the environment, and the claim's holder is gone from this
    host or its deadline has passed."""
    if lease.status not in CLAIMED or is_live(store.get_lock(lease.env), now):
        return False
    if lease.holder is not None and is_gone(lease.holder):
        return True
    return lease.claim_deadline is None or lease.claim_deadline <= now
