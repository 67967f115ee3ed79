"""destroy: terraform destroy, then check that nothing is left before the lease says
`destroyed`: the state holds no resources, and for target local nothing of the
environment runs (its pidfiles name no live process, nothing answers on its port;
processes are stopped from the pidfiles even when the state is tainted, empty or lost),
for target aws nothing is still tagged with the environment. Otherwise the lease is
`failed` with what remains, and the janitor retries with backoff.
"""

from __future__ import annotations

import json

from ephemera import config
from ephemera.errors import CommandError, EphemeraError, UsageError
from ephemera.janitor.sweep import backoff
from ephemera.leases import DESTROYED, DESTROYING, FAILED, Holder, Lease
from ephemera.leases.oplock import LOCK_TTL
from ephemera.lifecycle import runtime, states
from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.operation import operation
from ephemera.lifecycle.plan import init, prepare
from ephemera.lifecycle.predestroy import run_pre_destroy
from ephemera.runs import RunLog, recorded_run
from ephemera.terraform.render import BACKEND_FILE, Rendered, rendered_from_disk

NO_STATE = "No state file was found"  # `terraform state list` without a state


def destroy(
    ctx: Context, name: str, *, reason: str = "destroyed by request", janitor: bool = False
) -> list[str]:
    """Destroy `name`; returns what remains (state addresses, processes, an open port,
    tagged ARNs): empty = clean.

    Under the environment's operation lock. Works for an orphan (its environment file
    deleted) from the last rendered work directory, and for a lease already
    `destroying` (a janitor claimed it and dispatched this destroy). An environment
    never deployed (no lease, nothing in its state, nothing running) is said so, and
    nothing runs. With `janitor`, the sweep owns the lease transitions; otherwise this
    marks the lease destroyed, or failed when anything remains.
    """
    if ctx.store.get(name) is None and not ctx.project.environment_file(name).exists():
        config.check_environment_name(ctx.project, name)  # the unknown-env error
    with operation(ctx, name, "destroy") as holder:
        lease = ctx.store.get(name)
        if never_deployed(ctx, name, lease):
            ctx.say(f"==> {name}: not deployed (no lease, nothing in its state): nothing to do")
            return []
        rendered = _rendered_for_destroy(ctx, name, lease)
        if lease is not None and not janitor:
            lease = _claim_for_destroy(ctx, lease, reason, holder)
        outputs = lease.outputs if lease is not None else {}
        with recorded_run(ctx.project, ctx.store, name, "destroy", ctx.clock, holder.run_id) as run:
            run.note(reason)
            try:
                leftovers = _destroy_and_verify(ctx, rendered, run, outputs)
            except EphemeraError as exc:
                if not janitor:
                    _record_failure(ctx, name, f"destroy failed: {exc.message}")
                raise
    if not janitor:
        if leftovers:
            _record_failure(ctx, name, f"left behind: {', '.join(leftovers)}")
        else:
            _record_destroyed(ctx, name, reason)
    if not leftovers:
        ctx.say(f"==> {name}: destroyed; nothing of it is left")
    return leftovers


def _destroy_and_verify(ctx: Context, rendered: Rendered, run: RunLog, outputs: dict) -> list[str]:
    """init, count what is there (the run's −N), destroy, stop what still runs, verify."""
    name = rendered.env
    init(ctx, rendered, run.log)
    present = len(state_resources(ctx, rendered))
    run.counts(0, 0, present)
    ctx.events("counts", {"added": 0, "changed": 0, "destroyed": present})
    ctx.phase("destroy")
    run_pre_destroy(ctx, rendered, outputs)
    ctx.say(f"==> {name}: terraform destroy")
    terraform_for(ctx, name).run(
        ["destroy", "-input=false", "-no-color", "-auto-approve", f"-var-file={rendered.tfvars}"],
        cwd=rendered.root_dir,
        log=run.log,
        where=f"{name}: destroy",
    )
    leftovers = state_resources(ctx, rendered)
    if _is_local(rendered):
        runtime.stop_processes(ctx, name)
        return leftovers + runtime.leftovers(ctx, name, outputs)
    return leftovers + _tagged_leftovers(rendered)


def never_deployed(ctx: Context, name: str, lease: Lease | None) -> bool:
    """No live lease, and for target local nothing in the state and nothing running."""
    if lease is not None and lease.status != DESTROYED:
        return False
    if not ctx.project.environment_file(name).exists():
        return lease is None or not ctx.project.work_dir(name).is_dir()
    try:
        env = config.load_environment(ctx.project, name)
    except UsageError:
        return False  # destroy from what was last rendered, if anything was
    if env.target != "local":
        return lease is None and not states.count(ctx.project, env)
    return not states.local_count(ctx.project, name) and not runtime.running_processes(ctx, name)


def _is_local(rendered: Rendered) -> bool:
    return 'backend "local"' in (rendered.root_dir / BACKEND_FILE).read_text()


def _tagged_leftovers(rendered: Rendered) -> list[str]:
    """On target aws (an s3 backend): ARNs still tagged ephemera:env=<env> after the
    destroy. Decided from the rendered files, so it also holds without a lease (CI)."""
    if 'backend "s3"' not in (rendered.root_dir / BACKEND_FILE).read_text():
        return []
    import boto3  # only the aws target needs it

    from ephemera.janitor.dispatch import tagged_leftovers

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


def _claim_for_destroy(ctx: Context, lease: Lease, reason: str, holder: Holder) -> Lease:
    """Move the lease to destroying, claimed by this run. An already destroying lease (a
    janitor's claim, whose dispatched build runs this) is taken over by this run."""
    now = ctx.clock()
    claim = {"holder": holder, "claim_deadline": now + LOCK_TTL}
    if lease.status == DESTROYING:
        return ctx.store.update(lease.evolve(**claim))
    return ctx.store.update(
        lease.evolve(status=DESTROYING, status_reason=reason, status_changed_at=now, **claim)
    )


def _record_destroyed(ctx: Context, name: str, reason: str) -> None:
    now = ctx.clock()
    ctx.store.modify(
        name,
        lambda current: current.evolve(
            status=DESTROYED,
            status_reason=reason,
            status_changed_at=now,
            outputs={},
            holder=None,
            claim_deadline=None,
            next_attempt_at=None,
        ),
    )


def _record_failure(ctx: Context, name: str, reason: str) -> None:
    """Failed, due now, retried by the janitor after the backoff of one more attempt."""
    now = ctx.clock()

    def failed(current: Lease) -> Lease:
        attempts = current.attempts + 1
        due = min(current.expires_at, now) if current.expires_at else now
        return current.evolve(
            status=FAILED,
            status_reason=reason,
            status_changed_at=now,
            attempts=attempts,
            next_attempt_at=now + backoff(attempts),
            expires_at=due,
            holder=None,
            claim_deadline=None,
        )

    ctx.store.modify(name, failed)


def state_resources(ctx: Context, rendered: Rendered) -> list[str]:
    """Addresses of the managed resources still in the state (none without a state: an
    empty or missing state file, as a run killed mid-apply can leave)."""
    try:
        listed = terraform_for(ctx, rendered.env).run(
            ["state", "list"],
            cwd=rendered.root_dir,
            quiet=True,
            where=f"{rendered.env}: state list",
        )
    except CommandError as exc:
        if NO_STATE in exc.stderr:
            return []
        raise
    return [line for line in listed.stdout.splitlines() if line and not line.startswith("data.")]
