"""ci-apply: on merge, apply what was approved, and destroy what the merge deleted.

An environment the merge created or changed is applied only from its saved plan (the
one ci-plan showed in the pull request, or the one a reviewer approved after the
merge re-planned it: `ephemera.ci.merge`), and only when the merge commit's
fingerprint for it, its state's serial and the project root are still the ones the
plan was made with; otherwise it fails, naming why, and applies nothing. The apply
itself is `lifecycle.deploy` with that plan: operation lock, the gate on the plan,
the lease. An environment whose file was deleted is rendered from the base revision,
where the file still exists, and destroyed. A target CI does not manage
(`ephemera.ci.targets`) is skipped with why.

It refuses (UsageError) when base..head cannot be computed, and applies the
checked-out tree, so `head` must be the commit checked out in `repo_root`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ephemera import config, lifecycle, session
from ephemera.ci import actions, changes, git, results, saved, targets
from ephemera.ci.changes import DESTROY, Change
from ephemera.ci.results import ApplyResult
from ephemera.config import stackvars
from ephemera.durations import Clock, system_clock
from ephemera.errors import EphemeraError, UsageError
from ephemera.leases import DESTROYED, LeaseStore
from ephemera.project import Project
from ephemera.terraform.render import render
from ephemera.terraform.runner import Echo, echo_stdout


def _destroy_deleted(
    ctx: lifecycle.Context, repo_root: Path, base_commit: str, head_commit: str, name: str
) -> str:
    """Destroy an environment whose file was deleted: render it from the base
    revision (where its file exists) into the work directory, then destroy."""
    lease = ctx.store.get(name)
    if lease is None or lease.status == DESTROYED:
        ctx.say(f"==> {name}: environment file deleted; not deployed, nothing to destroy")
        return results.NOTHING
    with git.checkout(repo_root, base_commit, "destroy") as base_checkout:
        source = Project(root=base_checkout.root, home=ctx.project.home)
        env = config.load_environment(source, name)
        declared = set(stackvars.stack_variables(source, env.stack))
        render(env, source, declared)
        leftovers = lifecycle.destroy(
            ctx, name, reason=f"environment file deleted in {head_commit[:12]} (ci-apply)"
        )
    if leftovers:
        raise EphemeraError(f"{name}: destroy left resources behind: {', '.join(leftovers)}")
    return results.DESTROYED


def saved_plan_mismatch(
    project: Project, name: str, fingerprint: str, plan: saved.SavedPlan | None
) -> str:
    """Why `plan` may not be applied to `name` now ("" when it may)."""
    if plan is None:
        return "no saved plan"
    env = config.load_environment(project, name)
    return plan.mismatch(fingerprint, saved.state_version(env), str(project.root))


def _apply_saved(
    ctx: lifecycle.Context, name: str, fingerprint: str, saved_dir: Path | None, key: bytes
) -> tuple[str, str]:
    plan = saved.read(saved_dir, name, key)
    reason = saved_plan_mismatch(ctx.project, name, fingerprint, plan)
    if reason:
        raise EphemeraError(
            f"{name}: not applied: {reason}; the plan that was approved no longer holds "
            "(re-run the apply workflow: it re-plans and asks for approval)"
        )
    assert plan is not None
    ctx.say(f"==> {name}: applying the saved plan of {plan.commit[:12]} ({plan.state})")
    deployed = lifecycle.deploy(ctx, name, saved_plan=plan.plan)
    return (results.APPLIED if deployed.applied else results.NOTHING), deployed.plan.counts_text()


def _one(
    ctx: lifecycle.Context,
    comparison: changes.Comparison,
    change: Change,
    repo_root: Path,
    saved_dir: Path | None,
    environ: Mapping[str, str],
) -> ApplyResult:
    base, head = comparison.base.commit, comparison.head.commit
    reason = targets.not_applied(change)
    if reason:
        ctx.say(f"==> {change.env}: skipped: {reason}")
        return ApplyResult(change.env, change.action, results.SKIPPED, reason)
    counts = ""
    if change.problems:
        raise EphemeraError("\n".join(change.problems))
    if change.action == DESTROY:
        outcome = _destroy_deleted(ctx, repo_root, base, head, change.env)
    else:
        fingerprint = comparison.head.fingerprints[change.env].digest
        key = saved.require_key(environ)
        outcome, counts = _apply_saved(ctx, change.env, fingerprint, saved_dir, key)
    return ApplyResult(change.env, change.action, outcome, counts=counts)


def ci_apply(
    repo_root: Path,
    base: str,
    head: str = "HEAD",
    *,
    env: str | None = None,
    saved_dir: Path | None = None,
    results_dir: Path | None = None,
    echo: Echo = echo_stdout,
    clock: Clock = system_clock,
    store: LeaseStore | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Apply the environments changed between `base` and `head` (compared directly,
    not through the merge base) from their saved plans in `saved_dir`, and destroy the
    deleted ones; `env` limits this to one environment (one job of the apply matrix).
    Each result goes to `results_dir` and the job summary. Returns 1 if any failed."""
    repo_root = Path(repo_root).resolve()
    base_commit, head_commit = git.compare_range(repo_root, base, head, use_merge_base=False)
    git.require_checked_out(repo_root, head)
    comparison = changes.compare_revisions(repo_root, base_commit, head_commit)
    affected = [c for c in comparison.changes if not env or c.env == env]
    if env and not affected:
        echo(f"{env}: not affected between {base_commit[:12]} and {head_commit[:12]}\n")
        return 0
    project = Project.discover(root=repo_root)
    ctx = lifecycle.Context(
        project=project, store=store or session.open_store(project), clock=clock, echo=echo
    )
    done: list[ApplyResult] = []
    for change in affected:
        ctx.say(f"==> {change.env}: {change.action} ({change.reason})")
        try:
            result = _one(ctx, comparison, change, repo_root, saved_dir, environ)
        except EphemeraError as exc:
            ctx.say(f"==> {change.env}: {change.action} failed\n{exc.message}")
            result = ApplyResult(
                change.env, change.action, results.FAILED, exc.message.splitlines()[0]
            )
        done.append(_finished(result, head_commit, results_dir, environ))
    actions.add_summary(results.summary(done), environ)
    failed = [r.env for r in done if r.failed]
    if failed:
        ctx.say(f"ci-apply: failed: {', '.join(failed)}")
        return 1
    ctx.say(f"ci-apply: {len(done)} environment(s) done")
    return 0


def _finished(
    result: ApplyResult, commit: str, results_dir: Path | None, environ: Mapping[str, str]
) -> ApplyResult:
    stamped = results.stamped(result, commit, actions.run_url(environ))
    if results_dir is not None:
        results.write(results_dir, stamped)
    return stamped


def apply_command(
    base: str, head: str = "HEAD", env: str = "", saved_dir: str = "", results_dir: str = ""
) -> int:
    """`invoke ci-apply`."""
    if not base:
        raise UsageError("ci-apply: missing --base REV (the revision before the push)")
    clock = session.cli_clock()  # EPHEMERA_NOW, as the other commands
    return ci_apply(
        Project.discover().root,
        base,
        head,
        env=env or None,
        saved_dir=Path(saved_dir) if saved_dir else None,
        results_dir=Path(results_dir) if results_dir else None,
        clock=clock,
    )
