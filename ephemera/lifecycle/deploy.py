"""deploy = plan → gate → lease deploying → apply the saved plan → lease active.

Nothing is applied unless every step before passed, and a plan is applied only if the
inputs it was made from are unchanged. A failed apply leaves the lease `failed` with an
expiry, so the janitor destroys whatever the apply created.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ephemera import config, gate
from ephemera.config.stackmanifest import load_manifest
from ephemera.durations import renewed_expiry
from ephemera.environment import Environment
from ephemera.errors import EphemeraError
from ephemera.health import health_url, is_healthy
from ephemera.leases import ACTIVE, DEPLOYING, DESTROYED, DESTROYING, FAILED, Holder, Lease
from ephemera.leases.oplock import LOCK_TTL
from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.operation import operation
from ephemera.lifecycle.plan import (
    PLAN_DIGEST,
    PLAN_FILE,
    PlanSummary,
    init,
    make_plan,
    prepare,
    run_gate,
    use_saved_plan,
)
from ephemera.runs import RunLog, recorded_run
from ephemera.terraform.render import Rendered, current_digest


@dataclass(frozen=True)
class DeployResult:
    lease: Lease
    plan: PlanSummary
    applied: bool


Confirm = Callable[[Environment, PlanSummary, "gate.GateResult"], None]


def deploy(
    ctx: Context, name: str, confirm: Confirm | None = None, *, saved_plan: bytes | None = None
) -> DeployResult:
    """Plan, pass the gate, apply the saved plan, and create or renew the lease.

    Under the environment's operation lock. An environment whose health check fails
    has its runtime (the stack's `runtime` resource) replaced, keeping its expiry.
    `confirm` is asked once the gate has passed, before a plan with changes is applied;
    it raises to stop (nothing applied, the lease untouched). `saved_plan`: apply this
    plan.bin (one that was reviewed, made from these inputs: the caller checks) instead
    of planning; the gate still runs on it, and Terraform refuses it if the state moved
    on since."""
    config.check_environment_name(ctx.project, name)
    gate.prestart(ctx.project)  # checkov loads while the plan is made
    with operation(ctx, name, "deploy", run_op="apply") as holder:
        env, rendered = prepare(ctx, name)
        repair = _runtime_to_replace(ctx, env) if saved_plan is None else ()
        with recorded_run(ctx.project, ctx.store, name, "apply", ctx.clock, holder.run_id) as run:
            init(ctx, rendered, run.log)
            if saved_plan is None:
                summary = make_plan(ctx, rendered, run.log, replace=repair)
            else:
                summary = use_saved_plan(ctx, rendered, saved_plan)
            run.counts(summary.added, summary.changed, summary.destroyed)
            checked = run_gate(ctx, env, summary)
            gate.enforce(env, checked)
            if confirm is not None and summary.has_changes:
                confirm(env, summary, checked)
            keep_expiry = bool(repair)
            _mark_deploying(ctx, env, run, holder, keep_expiry)
            if summary.has_changes:
                _apply(ctx, env, rendered, run, keep_expiry)
                outputs = read_outputs(ctx, rendered)
            else:
                ctx.say(f"==> {env.name}: no changes, nothing to apply")
                outputs = _unchanged_outputs(ctx, rendered, summary, saved=saved_plan is not None)
            lease = _mark_active(ctx, env, outputs, run, keep_expiry)
    return DeployResult(lease, summary, summary.has_changes)


def _runtime_to_replace(ctx: Context, env: Environment) -> tuple[str, ...]:
    """The stack's runtime address when the deployed environment does not answer its
    health check (a killed process, a reboot): planned for replacement."""
    lease = ctx.store.get(env.name)
    if lease is None or lease.status != ACTIVE:
        return ()
    url = health_url(lease.outputs)
    runtime = load_manifest(
        ctx.project.stack_dir(env.stack), cache_dir=ctx.project.cache_dir
    ).runtime
    if url is None or runtime is None or is_healthy(url):
        return ()
    ctx.say(f"==> {env.name}: {url} does not answer: replacing {runtime}")
    return (runtime,)


def _apply(
    ctx: Context, env: Environment, rendered: Rendered, run: RunLog, keep_expiry: bool
) -> None:
    try:
        apply_saved_plan(ctx, rendered, run)
    except (EphemeraError, KeyboardInterrupt) as exc:
        _mark_apply_failed(ctx, env, exc, keep_expiry)
        raise


def apply_saved_plan(ctx: Context, rendered: Rendered, run: RunLog) -> None:
    recorded = (rendered.work_dir / PLAN_DIGEST).read_text().strip()
    if current_digest(rendered) != recorded:
        raise EphemeraError(
            f"{rendered.env}: the rendered inputs changed after the plan was made; "
            "run the deploy again to plan them"
        )
    with ctx.step(rendered.env, "terraform apply", phase="apply"):
        _apply_plan(ctx, rendered, run)


def _apply_plan(ctx: Context, rendered: Rendered, run: RunLog) -> None:
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


def _unchanged_outputs(
    ctx: Context, rendered: Rendered, summary: PlanSummary, *, saved: bool
) -> dict[str, Any]:
    """The outputs when nothing was applied: those of the state the plan just read (what
    `terraform output` reads, unchanged since, under the operation lock), without
    another Terraform command. Not the lease's recorded outputs, which can be stale (a
    lost lease, an apply that failed half-way); `terraform output` when the plan carries
    no state, or is a `saved` one (made elsewhere, earlier: the state may have moved on,
    and Terraform checks that only on an apply)."""
    if summary.state_outputs is not None and not saved:
        return dict(summary.state_outputs)
    return read_outputs(ctx, rendered)


def _expiry(current: Lease | None, env: Environment, now: datetime, keep: bool) -> datetime:
    """The lease's expiry for this deploy: renewed (never shortened), or kept (a repair)."""
    existing = current.expires_at if current is not None else None
    if keep and existing is not None:
        return existing
    return renewed_expiry(existing, env.ttl, now)


def _mark_deploying(
    ctx: Context, env: Environment, run: RunLog, holder: Holder, keep_expiry: bool
) -> Lease:
    """Claim the lease for this run (holder, claim deadline). It gets its expiry now, so
    a run that dies mid-apply still leaves the janitor something to collect."""
    now = ctx.clock()
    claim = {
        "status": DEPLOYING,
        "owner": env.owner,
        "stack": env.stack,
        "target": env.target,
        "protected": env.protected,
        "last_run_id": run.record.id,
        "status_changed_at": now,
        "status_reason": None,
        "holder": holder,
        "claim_deadline": now + LOCK_TTL,
    }
    lease = ctx.store.get(env.name)
    if lease is not None and lease.status == DESTROYING:
        raise EphemeraError(
            f"{env.name}: the environment is being destroyed ({lease.status_reason}); "
            "deploy it after that"
        )
    if lease is None or lease.status == DESTROYED:
        fresh = Lease(
            env=env.name,
            created_at=now,
            expires_at=now + env.ttl,
            version=0 if lease is None else lease.version,
            **claim,
        )
        return ctx.store.put(fresh)
    return ctx.store.update(lease.evolve(expires_at=_expiry(lease, env, now, keep_expiry), **claim))


def _mark_active(
    ctx: Context, env: Environment, outputs: dict[str, Any], run: RunLog, keep_expiry: bool
) -> Lease:
    """Active, with the renewed expiry (kept if an extend-ttl landed meanwhile)."""
    now = ctx.clock()
    written = ctx.store.modify(
        env.name,
        lambda current: current.evolve(
            status=ACTIVE,
            applied_at=now,
            expires_at=_expiry(current, env, now, keep_expiry),
            outputs=outputs,
            attempts=0,
            next_attempt_at=None,
            status_reason="deployed",
            status_changed_at=now,
            last_run_id=run.record.id,
            holder=None,
            claim_deadline=None,
        ),
    )
    if written is None:
        raise EphemeraError(f"{env.name}: the lease disappeared during the deploy")
    return written


def _mark_apply_failed(
    ctx: Context, env: Environment, exc: BaseException, keep_expiry: bool
) -> None:
    """A failed apply may have created resources: the lease keeps an expiry (status
    failed), so the janitor destroys whatever is there when it runs out."""
    now = ctx.clock()
    reason = exc.message.splitlines()[0] if isinstance(exc, EphemeraError) else "interrupted"
    ctx.store.modify(
        env.name,
        lambda current: current.evolve(
            status=FAILED,
            expires_at=_expiry(current, env, now, keep_expiry),
            status_reason=f"apply failed: {reason}",
            status_changed_at=now,
            holder=None,
            claim_deadline=None,
        ),
    )
