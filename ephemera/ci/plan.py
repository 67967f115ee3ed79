"""ci-plan: plan the environments a change affects and write the pull request's comment.

`ci_plan(repo_root, base, head, jobs, output)`:

    affected_environments(base, head)          (ephemera.ci.changes)
      → per environment, in parallel (`jobs` threads):
          validate → render → init → plan → terraform show
          (init holds a lock per stack, and the first init of each stack in a run
          also holds a global lock, so no two inits fill the shared plugin cache
          at once)
      → the one gate over every plan (gate.evaluate_all: one checkov run, then cost)
      → plan-comment.md (ephemera.ci.comment) and `.ephemera/ci/`:
          <env>.plan.txt (terraform show), <env>.log (init + plan output),
          <env>.json (summary), results.json (all summaries). Never plan.bin
          nor the plan JSON (it can hold sensitive values): the workflow uploads
          this directory as an artifact.

Each environment's output is captured and printed as one block when its plan
finishes (a `::group::` block under GitHub Actions), so parallel plans never
interleave. The exit code is 1 when any environment is invalid, failed to plan,
or failed the policy gate; 0 otherwise. CI plans the checked-out tree, so `head`
must be the commit checked out in `repo_root`.
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

from ephemera import gate, lifecycle, session
from ephemera.ci import changes, git
from ephemera.ci.changes import DESTROY, Change
from ephemera.ci.comment import EnvReport, render_comment
from ephemera.durations import Clock, system_clock
from ephemera.environment import Environment
from ephemera.errors import EphemeraError, UsageError
from ephemera.gate import cost
from ephemera.gate.evaluate import GateResult
from ephemera.gate.policy import PolicyResult, format_result
from ephemera.leases import LeaseStore
from ephemera.project import Project
from ephemera.terraform.render import Rendered
from ephemera.terraform.runner import Echo, cli_config

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
    gate: GateResult | None = None

    @property
    def name(self) -> str:
        return self.change.env

    @property
    def policy(self) -> PolicyResult | None:
        return self.gate.policy if self.gate else None

    @property
    def policy_error(self) -> str:
        error = self.gate.policy_error if self.gate else None
        return error.message if error else ""

    @property
    def budget_error(self) -> str:
        return (self.gate.over_budget or "") if self.gate else ""

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

    def cost_text(self) -> str:
        """The cost line of the console output ('' before the gate ran)."""
        if self.gate is None or self.env is None:
            return ""
        if self.gate.estimate is None:
            message = self.gate.cost_error.message if self.gate.cost_error else "unknown"
            return f"{self.name}: cost not estimated: {message}"
        text = f"{self.name}: cost {cost.format_estimate(self.gate.estimate, self.env.ttl_text)}"
        return text + (f"\n{self.budget_error}" if self.budget_error else "")

    def cost_cell(self) -> str:
        """The cost cell of the comment's table."""
        if self.gate is None or self.env is None:
            return ""
        estimate = self.gate.estimate
        if estimate is None:
            return "not estimated"
        cell = f"{cost.money(estimate.total_usd)} over {self.env.ttl_text}"
        if estimate.unpriced:
            cell += f" (+{len(estimate.unpriced)} unpriced)"
        if self.budget_error:
            cell += f" ❌ over the ${self.env.budget:,.2f} budget"
        return cell

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
        estimate = self.gate.estimate if self.gate else None
        if estimate is not None:
            data["cost"] = {
                "total_usd": float(estimate.total_usd),
                "per_hour_usd": float(estimate.per_hour_usd),
                "over_budget": self.budget_error,
            }
        return data


# --------------------------------------------------------------------------- plan


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
    finally:
        lifecycle.close_terraform(ctx, change.env)
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
    """The one gate over every plan at once (one checkov process for the batch)."""
    planned = {
        o.name: (o.env, o.summary.plan_json) for o in outcomes if o.summary and o.env is not None
    }
    results = gate.evaluate_all(project, planned)
    for outcome in outcomes:
        outcome.gate = results.get(outcome.name)


def _expiry(env: Environment | None, clock: Clock) -> str:
    if env is None:
        return ""
    expires = (clock() + env.ttl).astimezone(UTC)
    return f"{env.ttl_text} after apply (~{expires:%Y-%m-%d %H:%M} UTC if applied now)"


def _env_report(outcome: Outcome, clock: Clock) -> EnvReport:
    status, detail = outcome.policy_status()
    summary = outcome.summary
    errors = [e for e in (outcome.error, outcome.policy_error, outcome.budget_error) if e]
    if outcome.policy is not None and not outcome.policy.ok:
        errors.append(format_result(outcome.policy))
    return EnvReport(
        env=outcome.name,
        stack=outcome.change.stack,
        action=outcome.change.action,
        added=summary.added if summary else None,
        changed=summary.changed if summary else None,
        destroyed=summary.destroyed if summary else None,
        policy=status,
        policy_detail=detail,
        cost=outcome.cost_cell(),
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
    base_commit, head_commit = git.compare_range(repo_root, base, head, use_merge_base=True)
    git.require_checked_out(repo_root, head)
    project = Project.discover(root=repo_root)
    gate.prestart(project)  # checkov loads while the changes are found and planned
    affected = changes.compare_commits(repo_root, base_commit, head_commit)
    ci_dir = project.home / "ci"
    shutil.rmtree(ci_dir, ignore_errors=True)
    ci_dir.mkdir(parents=True, exist_ok=True)
    comment_path = _comment_path(repo_root, output)

    emit(
        f"ci-plan: {len(affected)} environment(s) affected between {base_commit[:12]} and "
        f"{head_commit[:12]}" + (": " + ", ".join(c.env for c in affected) if affected else "")
    )
    if store is None:
        store = session.open_store(project)
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
    gate_lines = []
    for outcome in ordered:
        if outcome.policy is not None:
            gate_lines.append(format_result(outcome.policy) + "\n")
        elif outcome.policy_error:
            gate_lines.append(f"policy {outcome.name}: ERROR {outcome.policy_error}\n")
        if outcome.cost_text():
            gate_lines.append(outcome.cost_text().rstrip("\n") + "\n")
    if gate_lines:
        _group("policy gate and cost", gate_lines, emit)

    results = [o.to_json() for o in ordered]
    for data in results:
        _write_json(ci_dir / f"{data['env']}.json", data)
    _write_json(
        ci_dir / RESULTS_FILE,
        {"base": base_commit, "head": head_commit, "environments": results},
    )
    comment = render_comment(
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
