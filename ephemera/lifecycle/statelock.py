"""The state lock of an environment: who holds it (found by trying to take it), and
force-unlock for a lock whose run is known to be dead."""

from __future__ import annotations

from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.plan import init, prepare
from ephemera.runs import recorded_run
from ephemera.terraform.runner import StateLocked


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
