"""destroy: terraform destroy, then check that nothing is left (the state, and on aws
the resources still tagged with the environment) before the lease says `destroyed`."""

from __future__ import annotations

import json

from ephemera import config
from ephemera.errors import EphemeraError, UsageError
from ephemera.janitor.tfstate import count_state_resources
from ephemera.leases import DESTROYED, DESTROYING, FAILED, Lease
from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.plan import init, prepare
from ephemera.lifecycle.predestroy import run_pre_destroy
from ephemera.project import Project
from ephemera.runs import recorded_run
from ephemera.terraform.render import BACKEND_FILE, Rendered, rendered_from_disk


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
            run_pre_destroy(ctx, rendered, lease.outputs if lease is not None else {})
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
