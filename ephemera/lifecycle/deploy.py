"""deploy = plan → gate → lease deploying → apply the saved plan → lease active.

Nothing is applied unless every step before passed, and a plan is applied only if the
inputs it was made from are unchanged. A failed apply leaves the lease `failed` with an
expiry, so the janitor destroys whatever the apply created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ephemera import gate
from ephemera.durations import renewed_expiry
from ephemera.environment import Environment
from ephemera.errors import EphemeraError
from ephemera.leases import ACTIVE, DEPLOYING, DESTROYED, DESTROYING, FAILED, Lease
from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.plan import (
    PLAN_DIGEST,
    PLAN_FILE,
    PlanSummary,
    init,
    make_plan,
    prepare,
    run_gate,
)
from ephemera.runs import RunLog, recorded_run
from ephemera.terraform.render import Rendered, current_digest


@dataclass(frozen=True)
class DeployResult:
    lease: Lease
    plan: PlanSummary
    applied: bool


def deploy(ctx: Context, name: str) -> DeployResult:
    """Plan, pass the gate, apply the saved plan, and create or renew the lease."""
    env, rendered = prepare(ctx, name)
    with recorded_run(ctx.project, ctx.store, env.name, "apply", ctx.clock) as run:
        init(ctx, rendered, run.log)
        summary = make_plan(ctx, rendered, run.log)
        run.counts(summary.added, summary.changed, summary.destroyed)
        gate.enforce(env, run_gate(ctx, env, summary))
        lease = _mark_deploying(ctx, env, run)
        applied = summary.has_changes
        if applied:
            try:
                apply_saved_plan(ctx, rendered, run)
            except (EphemeraError, KeyboardInterrupt) as exc:
                _mark_apply_failed(ctx, env, exc)
                raise
        else:
            ctx.say(f"==> {env.name}: no changes, nothing to apply")
        lease = _mark_active(ctx, env, lease, read_outputs(ctx, rendered), run)
    return DeployResult(lease, summary, applied)


def apply_saved_plan(ctx: Context, rendered: Rendered, run: RunLog) -> None:
    recorded = (rendered.work_dir / PLAN_DIGEST).read_text().strip()
    if current_digest(rendered) != recorded:
        raise EphemeraError(
            f"{rendered.env}: the rendered inputs changed after the plan was made; "
            "run the deploy again to plan them"
        )
    ctx.say(f"==> {rendered.env}: terraform apply")
    terraform_for(ctx, rendered.env).run(
        ["apply", "-input=false", "-no-color", "-auto-approve", str(rendered.work_dir / PLAN_FILE)],
        cwd=rendered.root_dir,
        log=run.log,
        where=f"{rendered.env}: apply",
    )


def read_outputs(ctx: Context, rendered: Rendered) -> dict[str, Any]:
    """The stack outputs as {name: value}."""
    shown = terraform_for(ctx, rendered.env).run(
        ["output", "-json", "-no-color"],
        cwd=rendered.root_dir,
        quiet=True,
        where=f"{rendered.env}: output",
    )
    return {key: item.get("value") for key, item in json.loads(shown.stdout or "{}").items()}


def _mark_deploying(ctx: Context, env: Environment, run: RunLog) -> Lease:
    now = ctx.clock()
    lease = ctx.store.get(env.name)
    if lease is not None and lease.status == DESTROYING:
        raise EphemeraError(f"{env.name}: the environment is being destroyed; deploy it after that")
    if lease is None or lease.status == DESTROYED:
        fresh = Lease(
            env=env.name,
            target=env.target,
            stack=env.stack,
            owner=env.owner,
            status=DEPLOYING,
            created_at=now,
            protected=env.protected,
            last_run_id=run.record.id,
            status_changed_at=now,
            version=0 if lease is None else lease.version,
        )
        return ctx.store.put(fresh)
    return ctx.store.update(
        lease.evolve(
            status=DEPLOYING,
            owner=env.owner,
            stack=env.stack,
            target=env.target,
            protected=env.protected,
            last_run_id=run.record.id,
            status_changed_at=now,
            status_reason=None,
        )
    )


def _mark_active(
    ctx: Context, env: Environment, lease: Lease, outputs: dict[str, Any], run: RunLog
) -> Lease:
    """Active, with the renewed expiry (kept if an extend-ttl landed meanwhile)."""
    now = ctx.clock()
    written = ctx.store.modify(
        env.name,
        lambda current: current.evolve(
            status=ACTIVE,
            applied_at=now,
            expires_at=renewed_expiry(current.expires_at, env.ttl, now),
            outputs=outputs,
            attempts=0,
            next_attempt_at=None,
            status_reason="deployed",
            status_changed_at=now,
            last_run_id=run.record.id,
        ),
    )
    if written is None:
        raise EphemeraError(f"{env.name}: the lease disappeared during the deploy")
    return written


def _mark_apply_failed(ctx: Context, env: Environment, exc: BaseException) -> None:
    """A failed apply may have created resources: the lease gets an expiry all the
    same (status failed), so the janitor destroys whatever is there when it runs out."""
    now = ctx.clock()
    reason = exc.message.splitlines()[0] if isinstance(exc, EphemeraError) else "interrupted"
    ctx.store.modify(
        env.name,
        lambda current: current.evolve(
            status=FAILED,
            expires_at=renewed_expiry(current.expires_at, env.ttl, now),
            status_reason=f"apply failed: {reason}",
            status_changed_at=now,
        ),
    )
