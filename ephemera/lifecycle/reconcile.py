"""reconcile: hold git (environment files), leases and Terraform states against each
other, and resolve what disagrees.

    orphan      a live lease whose environment file was deleted: left to the janitor,
                which destroys it at its expiry (given one now if it has none)
    untracked   a state that holds resources with no live lease (a lost or damaged
                lease database, a crash before the lease was written): a lease is
                recovered as `untracked`, expiring now + the environment's ttl, so the
                janitor collects it
    lost-state  a live lease whose state holds nothing: destroyed when nothing of it
                runs, else failed and due now, so the janitor's destroy stops what runs

Claimed leases (deploying, destroying) are the sweep's: a run holds them, or the
sweep takes over what a dead run left.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from ephemera import config
from ephemera.environment import Environment
from ephemera.errors import EphemeraError
from ephemera.leases import CLAIMED, DESTROYED, FAILED, UNTRACKED, Lease
from ephemera.lifecycle import runtime, states
from ephemera.lifecycle.context import Context

ORPHAN, UNTRACKED_STATE, LOST_STATE = "orphan", "untracked", "lost-state"


@dataclass
class Finding:
    env: str
    kind: str  # orphan | untracked | lost-state
    detail: str  # what was found
    action: str  # what reconcile does (with dry_run: would do)
    applied: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(ctx: Context, *, dry_run: bool = False) -> list[Finding]:
    """Every disagreement between files, leases and states, resolved unless `dry_run`."""
    findings = []
    for name, lease, env, count in _inventory(ctx):
        finding = _finding(ctx, name, lease, env, count)
        if finding is None:
            continue
        if not dry_run:
            _resolve(ctx, finding, lease, env, count)
            finding.applied = True
        findings.append(finding)
    return findings


def _inventory(ctx: Context) -> list[tuple[str, Lease | None, Environment | None, int | None]]:
    """(name, lease, environment if its file is valid, resources in its state)."""
    leases = {lease.env: lease for lease in ctx.store.list()}
    files = set(ctx.project.known_environments())
    names = set(leases) | files | states.local_names(ctx.project) | _s3_names(ctx)
    found = []
    for name in sorted(names):
        env = _environment(ctx, name) if name in files else None
        lease = leases.get(name)
        if env is not None:
            count = states.count(ctx.project, env)
        elif lease is None or lease.target == "local":
            count = states.local_count(ctx.project, name)
        else:
            count = None  # an aws orphan: its state is the janitor's to read
        found.append((name, lease, env, count))
    return found


def _finding(
    ctx: Context, name: str, lease: Lease | None, env: Environment | None, count: int | None
) -> Finding | None:
    live = lease is not None and lease.status != DESTROYED
    if live and lease is not None and lease.status in CLAIMED:
        return None
    if not live and count:
        until = env.ttl_text if env else "0m (its file is gone)"
        return Finding(
            name,
            UNTRACKED_STATE,
            f"the state holds {count} resource(s) but no lease tracks them",
            f"recover a lease as untracked, expiring in {until}, for the janitor",
        )
    if live and lease is not None and not ctx.project.environment_file(name).exists():
        when = lease.expires_at.isoformat() if lease.expires_at else "now"
        return Finding(
            name,
            ORPHAN,
            f"environments/{name}.yaml was deleted; the lease is {lease.status}",
            f"left for the janitor: destroyed at its expiry ({when})",
        )
    if live and lease is not None and _state_gone(lease, count):
        running = runtime.leftovers(ctx, name, lease.outputs) if _local(lease) else []
        if running:
            return Finding(
                name,
                LOST_STATE,
                f"the state holds nothing, yet {', '.join(running)}",
                "mark failed and due now: the janitor's destroy stops what runs",
            )
        return Finding(
            name, LOST_STATE, "the state holds nothing and nothing runs", "mark destroyed"
        )
    return None


def _resolve(
    ctx: Context, finding: Finding, lease: Lease | None, env: Environment | None, count: int | None
) -> None:
    now = ctx.clock()
    if finding.kind == UNTRACKED_STATE:
        _recover(ctx, finding.env, lease, env, count, now)
    elif finding.kind == ORPHAN:
        ctx.store.modify(
            finding.env,
            lambda current: (
                None
                if current.expires_at is not None
                else current.evolve(expires_at=now, status_reason="orphan: expires now")
            ),
        )
    elif finding.action == "mark destroyed":
        _set_status(ctx, finding.env, DESTROYED, f"reconcile: {finding.detail}", now)
    else:
        _set_status(ctx, finding.env, FAILED, f"reconcile: {finding.detail}", now)


def _recover(
    ctx: Context,
    name: str,
    lease: Lease | None,
    env: Environment | None,
    count: int | None,
    now: datetime,
) -> None:
    fields = {
        "status": UNTRACKED,
        "expires_at": now + env.ttl if env else now,
        "status_reason": f"recovered by reconcile: the state holds {count} resource(s)",
        "status_changed_at": now,
        "attempts": 0,
        "next_attempt_at": None,
        "warnings_sent": (),
    }
    if lease is not None:
        ctx.store.update(lease.evolve(**fields))
        return
    ctx.store.create(
        Lease(
            env=name,
            target=env.target if env else "local",
            stack=env.stack if env else "",
            owner=env.owner if env else "unknown",
            created_at=now,
            protected=False,
            **fields,
        )
    )


def _set_status(ctx: Context, name: str, status: str, reason: str, now: datetime) -> None:
    def change(current: Lease) -> Lease:
        due = now if status == FAILED else current.expires_at
        return current.evolve(
            status=status, status_reason=reason, status_changed_at=now, expires_at=due
        )

    ctx.store.modify(name, change)


def _environment(ctx: Context, name: str) -> Environment | None:
    try:
        return config.load_environment(ctx.project, name)
    except EphemeraError:
        return None


def _local(lease: Lease | None) -> bool:
    return lease is not None and lease.target == "local"


def _state_gone(lease: Lease, count: int | None) -> bool:
    """The state holds nothing: no resources, or (local) no state file at all."""
    return count == 0 or (count is None and _local(lease))


def _s3_names(ctx: Context) -> set[str]:
    """Environments with a state in the project's state bucket (aws.state_bucket)."""
    defaults = config.load_defaults(ctx.project)
    aws = (defaults.data.get("aws") if defaults else None) or {}
    bucket = aws.get("state_bucket") if isinstance(aws, dict) else None
    if not bucket:
        return set()
    import boto3  # only the aws target needs it
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return states.s3_names(bucket, boto3.Session(region_name=aws.get("region") or None))
    except (BotoCoreError, ClientError) as exc:
        raise EphemeraError(f"reconcile: cannot list the states in s3://{bucket}: {exc}") from exc
