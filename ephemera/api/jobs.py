"""A run started over the API, and the state machine it follows:

    queued ──▶ running ──▶ succeeded | failed | canceled
       └──────────────────▶ canceled | failed

`running` carries the lifecycle's phase (validate, init, plan, gate, apply, destroy)
and how far along the op's phases it is. A terminal state never changes again. The
book keeps the runs of this server (the newest `keep`), one active run per environment,
and the Idempotency-Key of each request that started one (for a day).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ephemera.errors import EphemeraError

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELED = "canceled"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
TERMINAL = (SUCCEEDED, FAILED, CANCELED)
_NEXT = {QUEUED: (RUNNING, CANCELED, FAILED), RUNNING: TERMINAL}

OPS = ("plan", "deploy", "destroy")
PHASES = {
    "plan": ("validate", "init", "plan", "gate"),
    "deploy": ("validate", "init", "plan", "gate", "apply"),
    "destroy": ("validate", "init", "destroy"),
}
RUN_OP = {"plan": "plan", "deploy": "apply", "destroy": "destroy"}  # the run record's op
IDEMPOTENCY_TTL = timedelta(hours=24)


class BadTransition(EphemeraError):
    """A run asked to move where the state machine has no edge."""


class IdempotencyConflict(EphemeraError):
    """An Idempotency-Key reused for a different request."""


class EnvironmentBusy(EphemeraError):
    """The environment already has a queued or running run on this server."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"{job.env}: run {job.id} ({job.op}) is {job.state}; wait for it")
        self.job = job


@dataclass(frozen=True)
class Job:
    id: str
    env: str
    op: str
    actor: str  # the token's name
    requested_at: datetime
    log_path: Path
    state: str = QUEUED
    phase: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    counts: dict[str, int] | None = None
    gate: dict[str, Any] | None = None
    exit_code: int | None = None
    error: str | None = None
    cancel_requested: bool = False
    dispatch: str = "local"
    remote_id: str | None = None  # the CodeBuild build id of a dispatched run

    @property
    def done(self) -> bool:
        return self.state in TERMINAL

    def progress(self) -> dict[str, int]:
        """Phases reached out of the op's phases (all of them once succeeded)."""
        phases = PHASES[self.op]
        if self.state == SUCCEEDED:
            return {"step": len(phases), "of": len(phases)}
        step = phases.index(self.phase) + 1 if self.phase in phases else 0
        return {"step": step, "of": len(phases)}

    def to_json(self, log_size: int) -> dict[str, Any]:
        gate = self.gate or {}
        return {
            "id": self.id,
            "env": self.env,
            "op": self.op,
            "state": self.state,
            "phase": self.phase,
            "progress": self.progress(),
            "requested_by": self.actor,
            "requested_at": self.requested_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "counts": self.counts,
            "gate": self.gate,
            "cost": {k: gate.get(k) for k in ("per_hour_usd", "total_usd")} if gate else None,
            "exit_code": self.exit_code,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "dispatch": self.dispatch,
            "remote_id": self.remote_id,
            "log_cursor": log_size,
        }


@dataclass
class _Key:
    job_id: str
    fingerprint: str
    at: datetime


@dataclass
class JobBook:
    """Every run this server knows, under one lock."""

    clock: Callable[[], datetime]
    keep: int = 500
    _jobs: dict[str, Job] = field(default_factory=dict)
    _keys: dict[tuple[str, str], _Key] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, job: Job, key: tuple[str, str] | None, fingerprint: str) -> tuple[Job, bool]:
        """Book `job`; returns (the run, whether it is new). With an Idempotency-Key
        (token name, key) seen before, the run that key started, if the request is the
        same (IdempotencyConflict if not)."""
        with self._lock:
            now = self.clock()
            self._keys = {k: v for k, v in self._keys.items() if now - v.at < IDEMPOTENCY_TTL}
            if key is not None and key in self._keys:
                seen = self._keys[key]
                if seen.fingerprint != fingerprint:
                    raise IdempotencyConflict(
                        "Idempotency-Key: already used for a different request"
                    )
                if seen.job_id in self._jobs:
                    return self._jobs[seen.job_id], False
            busy = next((j for j in self._jobs.values() if j.env == job.env and not j.done), None)
            if busy is not None:
                raise EnvironmentBusy(busy)
            self._jobs[job.id] = job
            if key is not None:
                self._keys[key] = _Key(job.id, fingerprint, now)
            self._forget_old()
            return job, True

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self, env: str | None = None) -> list[Job]:
        with self._lock:
            jobs = [j for j in self._jobs.values() if env is None or j.env == env]
        return sorted(jobs, key=lambda j: (j.requested_at, j.id), reverse=True)

    def move(self, job_id: str, state: str, **changes: Any) -> Job:
        """The one transition: refused (BadTransition) where the machine has no edge."""
        with self._lock:
            job = self._jobs[job_id]
            if state not in _NEXT.get(job.state, ()):
                raise BadTransition(f"run {job_id}: cannot go from {job.state} to {state}")
            stamp = {"started_at": self.clock()} if state == RUNNING else {}
            if state in TERMINAL:
                stamp = {"ended_at": self.clock()}
            moved = replace(job, state=state, **stamp, **changes)
            self._jobs[job_id] = moved
            return moved

    def note(self, job_id: str, **changes: Any) -> Job:
        """Facts about a running run (phase, counts, gate, remote id); none of its state."""
        assert "state" not in changes
        with self._lock:
            job = self._jobs[job_id]
            if job.done:
                return job
            noted = replace(job, **changes)
            self._jobs[job_id] = noted
            return noted

    def _forget_old(self) -> None:
        finished = sorted(
            (j for j in self._jobs.values() if j.done), key=lambda j: (j.requested_at, j.id)
        )
        for job in finished[: max(len(self._jobs) - self.keep, 0)]:
            del self._jobs[job.id]
