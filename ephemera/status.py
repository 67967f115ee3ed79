"""What is live: one row per environment (leases plus environment files), as checked
now — health probed, a state without a lease read — never from a record alone. The
command line renders the rows (ephemera/cli/tables.py) or prints them as JSON.

Every active environment's health is probed at once, under one deadline
(`health.check_all`): `health` says what was found, and a probe that ran out of time
is "unknown", never healthy; `healthy` is its yes/no (null when unknown or not checked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ephemera.gate.evaluate import per_hour
from ephemera.health import DEFAULT_DEADLINE, HEALTHY, UNHEALTHY, check_all, health_url
from ephemera.leases import ACTIVE, DESTROYED, UNTRACKED, Lease, LeaseStore
from ephemera.lifecycle.states import local_count
from ephemera.project import Project

NOT_CHECKED = "not checked"  # not active, no URL to probe, or not asked to


@dataclass(frozen=True)
class StatusRow:
    env: str
    status: str
    stack: str | None
    target: str | None
    owner: str | None
    expires_at: datetime | None
    url: str | None
    healthy: bool | None
    orphan: bool
    reason: str | None
    changed_at: datetime | None
    next_attempt_at: datetime | None = None
    cost_so_far_usd: float | None = None
    cost_remaining_usd: float | None = None
    holder: str | None = None  # the run holding a deploying/destroying lease
    health: str = NOT_CHECKED  # healthy | unhealthy | unknown (no answer in time) | not checked

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The row for `--json` (docs/json.md): times stay datetimes for the encoder,
        and the time left is in seconds."""
        data = asdict(self)
        left = self.expires_at - now if self.expires_at else None
        data["expires_in_seconds"] = int(left.total_seconds()) if left is not None else None
        return data


def status_rows(
    project: Project,
    store: LeaseStore,
    now: datetime,
    check_health: bool = True,
    deadline: float = DEFAULT_DEADLINE,
) -> list[StatusRow]:
    """A row per environment; with `check_health`, the active ones probed within
    `deadline` seconds, all together."""
    leases = {lease.env: lease for lease in store.list()}
    names = sorted(set(leases) | set(project.known_environments()))
    return _rows(project, leases, names, now, check_health, deadline)


def status_row(
    project: Project,
    store: LeaseStore,
    name: str,
    now: datetime,
    check_health: bool = True,
    deadline: float = DEFAULT_DEADLINE,
) -> StatusRow:
    """The row of one environment (a file or a lease of that name)."""
    lease = store.get(name)
    leases = {name: lease} if lease is not None else {}
    return _rows(project, leases, [name], now, check_health, deadline)[0]


def _rows(
    project: Project,
    leases: dict[str, Lease],
    names: list[str],
    now: datetime,
    check_health: bool,
    deadline: float,
) -> list[StatusRow]:
    files = set(project.known_environments())
    urls = {
        name: health_url(lease.outputs)
        for name, lease in leases.items()
        if check_health and lease.status == ACTIVE
    }
    found = check_all([url for url in urls.values() if url], deadline)
    return [
        _row(project, name, leases.get(name), now, name in files, found.get(urls.get(name) or ""))
        for name in names
    ]


def _row(
    project: Project,
    name: str,
    lease: Lease | None,
    now: datetime,
    has_file: bool,
    health: str | None,
) -> StatusRow:
    """`health`: what the probe of its URL found (None: not probed)."""
    if lease is None or lease.status == DESTROYED:
        held = local_count(project, name)  # what the state says, not what a record says
        if held:
            return _untracked_row(name, lease, held)
    if lease is None:
        return StatusRow(
            name, "not deployed", None, None, None, None, None, None, False, None, None
        )
    live = lease.status != DESTROYED
    url = lease.outputs.get("url") if live else None
    healthy = {HEALTHY: True, UNHEALTHY: False}.get(health or "")
    return StatusRow(
        env=name,
        status=lease.status,
        stack=lease.stack,
        target=lease.target,
        owner=lease.owner,
        expires_at=lease.expires_at if live else None,
        url=url if isinstance(url, str) else None,
        healthy=healthy,
        orphan=not has_file and live,
        reason=lease.status_reason,
        changed_at=lease.status_changed_at,
        next_attempt_at=lease.next_attempt_at,
        holder=lease.holder.describe() if lease.holder else None,
        health=health or NOT_CHECKED,
        **(_costs(project, lease, now) if live else {}),
    )


def _untracked_row(name: str, lease: Lease | None, resources: int) -> StatusRow:
    """A state holding resources that no live lease tracks (a lost lease database)."""
    reason = f"the state holds {resources} resource(s) but no lease: run invoke reconcile"
    return StatusRow(
        env=name,
        status=UNTRACKED,
        stack=lease.stack if lease else None,
        target=lease.target if lease else "local",
        owner=lease.owner if lease else None,
        expires_at=None,
        url=None,
        healthy=None,
        orphan=False,
        reason=reason,
        changed_at=None,
    )


def _costs(project: Project, lease: Lease, now: datetime) -> dict[str, float]:
    """Cost so far (since the lease was created, at the first deploy) and until expiry,
    from the last plan's estimate."""
    hourly = per_hour(project, lease.env)
    if hourly is None or lease.applied_at is None or lease.expires_at is None:
        return {}
    lived = max((now - lease.created_at).total_seconds(), 0) / 3600
    left = max((lease.expires_at - now).total_seconds(), 0) / 3600
    return {
        "cost_so_far_usd": round(hourly * lived, 4),
        "cost_remaining_usd": round(hourly * left, 4),
    }
