"""ci-merge: on merge, decide for each environment the push changed whether the plan
that was approved still holds, and re-plan the ones whose plan does not.

    compare the commits before and after the push          (ephemera.ci.changes)
      a target CI does not manage → skipped, with why
      invalid at the merge commit → failed
      deleted → the apply matrix (the pull request showed the destroy)
      its saved plan (ci-plan's, from `saved_dir`) was made from the merge commit's
        fingerprint, against the state's current serial, in this project root
        → the apply matrix: applied as it was shown, no further approval
      else → re-planned now (planrun.plan_all + the gate), sealed into `replan_dir`,
        published (job summary; `replan-comment.md` for the pull request's comment)
        → the approve matrix: applied only after a reviewer of the `ephemera`
          GitHub environment approves that plan, and only if it still holds then

The matrices go to $GITHUB_OUTPUT (`apply`, `approve`, and their counts); a result per
skipped, failed or waiting environment to `results_dir`. Exit 1 when one failed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ephemera import session
from ephemera.ci import actions, changes, git, results, saved, targets
from ephemera.ci.actions import Emit
from ephemera.ci.apply import saved_plan_mismatch
from ephemera.ci.changes import DESTROY, Change
from ephemera.ci.comment import render_comment
from ephemera.ci.outcome import env_report
from ephemera.ci.planrun import Keeping, gate_all, plan_all
from ephemera.ci.results import ApplyResult
from ephemera.durations import Clock, system_clock
from ephemera.errors import EphemeraError, UsageError
from ephemera.leases import LeaseStore
from ephemera.project import Project

REPLAN_MARKER = "<!-- ephemera-replan -->"
REPLAN_COMMENT = "replan-comment.md"
REPLAN_ARTIFACT = "ephemera-replans"


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def matrix(items: list[Change]) -> str:
    """A GitHub Actions matrix, on one line: `{"include": [{"env", "action"}, …]}`."""
    include = [{"env": c.env, "action": c.action} for c in items]
    return json.dumps({"include": include}, separators=(",", ":"))


def _holds(
    project: Project,
    comparison: changes.Comparison,
    change: Change,
    saved_dir: Path | None,
    key: bytes,
) -> str:
    """Why the saved plan of `change` does not hold ("" when it does)."""
    fingerprint = comparison.head.fingerprints[change.env].digest
    try:
        plan = saved.read(saved_dir, change.env, key)
    except EphemeraError as exc:
        return exc.message
    return saved_plan_mismatch(project, change.env, fingerprint, plan)


@dataclass
class Sorted:
    """The environments of a merge, sorted."""

    apply: list[Change] = field(default_factory=list)  # saved plan holds, or a destroy
    replan: list[tuple[Change, str]] = field(default_factory=list)  # (change, why)
    done: list[ApplyResult] = field(default_factory=list)  # skipped, failed, waiting


def _sort(
    project: Project,
    comparison: changes.Comparison,
    saved_dir: Path | None,
    environ: Mapping[str, str],
    emit: Emit,
) -> Sorted:
    found = Sorted()
    for change in comparison.changes:
        skipped = targets.not_applied(change)
        if skipped:
            found.done.append(ApplyResult(change.env, change.action, results.SKIPPED, skipped))
        elif change.problems:
            found.done.append(ApplyResult(change.env, change.action, results.FAILED, "invalid"))
        elif change.action == DESTROY:
            found.apply.append(change)
        else:
            try:
                reason = _holds(project, comparison, change, saved_dir, saved.require_key(environ))
            except EphemeraError as exc:
                failed = ApplyResult(change.env, change.action, results.FAILED, exc.message)
                found.done.append(failed)
                continue
            emit(
                f"==> {change.env}: " + (f"re-plan: {reason}" if reason else "its saved plan holds")
            )
            if reason:
                found.replan.append((change, reason))
            else:
                found.apply.append(change)
    return found


def ci_merge(
    repo_root: Path,
    base: str,
    head: str = "HEAD",
    *,
    saved_dir: Path | None = None,
    replan_dir: Path,
    results_dir: Path | None = None,
    jobs: int = 4,
    emit: Emit = _print,
    clock: Clock = system_clock,
    store: LeaseStore | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Sort the environments the push changed into those applied from the plan that was
    approved and those re-planned for approval; see the module's docstring."""
    repo_root = Path(repo_root).resolve()
    base_commit, head_commit = git.compare_range(repo_root, base, head, use_merge_base=False)
    git.require_checked_out(repo_root, head)
    comparison = changes.compare_revisions(repo_root, base_commit, head_commit)
    project = Project.discover(root=repo_root)
    found = _sort(project, comparison, saved_dir, environ, emit)
    approve = _replan(
        project,
        store or session.open_store(project),
        comparison,
        found,
        replan_dir,
        jobs,
        emit,
        clock,
        environ,
    )
    actions.set_outputs(
        {
            "apply": matrix(found.apply),
            "apply_count": str(len(found.apply)),
            "approve": matrix(approve),
            "approve_count": str(len(approve)),
        },
        environ,
    )
    stamped = [results.stamped(r, head_commit, actions.run_url(environ)) for r in found.done]
    for result in stamped:
        if results_dir is not None:
            results.write(results_dir, result)
    held = "".join(f"- `{c.env}`: applied from the plan that was approved\n" for c in found.apply)
    table = results.table(stamped) if stamped else ""
    actions.add_summary(f"### Ephemera merge\n\n{held}\n{table}", environ)
    return 1 if any(r.failed for r in found.done) else 0


def _replan(
    project: Project,
    store: LeaseStore,
    comparison: changes.Comparison,
    found: Sorted,
    replan_dir: Path,
    jobs: int,
    emit: Emit,
    clock: Clock,
    environ: Mapping[str, str],
) -> list[Change]:
    """Re-plan, gate, seal and publish; the changes that wait for approval."""
    directory, to_replan, done = _fresh(replan_dir), found.replan, found.done
    if not to_replan:
        return []
    reasons = {c.env: reason for c, reason in to_replan}
    fingerprints = {c.env: comparison.head.fingerprints[c.env].digest for c, _ in to_replan}
    keeping = Keeping(directory, saved.require_key(environ), comparison.head.commit, fingerprints)
    ci_dir = _fresh(project.home / "ci")
    outcomes = plan_all(
        project, store, [c for c, _ in to_replan], ci_dir, emit, jobs=jobs, keeping=keeping
    )
    gate_all(project, outcomes)
    approve = []
    for outcome in outcomes:
        if outcome.failed or not outcome.saved:
            saved.path_of(directory, outcome.name).unlink(missing_ok=True)
            detail = "the re-plan failed or did not pass the gate (see the job summary)"
            done.append(ApplyResult(outcome.name, outcome.change.action, results.FAILED, detail))
        else:
            approve.append(outcome.change)
            done.append(
                ApplyResult(
                    outcome.name,
                    outcome.change.action,
                    results.WAITING,
                    f"re-planned: {reasons[outcome.name]}",
                )
            )
    comment = render_comment(
        [env_report(o, clock) for o in outcomes],
        base=comparison.base.commit,
        head=comparison.head.commit,
        artifact="ephemera-replan-logs",
        kept=True,
        marker=REPLAN_MARKER,
        title="Ephemera: re-planned on merge, waiting for approval",
    )
    (ci_dir / REPLAN_COMMENT).write_text(comment, encoding="utf-8")
    actions.add_summary(comment, environ)
    return approve


def merge_command(base: str, head: str, saved_dir: str, replan_dir: str, results_dir: str) -> int:
    """`invoke ci-merge`."""
    if not base:
        raise UsageError("ci-merge: missing --base REV (the revision before the push)")
    project = Project.discover()
    return ci_merge(
        project.root,
        base,
        head,
        saved_dir=Path(saved_dir) if saved_dir else None,
        replan_dir=Path(replan_dir) if replan_dir else project.home / "ci-replan",
        results_dir=Path(results_dir) if results_dir else None,
        clock=session.cli_clock(),
    )
