"""User-facing commands: what each Invoke task does, with its printing.

Each runs inside `ephemera.cli.handler.run` (called by tasks.py), which maps errors
to exit codes; the project, store and clock come from `ephemera.session`.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from typing import Any

from ephemera import config, lifecycle, session
from ephemera.cli.tables import format_drift, format_findings
from ephemera.config import schemafiles
from ephemera.durations import format_remaining
from ephemera.errors import EXIT_FAILED, EXIT_INVALID, EphemeraError, UsageError
from ephemera.janitor.dispatch import LocalDispatcher
from ephemera.janitor.extend import extend
from ephemera.janitor.ladder import DEFAULT_LADDER, parse_ladder
from ephemera.janitor.notify import RoutingNotifier
from ephemera.janitor.summary import format_summary
from ephemera.janitor.sweep import SweepSettings, sweep
from ephemera.leases import ACTIVE
from ephemera.leases.oplock import is_live
from ephemera.lifecycle import states
from ephemera.project import Project
from ephemera.runs import current_actor
from ephemera.session import context
from ephemera.status import format_table, status_rows


def require_env(env: str) -> str:
    if not env:
        raise UsageError("missing --env NAME (environments are listed by 'invoke status')")
    return env


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


# ------------------------------------------------------------------ commands


def validate(env: str = "") -> None:
    """Everything plan and deploy check before rendering: passing means it will deploy."""
    project = Project.discover()
    store = lambda: session.open_store(project)  # noqa: E731 - opened only if a port is checked
    if env:
        environments = [config.load_environment(project, env, deployable=True, store=store).name]
    else:
        found = config.validate_environments(project, deployable=True, store=store)
        environments = [e.name for e in found]
    print(f"ok: {len(environments)} environment(s) valid: {', '.join(environments) or '-'}")


def write_schemas() -> None:
    project = Project.discover()
    for path in schemafiles.write_stack_schemas(project):
        print(f"wrote {project.relative(path)}")


def provider_schema() -> None:
    from ephemera.terraform import providerschema

    project = Project.discover()
    path = providerschema.regenerate(project.root)
    schema = providerschema.load(path)
    print(
        f"wrote {project.relative(path)}: {schema.label} from {schema.provenance['package']} "
        f"{schema.provenance['version']} (sha256 {schema.provenance['tarball_sha256']})"
    )


def tf_validate(path: str = "") -> None:
    """Every .tf file under terraform/ (or `path`) against the provider schema."""
    from ephemera.errors import ValidationError
    from ephemera.terraform import providerschema, tfvalidate

    project = Project.discover()
    target = (project.root / (path or "terraform")).resolve()
    if not target.is_relative_to(project.root) or not target.is_dir():
        raise UsageError(f"tf-validate: --path {path}: not a directory of this project")
    schema = providerschema.load(project.root / providerschema.SCHEMA_FILE)
    report = tfvalidate.validate(target, schema, project.root)
    if report.problems:
        raise ValidationError(report.problems)
    counts = ", ".join(f"{what}: {n}" for what, n in report.checked.items())
    print(f"ok: {project.relative(target)} matches {schema.label} ({counts})")


def plan(env: str) -> None:
    lifecycle.plan(context(), require_env(env))


def deploy(env: str) -> None:
    ctx = context()
    result = lifecycle.deploy(ctx, require_env(env))
    lease = result.lease
    url = lease.outputs.get("url")
    expires = lease.expires_at
    assert expires is not None
    print(f"\n{lease.env} is active.")
    if url:
        print(f"  url:      {url}")
    remaining = format_remaining(expires - ctx.clock())
    print(f"  expires:  {expires.isoformat(timespec='minutes')} (in {remaining})")
    print(f"  extend:   make extend-ttl ENV={lease.env} HOURS=4")


def ask(env: str, yes: bool, action: str, question: str) -> None:
    """Confirmation by typing the env name; refused outright with no terminal to ask."""
    if yes or os.environ.get("AUTO_APPROVE") in ("1", "true", "yes"):
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{env}: refusing to {action} without confirmation: no terminal to ask; "
            "pass --yes (make: AUTO_APPROVE=1)"
        )
    if input(f"{question}: ").strip() != env:
        raise UsageError(f"{env}: not confirmed; nothing done")


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


def status(as_json: bool = False) -> None:
    ctx = context()
    rows = status_rows(ctx.project, ctx.store, ctx.clock())
    if as_json:
        print_json([row.to_json() for row in rows])
    else:
        print(format_table(rows))


def outputs(env: str, as_json: bool = True) -> None:
    ctx = context()
    require_env(env)
    lease = ctx.store.get(env)
    if lease is None:
        config.load_environment(ctx.project, env)
        raise UsageError(f"{env}: not deployed (no lease); run 'make deploy ENV={env}'")
    if as_json:
        print_json(lease.outputs)
    else:
        for key, value in sorted(lease.outputs.items()):
            print(f"{key} = {json.dumps(value)}")


def history(env: str, as_json: bool = False) -> None:
    ctx = context()
    runs = ctx.store.runs(require_env(env))
    if as_json:
        print_json([run.__dict__ for run in runs])
        return
    if not runs:
        print(f"{env}: no runs recorded")
    for run in runs:
        counts = f"+{run.added} ~{run.changed} -{run.destroyed}"
        detail = f"  {run.detail}" if run.detail else ""
        started = run.started_at.isoformat(timespec="seconds")
        print(f"{started}  {run.op:<8} {run.result:<11} {counts:<10} {run.actor}  {run.id}{detail}")


def unlock(env: str, yes: bool = False) -> None:
    """The operation lock first (it is Ephemera's), then Terraform's state lock."""
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
            "Clear it? Only if that run is dead. Type the env name",
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
    ask(env, yes, "force-unlock", "Release this lock? Only if that run is dead. Type the env name")
    lifecycle.force_unlock(ctx, env, lock["ID"])


def drift(env: str = "", target: str = "", as_json: bool = False) -> int:
    """Drift of every active environment (or `env`): 0 none, 2 drifted, 1 an error."""
    ctx = context(progress_to_stderr=as_json)
    if target and target not in ("local", "aws"):
        raise UsageError(f"--target: expected local or aws, got {target!r}")
    leases = [ctx.store.get(require_env(env))] if env else ctx.store.list()
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
        print_json({"format_version": 1, "environments": [r.to_json() for r in reports]})
    else:
        print(format_drift(reports))
    if any(r.error for r in reports):
        return EXIT_FAILED
    return EXIT_INVALID if any(r.drifted for r in reports) else 0


def reconcile(dry_run: bool = False, as_json: bool = False) -> None:
    """Resolve what environment files, leases and states disagree on."""
    ctx = context(progress_to_stderr=as_json)
    findings = lifecycle.reconcile(ctx, dry_run=dry_run)
    if as_json:
        print_json(
            {
                "format_version": 1,
                "dry_run": dry_run,
                "findings": [f.to_json() for f in findings],
            }
        )
        return
    print(format_findings(findings, dry_run))


def extend_ttl(env: str, hours_text: str, reason: str = "") -> None:
    ctx = context()
    environment = config.load_environment(ctx.project, require_env(env))
    hours = parse_count("--hours", hours_text) or 0
    if hours <= 0:
        raise UsageError(f"{env}: --hours must be a positive whole number, got {hours_text!r}")
    if hours > environment.max_ttl.total_seconds() / 3600:
        raise UsageError(f"{env}: --hours {hours} is longer than max_ttl; nothing changed")
    now = ctx.clock()
    lease = extend(
        ctx.store,
        env,
        hours,
        now=now,
        max_ttl=environment.max_ttl,
        actor=current_actor(),
        reason=reason,
    )
    assert lease.expires_at is not None
    remaining = format_remaining(lease.expires_at - now)
    print(f"{env}: expires {lease.expires_at.isoformat(timespec='minutes')} (in {remaining})")


def ttl_sweep(dry_run: bool = False, max_destroys_text: str = "", as_json: bool = False) -> None:
    """The local janitor: destroy what expired (in-process), warn what is about to."""
    max_destroys = parse_count("--max-destroys", max_destroys_text)
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
            warning_horizon=_warning_horizon(project),
            resource_count=lambda lease: states.local_count(project, lease.env),
            env_exists=lambda name: project.environment_file(name).exists(),
            dry_run=dry_run,
            max_destroys=max_destroys,
        ),
    )
    print(summary.to_json() if as_json else format_summary(summary))
    if not summary.ok:
        raise EphemeraError(
            "ttl sweep: some environments failed (see above)", exit_code=EXIT_FAILED
        )


def _warning_horizon(project: Project) -> timedelta:
    """The longest warning rung of any environment (or the default ladder)."""
    longest = max(DEFAULT_LADDER)
    for name in project.known_environments():
        try:
            ladder = parse_ladder(config.load_environment(project, name).warnings)
        except EphemeraError:
            continue
        longest = max(longest, *ladder)
    return longest


def parse_count(option: str, text: str, *, allow_empty: bool = True) -> int | None:
    """A whole number ≥ 0 from a CLI option; empty means 'not given'."""
    if not text.strip() and allow_empty:
        return None
    if not (text.strip().isascii() and text.strip().isdigit()):
        raise UsageError(f"{option}: expected a whole number ≥ 0, got {text!r}")
    return int(text)


def lambda_package() -> None:
    from ephemera.janitor.package import build_package

    project = Project.discover()
    print(f"wrote {project.relative(build_package(project.root))}")


def bootstrap(region: str, repo: str, state_bucket: str = "", yes: bool = False) -> None:
    """Create or update the AWS control plane (terraform/bootstrap), then print what
    environments/_defaults.yaml and the GitHub repository need."""
    import boto3

    from ephemera.lifecycle import bootstrap as control_plane
    from ephemera.terraform.runner import echo_stdout

    request = control_plane.Request(region, repo, state_bucket or None)
    control_plane.check_request(request)
    project = Project.discover()

    def confirm(account: str) -> None:
        ask(
            repo,
            yes,
            "apply the bootstrap",
            f"Apply this plan to AWS account {account}? Type {repo}",
        )

    outputs = control_plane.bootstrap(
        project, request, boto3.Session(region_name=region), confirm, echo_stdout
    )
    print("\nThe control plane is up. environments/_defaults.yaml:")
    print("aws:")
    for key, output in _DEFAULTS_FROM_BOOTSTRAP:
        print(f"  {key}: {json.dumps(outputs.get(output))}")
    print("GitHub repository variables:")
    for name, output in (
        ("EPHEMERA_PLAN_ROLE_ARN", "plan_role_arn"),
        ("EPHEMERA_APPLY_ROLE_ARN", "apply_role_arn"),
        ("AWS_REGION", "region"),
    ):
        print(f"  {name} = {outputs.get(output)}")


_DEFAULTS_FROM_BOOTSTRAP = (
    ("state_bucket", "state_bucket"),
    ("lease_table", "lease_table"),
    ("region", "region"),
    ("notify_topic_arn", "notify_topic_arn"),
    ("account_id", "account_id"),
    ("permissions_boundary_arn", "stack_permissions_boundary_arn"),
)


def policy_scan(path: str = "") -> None:
    from ephemera.gate.policy import format_result
    from ephemera.gate.static import scan_static

    project = Project.discover()
    result = scan_static(project, project.root / path if path else None)
    print(format_result(result))
    if not result.ok:
        raise EphemeraError(f"policy-scan: {len(result.failed)} check(s) failed")


def ci_plan(base: str, head: str, jobs_text: str, output: str) -> int:
    from ephemera import ci

    jobs = parse_count("--jobs", jobs_text, allow_empty=False) or 1
    return ci.plan_command(base, head, jobs, output)


def ci_apply(base: str, head: str, env: str, saved: str, results: str) -> int:
    from ephemera import ci

    return ci.apply_command(base, head, env, saved, results)


def ci_merge(base: str, head: str, saved: str, replan: str, results: str) -> int:
    from ephemera import ci

    return ci.merge_command(base, head, saved, replan, results)


def ci_publish(
    pr: str, comment: str, labels: str, section: str, results: str, find_plan: str
) -> int:
    from ephemera.ci.publish import publish_command

    return publish_command(pr, comment, labels, section, results, find_plan)


def ci_command(accept: bool, run: bool) -> int:
    from ephemera.ci.respond import command_entry

    if accept == run:
        raise UsageError("ci-command: one of --accept or --run")
    return command_entry("accept" if accept else "run")
