"""ci-apply: on merge, apply the environments a push changed and destroy the deleted ones.

Each changed environment goes through `lifecycle.deploy` (which runs the policy and
budget gate before any apply); an environment whose file was deleted is rendered from
the base revision, where the file still exists, and destroyed. It refuses (UsageError)
when base..head cannot be computed, and applies the checked-out tree, so `head` must
be the commit checked out in `repo_root`.
"""

from __future__ import annotations

from pathlib import Path

from ephemera import config, lifecycle, session
from ephemera.ci import changes, git
from ephemera.ci.changes import DESTROY
from ephemera.config import stackvars
from ephemera.durations import Clock, system_clock
from ephemera.errors import EphemeraError, UsageError
from ephemera.leases import DESTROYED, LeaseStore
from ephemera.project import Project
from ephemera.terraform.render import render
from ephemera.terraform.runner import Echo, echo_stdout


def _destroy_deleted(
    ctx: lifecycle.Context, repo_root: Path, base_commit: str, head_commit: str, name: str
) -> None:
    """Destroy an environment whose file was deleted: render it from the base
    revision (where its file exists) into the work directory, then destroy."""
    lease = ctx.store.get(name)
    if lease is None or lease.status == DESTROYED:
        ctx.say(f"==> {name}: environment file deleted; not deployed, nothing to destroy")
        return
    with git.checkout(repo_root, base_commit, "destroy") as base_checkout:
        source = Project(root=base_checkout.root, home=ctx.project.home)
        env = config.load_environment(source, name)
        declared = set(stackvars.stack_variables(source, env.stack))
        render(env, source, declared)
        lifecycle.destroy(
            ctx, name, reason=f"environment file deleted in {head_commit[:12]} (ci-apply)"
        )


def ci_apply(
    repo_root: Path,
    base: str,
    head: str = "HEAD",
    *,
    env: str | None = None,
    echo: Echo = echo_stdout,
    clock: Clock = system_clock,
    store: LeaseStore | None = None,
) -> int:
    """Apply the environments changed between `base` and `head` (compared directly,
    not through the merge base) and destroy the deleted ones; `env` limits this to
    one environment (one job of the apply matrix). Returns 1 if any failed."""
    repo_root = Path(repo_root).resolve()
    base_commit, head_commit = git.compare_range(repo_root, base, head, use_merge_base=False)
    git.require_checked_out(repo_root, head)
    affected = changes.compare_commits(repo_root, base_commit, head_commit)
    if env:
        affected = [c for c in affected if c.env == env]
        if not affected:
            echo(f"{env}: not affected between {base_commit[:12]} and {head_commit[:12]}\n")
            return 0
    project = Project.discover(root=repo_root)
    ctx = lifecycle.Context(
        project=project, store=store or session.open_store(project), clock=clock, echo=echo
    )
    failed: list[str] = []
    for change in affected:
        ctx.say(f"==> {change.env}: {change.action} ({change.reason})")
        try:
            if change.problems:
                raise EphemeraError("\n".join(change.problems))
            if change.action == DESTROY:
                _destroy_deleted(ctx, repo_root, base_commit, head_commit, change.env)
            else:
                lifecycle.deploy(ctx, change.env)  # the policy and budget gate included
        except EphemeraError as exc:
            ctx.say(f"==> {change.env}: {change.action} failed\n{exc.message}")
            failed.append(change.env)
    if failed:
        ctx.say(f"ci-apply: failed: {', '.join(failed)}")
        return 1
    ctx.say(f"ci-apply: {len(affected)} environment(s) done")
    return 0


def apply_command(base: str, head: str = "HEAD", env: str = "") -> int:
    """`invoke ci-apply`."""
    if not base:
        raise UsageError("ci-apply: missing --base REV (the revision before the push)")
    clock = session.cli_clock()  # EPHEMERA_NOW, as the other commands
    return ci_apply(Project.discover().root, base, head, env=env or None, clock=clock)
