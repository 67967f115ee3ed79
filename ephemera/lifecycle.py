"""The lifecycle of an environment: plan, deploy, destroy, and what is live.

deploy = validate → render → init → plan → (gate) → lease deploying → apply the
saved plan → lease active. Nothing is applied unless every step before passed,
and a plan is applied only if the inputs it was made from are unchanged.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ephemera import config, gate, stackvars
from ephemera.durations import Clock, renewed_expiry, system_clock
from ephemera.errors import EphemeraError, UsageError
from ephemera.leases import (
    ACTIVE,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    Lease,
    LeaseStore,
)
from ephemera.model import Environment
from ephemera.project import Project
from ephemera.render import (
    BACKEND_FILE,
    Rendered,
    current_digest,
    render,
    rendered_from_disk,
    write_private,
)
from ephemera.runs import RunLog, recorded_run
from ephemera.terraform import Echo, StateLocked, Terraform, echo_stdout
from ephemera.tfstate import count_state_resources

PLAN_FILE = "plan.bin"
PLAN_JSON = "plan.json"
PLAN_DIGEST = "plan.sha256"


@dataclass
class Context:
    """What every lifecycle operation needs; tests pass their own clock and echo."""

    project: Project
    store: LeaseStore
    clock: Clock = system_clock
    echo: Echo = echo_stdout

    def say(self, text: str) -> None:
        self.echo(text + "\n")


@dataclass(frozen=True)
class PlanSummary:
    env: str
    added: int
    changed: int
    destroyed: int
    plan_json: Path
    digest: str
    resources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.destroyed)

    def counts_text(self) -> str:
        return f"+{self.added} ~{self.changed} -{self.destroyed}"


@dataclass(frozen=True)
class DeployResult:
    lease: Lease
    plan: PlanSummary
    applied: bool


def terraform_for(ctx: Context, env_name: str) -> Terraform:
    work_dir = ctx.project.work_dir(env_name)
    return Terraform(
        data_dir=work_dir / "tfdata",
        plugin_cache=ctx.project.plugin_cache,
        extra_env={"EPHEMERA_PYTHON": sys.executable},
        echo=ctx.echo,
    )


def prepare(ctx: Context, name: str) -> tuple[Environment, Rendered]:
    """Validate and render: nothing is written unless the environment is valid."""
    env = config.load_environment(ctx.project, name)
    declared = set(stackvars.read_stack_variables(ctx.project.stack_dir(env.stack)))
    return env, render(env, ctx.project, declared)


def init(ctx: Context, rendered: Rendered, log: IO[str]) -> None:
    ctx.say(f"==> {rendered.env}: terraform init")
    terraform_for(ctx, rendered.env).run(
        ["init", "-input=false", "-no-color", f"-backend-config={rendered.backend_config}"],
        cwd=rendered.root_dir,
        log=log,
        quiet=True,
        where=f"{rendered.env}: init",
    )


def make_plan(
    ctx: Context, rendered: Rendered, log: IO[str], *, destroy: bool = False
) -> PlanSummary:
    """terraform plan -out plan.bin, then show -json → plan.json (both 0600)."""
    ctx.say(f"==> {rendered.env}: terraform plan{' -destroy' if destroy else ''}")
    terraform = terraform_for(ctx, rendered.env)
    plan_file = rendered.work_dir / PLAN_FILE
    args = [
        "plan",
        "-input=false",
        "-no-color",
        f"-out={plan_file}",
        f"-var-file={rendered.tfvars}",
    ]
    if destroy:
        args.append("-destroy")
    terraform.run(args, cwd=rendered.root_dir, log=log, where=f"{rendered.env}: plan")
    plan_file.chmod(0o600)
    shown = terraform.run(
        ["show", "-json", "-no-color", str(plan_file)],
        cwd=rendered.root_dir,
        quiet=True,
        where=f"{rendered.env}: show",
    )
    plan_json = rendered.work_dir / PLAN_JSON
    write_private(plan_json, shown.stdout)
    write_private(rendered.work_dir / PLAN_DIGEST, rendered.digest + "\n")
    return summarize_plan(rendered.env, json.loads(shown.stdout), plan_json, rendered.digest)


def summarize_plan(env: str, plan: dict[str, Any], plan_json: Path, digest: str) -> PlanSummary:
    added = changed = destroyed = 0
    for change in plan.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        added += "create" in actions
        destroyed += "delete" in actions
        changed += actions == ["update"]
    return PlanSummary(
        env, added, changed, destroyed, plan_json, digest, plan.get("resource_changes", [])
    )


def plan(ctx: Context, name: str) -> tuple[PlanSummary, gate.GateResult]:
    """Plan and report what the gate says (policy, cost); applies nothing."""
    env, rendered = prepare(ctx, name)
    with recorded_run(ctx.project, ctx.store, env.name, "plan", ctx.clock) as run:
        init(ctx, rendered, run.log)
        summary = make_plan(ctx, rendered, run.log)
        run.counts(summary.added, summary.changed, summary.destroyed)
        checked = run_gate(ctx, env, summary)
    ctx.say(f"==> {env.name}: plan {summary.counts_text()} (saved {summary.plan_json})")
    return summary, checked


def run_gate(ctx: Context, env: Environment, summary: PlanSummary) -> gate.GateResult:
    ctx.say(f"==> {env.name}: policy gate and cost")
    checked = gate.evaluate(ctx.project, env, summary.plan_json)
    ctx.say(gate.report(env, checked))
    return checked


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


# ---------------------------------------------------------------- destroy


def destroy(
    ctx: Context, name: str, *, reason: str = "destroyed by request", janitor: bool = False
) -> list[str]:
    """terraform destroy; returns what remains (state addresses, tagged ARNs): empty = clean.

    Works for an orphan (its environment file deleted) from the last rendered work
    directory, and for a lease already `destroying` (a janitor claimed it and
    dispatched this destroy). With `janitor`, the sweep owns the lease transitions;
    otherwise this marks the lease destroyed, or failed when anything remains.
    """
    lease = ctx.store.get(name)
    rendered = _rendered_for_destroy(ctx, name, lease)
    if lease is not None and not janitor:
        lease = _claim_for_destroy(ctx, lease, reason)
    with recorded_run(ctx.project, ctx.store, name, "destroy", ctx.clock) as run:
        run.note(reason)
        try:
            init(ctx, rendered, run.log)
            ctx.say(f"==> {name}: terraform destroy")
            terraform_for(ctx, name).run(
                [
                    "destroy",
                    "-input=false",
                    "-no-color",
                    "-auto-approve",
                    f"-var-file={rendered.tfvars}",
                ],
                cwd=rendered.root_dir,
                log=run.log,
                where=f"{name}: destroy",
            )
            leftovers = state_resources(ctx, rendered) + _tagged_leftovers(rendered)
        except EphemeraError as exc:
            if not janitor:
                _record_destroy_result(ctx, name, FAILED, f"destroy failed: {exc.message}")
            raise
    if not janitor:
        if leftovers:
            _record_destroy_result(ctx, name, FAILED, f"left behind: {', '.join(leftovers)}")
        else:
            _record_destroy_result(ctx, name, DESTROYED, reason)
    if not leftovers:
        ctx.say(f"==> {name}: destroyed; the state holds no resources")
    return leftovers


def _tagged_leftovers(rendered: Rendered) -> list[str]:
    """On target aws (an s3 backend): ARNs still tagged ephemera:env=<env> after the
    destroy. Decided from the rendered files, so it also holds without a lease (CI)."""
    if 'backend "s3"' not in (rendered.root_dir / BACKEND_FILE).read_text():
        return []
    import boto3  # only the aws target needs it

    from ephemera.dispatch import tagged_leftovers

    region = _backend_region(rendered)
    client = boto3.Session(region_name=region).client("resourcegroupstaggingapi")
    return tagged_leftovers(client, rendered.env)


def _backend_region(rendered: Rendered) -> str | None:
    for line in rendered.backend_config.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "region":
            return json.loads(value.strip())
    return None


def _rendered_for_destroy(ctx: Context, name: str, lease: Lease | None) -> Rendered:
    """Render from the environment file; when it is gone, or no longer valid, from
    what the last deploy rendered (an expired environment is destroyed either way)."""
    if ctx.project.environment_file(name).exists():
        try:
            return prepare(ctx, name)[1]
        except UsageError:
            if lease is None:
                raise
            ctx.say(f"==> {name}: the environment file is not valid; destroying what was deployed")
    elif lease is None:
        config.load_environment(ctx.project, name)  # raises the unknown-env error
    rendered = rendered_from_disk(ctx.project, name, lease.stack if lease else "")
    if rendered is None:
        raise UsageError(
            f"{name}: the environment file is gone and nothing was rendered for it; "
            f"restore environments/{name}.yaml to destroy it"
        )
    return rendered


def _claim_for_destroy(ctx: Context, lease: Lease, reason: str) -> Lease:
    """Move the lease to destroying. An already destroying lease (a janitor's claim,
    whose dispatched build runs this) is taken as it is; the state lock keeps two
    destroys of one environment from running at once."""
    if lease.status == DESTROYING:
        return lease
    return ctx.store.update(
        lease.evolve(status=DESTROYING, status_reason=reason, status_changed_at=ctx.clock())
    )


def _record_destroy_result(ctx: Context, name: str, status: str, reason: str) -> None:
    now = ctx.clock()
    outputs = {"outputs": {}} if status == DESTROYED else {}
    ctx.store.modify(
        name,
        lambda current: current.evolve(
            status=status, status_reason=reason, status_changed_at=now, **outputs
        ),
    )


def count_local_state(project: Project, env: str) -> int | None:
    """Resources in a local-backend state file, read without running Terraform."""
    path = project.state_dir(env) / "terraform.tfstate"
    if not path.is_file():
        return None
    try:
        return count_state_resources(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def state_resources(ctx: Context, rendered: Rendered) -> list[str]:
    """Addresses of the managed resources still in the state."""
    listed = terraform_for(ctx, rendered.env).run(
        ["state", "list"], cwd=rendered.root_dir, quiet=True, where=f"{rendered.env}: state list"
    )
    return [line for line in listed.stdout.splitlines() if line and not line.startswith("data.")]


# ---------------------------------------------------------------- locks


def find_lock(ctx: Context, name: str) -> dict[str, str] | None:
    """The lock holding `name`'s state, found by trying to take it (nothing is changed)."""
    _, rendered = prepare(ctx, name)
    with recorded_run(ctx.project, ctx.store, name, "lock-check", ctx.clock) as run:
        init(ctx, rendered, run.log)
        try:
            terraform_for(ctx, name).run(
                [
                    "plan",
                    "-input=false",
                    "-no-color",
                    "-refresh=false",
                    "-lock-timeout=0s",
                    f"-var-file={rendered.tfvars}",
                ],
                cwd=rendered.root_dir,
                log=run.log,
                quiet=True,
                where=f"{name}: lock check",
            )
        except StateLocked as locked:
            return locked.lock
    return None


def force_unlock(ctx: Context, name: str, lock_id: str) -> None:
    """terraform force-unlock: only for a lock whose run is known to be dead."""
    rendered = prepare(ctx, name)[1]
    with recorded_run(ctx.project, ctx.store, name, "unlock", ctx.clock) as run:
        run.note(f"force-unlocked lock {lock_id}")
        terraform_for(ctx, name).run(
            ["force-unlock", "-force", lock_id],
            cwd=rendered.root_dir,
            log=run.log,
            where=f"{name}: force-unlock",
        )
    ctx.say(f"==> {name}: lock {lock_id} released")
