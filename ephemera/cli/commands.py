"""What each environment task does, with its printing (the project's own checks and
builds are in `tools`).

Each runs inside `ephemera.cli.handler.run` (called by the tasks), which maps errors to
exit codes; the project, store and clock come from `ephemera.session`; printing goes
through `output` (people, `--json`) and `tables`.

Imports that only some commands need (the janitor, the tables, status) are made inside
those commands, so a command loads what it runs and no more (`python -X importtime`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ephemera import config, lifecycle, session
from ephemera.cli.output import approved, ask, console, iso, print_json, when
from ephemera.durations import parse_duration
from ephemera.errors import EXIT_FAILED, EXIT_INVALID, EphemeraError, UsageError, ValidationError
from ephemera.leases import ACTIVE, DESTROYED
from ephemera.project import Project
from ephemera.runs import current_actor, run_json
from ephemera.session import context

if TYPE_CHECKING:
    from ephemera.environment import Environment
    from ephemera.gate import GateResult
    from ephemera.lifecycle import PlanSummary


def require_env(env: str) -> str:
    if not env:
        raise UsageError("missing the environment (environments are listed by 'ephemera status')")
    return env


# ------------------------------------------------------------------ validate, plan, deploy


def validate(env: str = "", as_json: bool = False) -> int:
    """Everything plan and deploy check before rendering: passing means it will deploy.
    With `as_json`, the verdict as JSON on stdout, problems included (exit 2 if any)."""
    project = Project.discover()
    store = lambda: session.open_store(project)  # noqa: E731 - opened only if a port is checked
    try:
        if env:
            found = [config.load_environment(project, env, deployable=True, store=store)]
        else:
            found = config.validate_environments(project, deployable=True, store=store)
    except UsageError as exc:
        if not as_json:
            raise
        problems = exc.problems if isinstance(exc, ValidationError) else []
        print_json(_verdict([], [asdict(p) for p in problems], None if problems else exc.message))
        return EXIT_INVALID
    environments = [e.name for e in found]
    if as_json:
        print_json(_verdict(environments, [], None))
    else:
        print(f"ok: {len(environments)} environment(s) valid: {', '.join(environments) or '-'}")
    return 0


def _verdict(environments: list[str], problems: list[dict], error: str | None) -> dict:
    valid = not problems and error is None
    return {"valid": valid, "environments": environments, "problems": problems, "error": error}


def plan(env: str, detailed_exitcode: bool = False) -> int:
    """With `detailed_exitcode`, Terraform's codes: 0 nothing would change, 2 something
    would, 1 any error (bad input too, which is otherwise 2)."""
    try:
        summary, _ = lifecycle.plan(context(), require_env(env))
    except EphemeraError as exc:
        if detailed_exitcode:
            exc.exit_code = EXIT_FAILED
        raise
    return EXIT_INVALID if detailed_exitcode and summary.has_changes else 0


def deploy(env: str, yes: bool = False) -> None:
    ctx = context()
    result = lifecycle.deploy(ctx, require_env(env), confirm=_confirmation(yes))
    lease = result.lease
    url = lease.outputs.get("url")
    print(f"\n{lease.env} is active.")
    if url:
        print(f"  url:      {url}")
    print(f"  expires:  {when(lease.expires_at, ctx.clock())}")
    print(f"  extend:   ephemera extend-ttl {lease.env} 4h")


def _confirmation(yes: bool):  # noqa: ANN202 - lifecycle.Confirm
    """What a deploy asks before applying to a target that costs money: the plan's
    changes and cost were printed; the answer is the environment's name."""

    def confirm(env: Environment, summary: PlanSummary, gate: GateResult) -> None:
        if env.target == "local" or approved(yes):
            return
        from ephemera.gate.cost import format_estimate

        cost = format_estimate(gate.estimate, env.ttl_text) if gate.estimate else "not estimated"
        console().print(f"\n{env.name} (target {env.target}): {summary.counts_text()}; cost {cost}")
        ask(env.name, yes, "apply", f"Apply this plan to {env.name}? Type its name")

    return confirm


def new(settings: tuple[Any, ...], yes: bool = False, then_deploy: bool = False) -> None:
    """`ephemera new` (ephemera.cli.new: `settings` are its flags), then the deploy it
    was asked for (which, with `yes`, does not ask again)."""
    from ephemera.cli.new import new as write_new

    name = write_new(*settings, yes=yes, then_deploy=then_deploy)
    if name:
        deploy(name, yes=yes)


def destroy(env: str, yes: bool = False) -> None:
    ctx = context()
    require_env(env)
    lease = ctx.store.get(env)
    if not ctx.project.environment_file(env).exists() and lease is None:
        config.load_environment(ctx.project, env)  # the unknown-env error, with suggestions
    if lifecycle.never_deployed(ctx, env, lease):
        print(f"{env}: not deployed (no lease, nothing in its state): nothing to destroy")
        return
    ask(env, yes, "destroy", f"Destroy '{env}' and everything in its state? Type its name")
    leftovers = lifecycle.destroy(ctx, env)
    if leftovers:
        raise EphemeraError(f"{env}: destroy left resources behind: {', '.join(leftovers)}")


# ------------------------------------------------------------------ what is there


def status(as_json: bool = False, every: bool = False, utc: bool = False, timeout: int = 0) -> None:
    from ephemera.cli import tables
    from ephemera.status import status_rows

    deadline = session.health_deadline(timeout)
    ctx = context()
    now = ctx.clock()
    found = status_rows(ctx.project, ctx.store, now, deadline=deadline)
    rows = [r for r in found if every or r.status != DESTROYED]
    if as_json:
        print_json({"generated_at": now, "environments": [r.to_json(now) for r in rows]})
    else:
        tables.print_status(rows, now, utc=utc)


def outputs(env: str, as_json: bool = False) -> None:
    ctx = context()
    lease = ctx.store.get(require_env(env))
    if lease is None or lease.status == DESTROYED:
        config.load_environment(ctx.project, env)
        raise UsageError(f"{env}: not deployed (no lease); run 'ephemera deploy {env}'")
    if as_json:
        print_json({"env": env, "outputs": lease.outputs})
    else:
        for key, value in sorted(lease.outputs.items()):
            print(f"{key} = {json.dumps(value)}")


def history(env: str, as_json: bool = False, utc: bool = False) -> None:
    from ephemera.cli import tables

    ctx = context()
    runs = ctx.store.runs(require_env(env))
    if not as_json:
        tables.print_history(env, runs, ctx.clock(), utc=utc)
        return
    print_json({"env": env, "runs": [run_json(run) for run in runs]})


def unlock(env: str, yes: bool = False) -> None:
    """The operation lock first (it is Ephemera's), then Terraform's state lock."""
    from ephemera.leases.oplock import is_live

    ctx = context()
    held = ctx.store.get_lock(require_env(env))
    if held is None:
        print(f"{env}: no operation holds it")
    else:
        live = "" if is_live(held, ctx.clock()) else " (stale: its run is gone)"
        print(f"{env}: operation lock held by {held.holder.describe()}{live}")
        ask(
            env,
            yes,
            "clear the operation lock",
            "Clear it? Only if that run is dead. Type its name",
        )
        ctx.store.delete_lock(held)
        print(f"{env}: operation lock cleared")
    lock = lifecycle.find_lock(ctx, env)
    if lock is None:
        print(f"{env}: the state is not locked")
        return
    print(
        f"{env}: locked by {lock.get('Who', '?')} ({lock.get('Operation', '?')} since "
        f"{lock.get('Created', '?')}, id {lock.get('ID', '?')})"
    )
    ask(env, yes, "force-unlock", "Release this lock? Only if that run is dead. Type its name")
    lifecycle.force_unlock(ctx, env, lock["ID"])


def drift(env: str = "", target: str = "", as_json: bool = False) -> int:
    """Drift of every active environment (or `env`): 0 none, 2 drifted, 1 an error."""
    from ephemera.cli import tables

    ctx = context(progress_to_stderr=as_json)
    if target and target not in ("local", "aws"):
        raise UsageError(f"--target: expected local or aws, got {target!r}")
    leases = [ctx.store.get(env)] if env else ctx.store.list()
    if env and leases[0] is None:
        config.load_environment(ctx.project, env)
        raise UsageError(f"{env}: not deployed (no lease); nothing to compare")
    chosen = [
        lease
        for lease in leases
        if lease is not None
        and (env or lease.status == ACTIVE)
        and (not target or lease.target == target)
    ]
    reports = [lifecycle.drift(ctx, lease.env, lease.outputs) for lease in chosen]
    if as_json:
        print_json({"environments": [r.to_json() for r in reports]})
    else:
        tables.print_drift(reports)
    if any(r.error for r in reports):
        return EXIT_FAILED
    return EXIT_INVALID if any(r.drifted for r in reports) else 0


def reconcile(dry_run: bool = False, as_json: bool = False) -> None:
    """Resolve what environment files, leases and states disagree on."""
    from ephemera.cli import tables

    ctx = context(progress_to_stderr=as_json)
    findings = lifecycle.reconcile(ctx, dry_run=dry_run)
    if as_json:
        print_json({"dry_run": dry_run, "findings": [f.to_json() for f in findings]})
    else:
        tables.print_findings(findings, dry_run)


# ------------------------------------------------------------------ the lease


def extension(text: str) -> timedelta:
    """`30m`, `4h`, `2d` as in the YAML; a bare whole number is hours (make's HOURS=4)."""
    shown = text.strip()
    if shown.isascii() and shown.isdigit():
        shown += "h"
    try:
        duration = parse_duration(shown)
    except ValueError:
        raise UsageError(
            f"extend-ttl: duration: {text!r} is not a positive duration like 30m, 4h or 2d "
            "(a bare number is hours)"
        ) from None
    return duration


def extend_ttl(env: str, duration: str, reason: str = "") -> None:
    from ephemera.janitor.extend import extend_by

    ctx = context()
    environment = config.load_environment(ctx.project, require_env(env))
    now = ctx.clock()
    lease = extend_by(
        ctx.store,
        env,
        extension(duration),
        now=now,
        max_ttl=environment.max_ttl,
        actor=current_actor(),
        reason=reason,
    )
    print(f"{env}: expires {when(lease.expires_at, now)} ({iso(lease.expires_at)})")


def ttl_sweep(dry_run: bool = False, max_destroys: int = -1, as_json: bool = False) -> None:
    """The local janitor: destroy what expired (in-process), warn what is about to."""
    from ephemera.config import horizon
    from ephemera.janitor.dispatch import LocalDispatcher
    from ephemera.janitor.notify import RoutingNotifier
    from ephemera.janitor.summary import format_summary
    from ephemera.janitor.sweep import SweepSettings, sweep
    from ephemera.lifecycle import states

    if max_destroys < -1:
        raise UsageError(f"ttl: --max-destroys: -1 (no cap) or a cap ≥ 0, got {max_destroys}")
    ctx = context(progress_to_stderr=as_json)
    project = ctx.project
    summary = sweep(
        ctx.store,
        now=ctx.clock(),
        dispatcher=LocalDispatcher(
            lambda name: lifecycle.destroy(ctx, name, reason="expired: ttl ran out", janitor=True)
        ),
        notifier=RoutingNotifier(lambda name: session.notifier(project, name)),
        settings=SweepSettings(
            ladders=lambda name: config.load_environment(project, name).warnings,
            warning_horizon=horizon.warning_horizon(project),
            resource_count=lambda lease: states.local_count(project, lease.env),
            env_exists=set(project.known_environments()).__contains__,
            dry_run=dry_run,
            max_destroys=None if max_destroys == -1 else max_destroys,
        ),
    )
    if as_json:
        print_json(summary.to_dict())
    else:
        sys.stdout.write(format_summary(summary) + "\n")
    if not summary.ok:
        raise EphemeraError(
            "ttl sweep: some environments failed (see above)", exit_code=EXIT_FAILED
        )
