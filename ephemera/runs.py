"""Run records: who ran what, when, with which result, and where its log is."""

from __future__ import annotations

import getpass
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from ephemera.durations import Clock
from ephemera.leases import LeaseStore, RunRecord, new_run_id
from ephemera.project import Project


def run_json(run: RunRecord) -> dict[str, Any]:
    """A run record as `history --json` and the API show it (docs/json.md): its fields,
    times left as datetimes for the encoder, and how long it took."""
    took = run.ended_at - run.started_at if run.ended_at else None
    return {**run.__dict__, "duration_seconds": int(took.total_seconds()) if took else None}


def current_actor() -> str:
    """EPHEMERA_ACTOR, else CI's actor, else the local user name."""
    return os.environ.get("EPHEMERA_ACTOR") or os.environ.get("GITHUB_ACTOR") or _safe_user()


def _safe_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def current_commit(root: Path) -> str | None:
    """The checked-out commit of the project, or None outside git."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


class RunLog:
    """An open run: its record (updated as it goes) and its log file."""

    def __init__(self, record: RunRecord, log: IO[str]) -> None:
        self.record = record
        self.log = log

    def counts(self, added: int, changed: int, destroyed: int) -> None:
        self.record = replace(self.record, added=added, changed=changed, destroyed=destroyed)

    def note(self, detail: str) -> None:
        self.record = replace(self.record, detail=detail)


def _why(exc: BaseException) -> str | None:
    """The first line of an expected failure's message, for the history (the gate's
    verdict, a failed command); None for anything else."""
    message = getattr(exc, "message", None)
    return message.splitlines()[0][:300] if isinstance(message, str) and message else None


@contextmanager
def recorded_run(
    project: Project,
    store: LeaseStore,
    env: str,
    op: str,
    clock: Clock,
    run_id: str | None = None,
) -> Iterator[RunLog]:
    """Open a run record and log; on exit store the end time and the result. `run_id`:
    the id the operation lock's holder already carries (default: a new one)."""
    started = clock()
    run_id = run_id or new_run_id(op, started)
    log_path = project.runs_dir(env) / f"{run_id}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    record = RunRecord(
        id=run_id,
        env=env,
        op=op,
        actor=current_actor(),
        commit=current_commit(project.root),
        started_at=started,
        log_path=str(log_path),
    )
    store.add_run(record)
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(descriptor, "a") as log:
        run = RunLog(record, log)
        try:
            yield run
        except BaseException as exc:
            result = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            detail = run.record.detail or _why(exc)
            store.finish_run(replace(run.record, ended_at=clock(), result=result, detail=detail))
            raise
        store.finish_run(replace(run.record, ended_at=clock(), result="ok"))
