"""The lease and run-record types, and the store interface both backends follow."""

from __future__ import annotations

import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from ephemera.errors import EphemeraError
from ephemera.leases.holders import Holder

DEPLOYING = "deploying"
ACTIVE = "active"
DESTROYING = "destroying"
DESTROYED = "destroyed"
FAILED = "failed"
UNTRACKED = "untracked"  # resources found in a state without a live lease (reconcile)
STATUSES = (DEPLOYING, ACTIVE, DESTROYING, DESTROYED, FAILED, UNTRACKED)
CLAIMED = (DEPLOYING, DESTROYING)  # a run holds the lease: `holder`, `claim_deadline`
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class LeaseConflict(EphemeraError):
    """A compare-and-swap lost: someone else changed the lease first."""


@dataclass(frozen=True)
class Lease:
    env: str
    target: str
    stack: str
    owner: str
    status: str
    created_at: datetime
    applied_at: datetime | None = None
    expires_at: datetime | None = None
    protected: bool = False
    warnings_sent: tuple[str, ...] = ()
    attempts: int = 0
    next_attempt_at: datetime | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    last_run_id: str | None = None
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    holder: Holder | None = None  # who holds a claimed (deploying, destroying) lease
    claim_deadline: datetime | None = None  # when an unrenewed claim runs out
    version: int = 0

    def evolve(self, **changes: Any) -> Lease:
        """A copy with `changes`; the store bumps `version` when it writes it."""
        return replace(self, **changes)


# The fields of a Lease that hold a time: what every store writes as text (leases/codec.py).
LEASE_TIMES = tuple(f.name for f in fields(Lease) if str(f.type).startswith("datetime"))


@dataclass(frozen=True)
class OpLock:
    """The environment's operation lock: one plan, deploy, destroy or drift at a time.

    Held in the lease store (so across machines with DynamoDB) by `holder` until
    `deadline`, which the holder's heartbeat keeps pushing back; `version` is its
    compare-and-swap counter."""

    env: str
    holder: Holder
    deadline: datetime
    version: int = 0

    def evolve(self, **changes: Any) -> OpLock:
        return replace(self, **changes)


@dataclass(frozen=True)
class RunRecord:
    """One plan, apply, destroy or extension of an environment, or an audit record of
    a change asked for over HTTP (op `audit:<action>`, actor the API token's name,
    `client` the address the request came from)."""

    id: str
    env: str
    op: str
    actor: str
    commit: str | None
    started_at: datetime
    ended_at: datetime | None = None
    result: str = "running"
    added: int = 0
    changed: int = 0
    destroyed: int = 0
    log_path: str | None = None
    detail: str | None = None
    client: str | None = None


def new_run_id(op: str, now: datetime) -> str:
    """A run's id: `<UTC start, to the second>-<op>-<10 random hex digits>`, e.g.
    `20261122T120000Z-extend-3f9a1c0b2e`. Ids of runs started in different seconds sort
    by time; runs sharing one `now` (50 concurrent extend-ttl, a sweep's expire runs)
    still get distinct ids (40 random bits each, from any process or machine)."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{op}-{secrets.token_hex(5)}"


class LeaseStore(ABC):
    """Leases keyed by environment name, and the run history."""

    @abstractmethod
    def get(self, env: str) -> Lease | None: ...

    @abstractmethod
    def create(self, lease: Lease) -> Lease:
        """Insert a new lease (version 1); LeaseConflict if one exists."""

    @abstractmethod
    def update(self, lease: Lease) -> Lease:
        """Write `lease` if the stored version still equals `lease.version`.

        Returns the written lease with version + 1; LeaseConflict otherwise.
        """

    @abstractmethod
    def list(self) -> list[Lease]:
        """Every lease, sorted by env."""

    @abstractmethod
    def due(self, statuses: tuple[str, ...], before: datetime) -> list[Lease]:
        """Leases in `statuses` whose expires_at is at or before `before`."""

    def in_status(self, statuses: tuple[str, ...]) -> list[Lease]:
        """Every lease in `statuses` that has an expiry (in DynamoDB, the index holds only
        those), whatever that expiry is."""
        return self.due(statuses, FAR_FUTURE)

    @abstractmethod
    def get_lock(self, env: str) -> OpLock | None: ...

    @abstractmethod
    def put_lock(self, lock: OpLock, expected: OpLock | None) -> OpLock:
        """Write `lock` (version + 1) if the stored lock is still `expected` (compared by
        version; None: there is none). LeaseConflict otherwise."""

    @abstractmethod
    def delete_lock(self, lock: OpLock) -> bool:
        """Remove the lock if it is still `lock` (same version); whether it was."""

    @abstractmethod
    def add_run(self, run: RunRecord) -> None: ...

    @abstractmethod
    def finish_run(self, run: RunRecord) -> None:
        """Overwrite the record with id `run.id` (end time, result, counts)."""

    @abstractmethod
    def runs(self, env: str, limit: int = 50) -> list[RunRecord]:
        """The most recent runs of `env`, newest first."""

    def modify(
        self,
        env: str,
        change: Callable[[Lease], Lease | None],
        *,
        attempts: int = 100,
        first: Lease | None = None,
        pause: Callable[[int], None] | None = None,
    ) -> Lease | None:
        """The one read-modify-write under compare-and-swap.

        `change` gets the current lease and returns the one to write, or None to write
        nothing (it may also raise to refuse); a lost race re-reads and re-applies it.
        `first` is a lease already read, tried before any read; `pause(attempt)` runs
        before each retry. Returns the written lease, or None when there is no lease or
        `change` declined. LeaseConflict after `attempts` lost races."""
        for attempt in range(attempts):
            if attempt and pause is not None:
                pause(attempt)
            current = first if attempt == 0 and first is not None else self.get(env)
            if current is None:
                return None
            wanted = change(current)
            if wanted is None:
                return None
            try:
                return self.update(wanted)
            except LeaseConflict:
                continue
        raise LeaseConflict(f"{env}: the lease kept changing; gave up after {attempts} tries")

    def put(self, lease: Lease) -> Lease:
        """Create or compare-and-swap update, depending on `lease.version`."""
        return self.create(lease) if lease.version == 0 else self.update(lease)
