"""CI: plan the environments a change affects, comment on the pull request, apply on merge.

`ci_plan(repo_root, base, head, jobs, output)`:

    affected_environments(base, head)          (ephemera.changes)
      → per environment, in parallel (`jobs` threads):
          validate → render → init → plan → terraform show
          (init holds a lock per stack, and the first init of each stack in a run
          also holds a global lock, so no two inits fill the shared plugin cache
          at once)
      → policy gate: ONE batched checkov run over every plan (policy.check_plans)
      → cost over the TTL (cost.estimate)
      → plan-comment.md (ephemera.report) and `.ephemera/ci/`:
          <env>.plan.txt (terraform show), <env>.log (init + plan output),
          <env>.json (summary), results.json (all summaries). Never plan.bin
          nor the plan JSON (it can hold sensitive values): the workflow uploads
          this directory as an artifact.

Each environment's output is captured and printed as one block when its plan
finishes (a `::group::` block under GitHub Actions), so parallel plans never
interleave. The exit code is 1 when any environment is invalid, failed to plan,
or failed the policy gate; 0 otherwise.

`ci_apply(repo_root, base, head)`: applies the affected environments through
`lifecycle.deploy` (which runs the policy and budget gate before any apply),
and destroys the environments whose file was deleted (rendered from the base revision, where the
file still exists). Both refuse (UsageError) when base..head cannot be computed.

Both plan and apply the checked-out tree, so `head` must be the commit checked
out in `repo_root`.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import IO, Any

from ephemera import changes, commands, config, lifecycle, policy, report, stackvars
from ephemera.changes import DESTROY, Change
from ephemera.codeskips import snapshot_skips
from ephemera.durations import Clock, system_clock
from ephemera.errors import EphemeraError, UsageError
from ephemera.leases import DESTROYED, LeaseStore
from ephemera.model import Environment
from ephemera.project import Project
from ephemera.render import Rendered, render
from ephemera.terraform import Echo, cli_config, echo_stdout

COMMENT_FILE = "plan-comment.md"
ARTIFACT = "ephemera-plans"
RESULTS_FILE = "results.json"
DEFAULT_JOBS = 4

Emit = Callable[[str], None]


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------- init locks


class InitLocks:
    """`terraform init` serialized per stack, without racing on the plugin cache.

    Inits of the same stack take turns (a lock per stack name). The first init
    of each stack in this run fills the shared plugin cache, so it also holds
    one global lock: two stacks never download into the cache at the same time.
    Once a stack has been initialised, its later inits only link from the
    cache and run beside other stacks' inits.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._stacks: dict[str, threading.Lock] = {}
        self._cold = threading.Lock()
        self._warm: set[str] = set()

    @contextmanager
    def hold(self, stack: str) -> Iterator[None]:
        with self._guard:
            lock = self._stacks.setdefault(stack, threading.Lock())
        with lock:
            if stack in self._warm:
                yield
                return
            with self._cold:
                yield
                self._warm.add(stack)


# ------------------------------------------------------------------------ results


@dataclass
class Outcome:
    """What happened to one affected environment in ci-plan."""

    change: Change
    env: Environment | None = None
    summary: lifecycle.PlanSummary | None = None
    plan_text: str = ""
    output: list[str] = field(default_factory=list)
    problems: tuple[str, ...] = ()
    error: str = ""
    policy: policy.PolicyResult | None = None
    policy_error: str = ""
    cost_total: float | None = None
    cost_per_hour: float | None = None
    cost_text: str = ""
    cost_cell: str = ""
    budget_error: str = ""

    @property
    def name(self) -> str:
        return self.change.env

    @property
    def failed(self) -> bool:
        return bool(
            self.problems
            or self.error
            or self.policy_error
            or self.budget_error
            or (self.policy is not None and not self.policy.ok)
        )

    def policy_status(self) -> tuple[str, str]:
        if self.policy_error:
            return "error", self.policy_error.splitlines()[0][:120]
        if self.policy is None:
            return "", ""
        if self.policy.ok:
            skipped = sorted({finding.check_id for finding, _ in self.policy.skipped})
            return "passed", (f"skipped {', '.join(skipped)}" if skipped else "")
        return "failed", ", ".join(sorted({f.check_id for f in self.policy.failed}))

    def to_json(self) -> dict[str, Any]:
        status, detail = self.policy_status()
        data: dict[str, Any] = {
            **self.change.to_json(),
            "problems": list(self.problems),
            "error": self.error,
            "failed": self.failed,
            "policy": {"status": status, "detail": detail},
        }
        if self.summary is not None:
            data.update(
                added=self.summary.added,
                changed=self.summary.changed,
                destroyed=self.summary.destroyed,
            )
        if self.policy is not None:
            data["policy"].update(
                failed=[f.__dict__ for f in self.policy.failed],
                skipped=[{**f.__dict__, "reason": r} for f, r in self.policy.skipped],
                passed=len(self.policy.passed),
            )
        if self.env is not None:
            data["ttl"] = self.env.ttl_text
        if self.cost_total is not None:
            data["cost"] = {
                "total_usd": self.cost_total,
                "per_hour_usd": self.cost_per_hour,
                "over_budget": self.budget_error,
            }
        return data


# --------------------------------------------------------------------------- plan


def require_checked_out(repo_root: Path, head: str) -> str:
    """The commit of `head`; UsageError unless it is the commit checked out in repo_root."""
    head_commit = changes.resolve_commit(repo_root, head)
    current = changes.resolve_commit(repo_root, "HEAD")
    if head_commit != current:
        raise UsageError(
            f"{head}: CI plans and applies the checked-out tree, but {repo_root} has "
            f"{current[:12]} checked out, not {head_commit[:12]}; check out {head} first"
        )
    return head_commit


def show_plan(ctx: lifecycle.Context, rendered: Rendered) -> str:
    """The saved plan as text (`terraform show`): sensitive values redacted."""
    return (
        lifecycle.terraform_for(ctx, rendered.env)
        .run(
            ["show", "-no-color", str(rendered.work_dir / lifecycle.PLAN_FILE)],
            cwd=rendered.root_dir,
            quiet=True,
            where=f"{rendered.env}: show",
        )
        .stdout
    )


def _plan_one(
    project: Project, store: LeaseStore, change: Change, locks: InitLocks, ci_dir: Path
) -> Outcome:
    outcome = Outcome(change=change)
    echo: Echo = outcome.output.append
    ctx = lifecycle.Context(project=project, store=store, echo=echo)
    if change.problems:
        outcome.problems = change.problems
        echo(f"==> {change.env}: invalid\n" + "\n".join(change.problems) + "\n")
        return outcome
    try:
        with (ci_dir / f"{change.env}.log").open("w", encoding="utf-8") as log:
            env, rendered = lifecycle.prepare(ctx, change.env)
            outcome.env = env
            with locks.hold(env.stack):
                lifecycle.init(ctx, rendered, log)
            outcome.summary = lifecycle.make_plan(ctx, rendered, log)
            outcome.plan_text = show_plan(ctx, rendered)
            (ci_dir / f"{change.env}.plan.txt").write_text(outcome.plan_text, encoding="utf-8")
    except EphemeraError as exc:
        problems = getattr(exc, "problems", None)
        if problems is not None:
            outcome.problems = tuple(str(p) for p in problems)
        else:
            outcome.error = exc.message
        echo(f"==> {change.env}: failed\n{exc.message}\n")
    except Exception as exc:  # noqa: BLE001 - one environment's crash must not hide the others
        outcome.error = f"{change.env}: unexpected error: {exc!r}"
        echo(outcome.error + "\n")
    return outcome


def _group(title: str, lines: list[str], emit: Emit) -> None:
    """One environment's output as one block: never interleaved with another's."""
    text = "".join(lines)
    if text and not text.endswith("\n"):
        text += "\n"
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # Output from environment files and Terraform never runs workflow commands.
        token = secrets.token_hex(16)
        emit(f"::group::{title}\n::stop-commands::{token}\n{text}::{token}::\n::endgroup::")
    else:
        emit(f"----- {title}\n{text}-----")


def _gate(project: Project, outcomes: list[Outcome]) -> None:
    """The policy gate over every plan at once (one checkov process for the batch)."""
    planned = [o for o in outcomes if o.summary is not None and o.env is not None]
    if not planned:
        return
    plans = {o.name: o.summary.plan_json for o in planned if o.summary is not None}
    skips = {o.name: o.env.policy_skips for o in planned if o.env is not None}
    try:
        code_skips = {o.name: snapshot_skips(project, o.env) for o in planned if o.env}
        results = policy.check_plans(project, plans, skips, code_skips)
    except EphemeraError as exc:
        for outcome in planned:
            outcome.policy_error = exc.message
        return
    for outcome in planned:
        outcome.policy = results.get(outcome.name)
        if outcome.policy is None:
            outcome.policy_error = f"{outcome.name}: policy: no result"


def _costs(outcomes: list[Outcome]) -> None:
    """The cost over the TTL of each planned environment, and its budget check."""
    from ephemera import cost, gate

    for outcome in outcomes:
        if outcome.summary is None or outcome.env is None:
            continue
        env = outcome.env
        try:
            plan = json.loads(outcome.summary.plan_json.read_text(encoding="utf-8"))
            estimate, over = gate.estimate_cost(env, plan)
        except (EphemeraError, OSError, ValueError, KeyError, TypeError) as exc:
            message = exc.message if isinstance(exc, EphemeraError) else str(exc)
            outcome.cost_text = f"{env.name}: cost not estimated: {message}"
            outcome.cost_cell = "not estimated"
            continue
        outcome.cost_total = float(estimate.total_usd)
        outcome.cost_per_hour = float(estimate.per_hour_usd)
        outcome.cost_text = f"{env.name}: cost {cost.format_estimate(estimate, env.ttl_text)}"
        outcome.cost_cell = f"{cost.money(estimate.total_usd)} over {env.ttl_text}"
        if estimate.unpriced:
            outcome.cost_cell += f" (+{len(estimate.unpriced)} unpriced)"
        if over:
            outcome.budget_error = over
            outcome.cost_cell += f" ❌ over the ${env.budget:,.2f} budget"
            outcome.cost_text += "\n" + over


def _expiry(env: Environment | None, clock: Clock) -> str:
    if env is None:
        return ""
    expires = (clock() + env.ttl).astimezone(UTC)
    return f"{env.ttl_text} after apply (~{expires:%Y-%m-%d %H:%M} UTC if applied now)"


def _env_report(outcome: Outcome, clock: Clock) -> report.EnvReport:
    status, detail = outcome.policy_status()
    summary = outcome.summary
    errors = [e for e in (outcome.error, outcome.policy_error, outcome.budget_error) if e]
    if outcome.policy is not None and not outcome.policy.ok:
        errors.append(policy.format_result(outcome.policy))
    return report.EnvReport(
        env=outcome.name,
        stack=outcome.change.stack,
        action=outcome.change.action,
        added=summary.added if summary else None,
        changed=summary.changed if summary else None,
        destroyed=summary.destroyed if summary else None,
        policy=status,
        policy_detail=detail,
        cost=outcome.cost_cell,
        expiry=_expiry(outcome.env, clock),
        plan_text=outcome.plan_text,
        problems=outcome.problems,
        error="\n\n".join(errors),
        reason=outcome.change.reason,
        artifact_path=f"{outcome.name}.plan.txt",
    )


def _comment_path(repo_root: Path, output: Path | str | None) -> Path:
    if not output:
        return repo_root / COMMENT_FILE
    path = Path(output)
    if not path.is_absolute():
        path = Path.cwd() / path
    return path / COMMENT_FILE if path.is_dir() else path


def ci_plan(
    repo_root: Path,
    base: str,
    head: str = "HEAD",
    jobs: int = DEFAULT_JOBS,
    output: Path | str | None = None,
    *,
    emit: Emit = _print,
    clock: Clock = system_clock,
    store: LeaseStore | None = None,
) -> int:
    """Plan every affected environment, run the gate and the cost, write the comment.

    Returns the exit code: 1 if any environment is invalid, failed to plan or
    failed the policy gate, else 0.
    """
    repo_root = Path(repo_root).resolve()
    base_commit, head_commit = changes.compare_range(repo_root, base, head, use_merge_base=True)
    require_checked_out(repo_root, head)
    affected = changes.compare_commits(repo_root, base_commit, head_commit)
    project = Project.discover(root=repo_root)
    ci_dir = project.home / "ci"
    shutil.rmtree(ci_dir, ignore_errors=True)
    ci_dir.mkdir(parents=True, exist_ok=True)
    comment_path = _comment_path(repo_root, output)

    emit(
        f"ci-plan: {len(affected)} environment(s) affected between {base_commit[:12]} and "
        f"{head_commit[:12]}" + (": " + ", ".join(c.env for c in affected) if affected else "")
    )
    if store is None:
        store = commands.open_store(project)
    outcomes: dict[str, Outcome] = {}
    to_plan = [c for c in affected if c.action != DESTROY]
    for change in affected:
        if change.action == DESTROY:
            outcomes[change.env] = Outcome(change=change)
    locks = InitLocks()
    cli_config(project.plugin_cache)  # written once here, not raced by the first inits
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="ci-plan") as pool:
        futures = {
            pool.submit(_plan_one, project, store, change, locks, ci_dir): change
            for change in to_plan
        }
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.name] = outcome
            title = f"{outcome.name} ({outcome.change.action}: {outcome.change.reason})"
            _group(title, outcome.output, emit)

    ordered = [outcomes[c.env] for c in affected]
    _gate(project, ordered)
    _costs(ordered)
    gate_lines = []
    for outcome in ordered:
        if outcome.policy is not None:
            gate_lines.append(policy.format_result(outcome.policy) + "\n")
        elif outcome.policy_error:
            gate_lines.append(f"policy {outcome.name}: ERROR {outcome.policy_error}\n")
        if outcome.cost_text:
            gate_lines.append(outcome.cost_text.rstrip("\n") + "\n")
    if gate_lines:
        _group("policy gate and cost", gate_lines, emit)

    results = [o.to_json() for o in ordered]
    for data in results:
        _write_json(ci_dir / f"{data['env']}.json", data)
    _write_json(
        ci_dir / RESULTS_FILE,
        {"base": base_commit, "head": head_commit, "environments": results},
    )
    comment = report.render_comment(
        [_env_report(o, clock) for o in ordered],
        base=base_commit,
        head=head_commit,
        artifact=ARTIFACT,
    )
    comment_path.parent.mkdir(parents=True, exist_ok=True)
    comment_path.write_text(comment, encoding="utf-8")
    shutil.copyfile(comment_path, ci_dir / COMMENT_FILE)

    failed = [o.name for o in ordered if o.failed]
    for outcome in ordered:
        counts = outcome.summary.counts_text() if outcome.summary else "-"
        status = "FAILED" if outcome.failed else "ok"
        emit(f"  {outcome.name:<40} {outcome.change.action:<8} {counts:<12} {status}")
    emit(f"ci-plan: wrote {comment_path} ({len(comment)} characters)")
    if failed:
        emit(f"ci-plan: failed: {', '.join(failed)}")
        return 1
    return 0


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


# -------------------------------------------------------------------------- apply


def _destroy_deleted(
    ctx: lifecycle.Context, repo_root: Path, base_commit: str, head_commit: str, name: str
) -> None:
    """Destroy an environment whose file was deleted: render it from the base
    revision (where its file exists) into the work directory, then destroy."""
    lease = ctx.store.get(name)
    if lease is None or lease.status == DESTROYED:
        ctx.say(f"==> {name}: environment file deleted; not deployed, nothing to destroy")
        return
    with changes.checkout(repo_root, base_commit, "destroy") as base_checkout:
        source = Project(root=base_checkout.root, home=ctx.project.home)
        env = config.load_environment(source, name)
        declared = set(stackvars.read_stack_variables(source.stack_dir(env.stack)))
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
    base_commit, head_commit = changes.compare_range(repo_root, base, head, use_merge_base=False)
    require_checked_out(repo_root, head)
    affected = changes.compare_commits(repo_root, base_commit, head_commit)
    if env:
        affected = [c for c in affected if c.env == env]
        if not affected:
            echo(f"{env}: not affected between {base_commit[:12]} and {head_commit[:12]}\n")
            return 0
    project = Project.discover(root=repo_root)
    ctx = lifecycle.Context(
        project=project, store=store or commands.open_store(project), clock=clock, echo=echo
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


# -------------------------------------------------------------- task entry points


def plan_command(
    base: str,
    head: str = "HEAD",
    jobs: int = DEFAULT_JOBS,
    output: str = "",
    matrix: bool = False,
    out: IO[str] | None = None,
) -> int:
    """`invoke ci-plan`: the comment (exit code 1 on failures), or with `matrix`
    only the apply matrix as one line of JSON on stdout."""
    if not base:
        raise UsageError("ci-plan: missing --base REV (the revision to compare with)")
    root = Project.discover().root
    if matrix:
        (out or sys.stdout).write(changes.matrix_json(root, base, head) + "\n")
        return 0
    return ci_plan(root, base, head, jobs, output or None)


def apply_command(base: str, head: str = "HEAD", env: str = "") -> int:
    """`invoke ci-apply`."""
    if not base:
        raise UsageError("ci-apply: missing --base REV (the revision before the push)")
    clock = commands.cli_clock()  # EPHEMERA_NOW, as the other commands
    return ci_apply(Project.discover().root, base, head, env=env or None, clock=clock)
