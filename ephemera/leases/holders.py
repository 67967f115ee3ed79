"""Who holds an environment: the run doing an operation on it, where it runs, and
whether that run is still alive.

A `Holder` is recorded on a lease in a non-terminal state (deploying, destroying) and
on the environment's operation lock. It is *gone* when it ran on this host and its
process no longer exists (the process start time is compared too, so a reused pid is
not mistaken for the holder); a holder on another host can only run out (its
deadline). Standard library only: the janitor Lambda packages it.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ephemera.durations import format_when
from ephemera.leases.codec import from_text, to_text


@dataclass(frozen=True)
class Holder:
    run_id: str
    op: str  # deploy, plan, destroy, drift, expire …
    host: str
    pid: int
    started_at: datetime
    pid_start: int | None = None  # the process's start time (Linux clock ticks)

    def describe(self) -> str:
        """`deploy run 20261201T…-apply-3f9a on host-a (pid 4242) since 2026-12-01 09:04 UTC`"""
        return (
            f"{self.op} run {self.run_id} on {self.host} (pid {self.pid}) "
            f"since {format_when(self.started_at)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "op": self.op,
            "host": self.host,
            "pid": self.pid,
            "started_at": to_text(self.started_at),
            "pid_start": self.pid_start,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Holder:
        started = from_text(data["started_at"])
        assert started is not None
        return cls(
            run_id=str(data["run_id"]),
            op=str(data["op"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            started_at=started,
            pid_start=data.get("pid_start"),
        )


def this_host() -> str:
    return socket.gethostname()


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first); None
    without /proc or without the process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses


def process_start(pid: int) -> int | None:
    """When `pid` started (field 22 of /proc/<pid>/stat, in clock ticks)."""
    fields = _proc_stat(pid)
    return int(fields[19]) if fields else None


def holder_here(run_id: str, op: str, now: datetime) -> Holder:
    """The holder for an operation this process runs."""
    pid = os.getpid()
    return Holder(run_id, op, this_host(), pid, now, process_start(pid))


def is_gone(holder: Holder) -> bool:
    """True only when the holder ran on this host and its process has ended."""
    if holder.host != this_host():
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    fields = _proc_stat(holder.pid)
    if fields is None:
        return False  # no /proc (macOS): the pid exists, trust it
    if fields[0] == "Z":
        return True  # a zombie: it has exited, its parent has not reaped it yet
    return holder.pid_start is not None and int(fields[19]) != holder.pid_start


def is_stale(holder: Holder, deadline: datetime | None, now: datetime) -> bool:
    """The claim ran out (deadline passed) or its process is gone from this host."""
    return (deadline is not None and deadline <= now) or is_gone(holder)
