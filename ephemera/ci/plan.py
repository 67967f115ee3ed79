"""ci-plan: plan the environments a change affects and write the pull request's comment.

`ci_plan(repo_root, base, head, jobs, output)`:

    changes.compare_revisions(merge base, head)     the affected environments
      + gateinputs.gate_changes                     policies/, schemas/, pricing changed
      → planrun.plan_all, `jobs` at a time           (ephemera.ci.planrun)
          invalid → reported; a target CI does not plan → validated, a row says why;
          the others: validate → render → init → state serial → plan → terraform show,
          each plan sealed into `.ephemera/ci-saved/` when EPHEMERA_PLAN_KEY is set
      → the one gate over every plan (gate.evaluate_all: one checkov run, then cost);
        for gate changes also under the base's policies and prices (the verdicts
        that changed)
      → plan-comment.md (ephemera.ci.comment), the job summary, and `.ephemera/ci/`:
          <env>.plan.txt (terraform show), <env>.log (init + plan output),
          <env>.json (summary), results.json (all summaries), labels.json. Never
          plan.bin nor the plan JSON (it can hold sensitive values): the workflow
          uploads this directory as an artifact, and `.ephemera/ci-saved/` (sealed
          plans only) as another.

Each environment's output is printed as one block when its plan finishes (a
`::group::` block under GitHub Actions), so parallel plans never interleave. The
exit code is 1 when any environment is invalid, failed to plan, or failed the policy
gate; 0 otherwise. CI plans the checked-out tree, so `head` must be the commit
checked out in `repo_root`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ephemera import gate, session
from ephemera.ci import actions, changes, gateinputs, git, saved, targets
from ephemera.ci.actions import Emit
from ephemera.ci.changes import GATE
from ephemera.ci.comment import labels, render_comment
from ephemera.ci.outcome import Outcome, env_report
from ephemera.ci.planrun import Keeping, gate_all, gate_lines, plan_all, planned
from ephemera.durations import Clock, system_clock
from ephemera.errors import UsageError
from ephemera.leases import LeaseStore
from ephemera.project import Project

COMMENT_FILE = "plan-comment.md"
ARTIFACT = "ephemera-plans"
SAVED_ARTIFACT = "ephemera-saved-plans"
SAVED_DIR = "ci-saved"  # under .ephemera: sealed plans only
RESULTS_FILE = "results.json"
LABELS_FILE = "labels.json"
DEFAULT_JOBS = 4


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()


def _comment_path(repo_root: Path, output: Path | str | None) -> Path:
    if not output:
        return repo_root / COMMENT_FILE
    path = Path(output)
    if not path.is_absolute():
        path = Path.cwd() / path
    return path / COMMENT_FILE if path.is_dir() else path


def _fresh(directory: Path) -> Path:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def _keeping(project: Project, comparison: changes.Comparison, environ: Mapping[str, str]):
    """Where the plans are sealed for the apply (None without EPHEMERA_PLAN_KEY): the
    plans of Terraform changes only (a gate change applies nothing)."""
    key = saved.plan_key(environ)
    directory = _fresh(project.home / SAVED_DIR)
    if key is None:
        return None
    fingerprints = {
        c.env: comparison.head.fingerprints[c.env].digest
        for c in comparison.changes
        if c.env in comparison.head.fingerprints
    }
    return Keeping(directory, key, comparison.head.commit, fingerprints)


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
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Plan every affected environment, run the gate and the cost, write the comment.

    Returns the exit code: 1 if any environment is invalid, failed to plan or
    failed the policy gate, else 0.
    """
    repo_root = Path(repo_root).resolve()
    base_commit, head_commit = git.compare_range(repo_root, base, head, use_merge_base=True)
    git.require_checked_out(repo_root, head)
    gate.prestart(Project.discover(root=repo_root))  # checkov loads while changes are found
    comparison = changes.compare_revisions(repo_root, base_commit, head_commit)
    gate_inputs = gateinputs.changed_gate_inputs(repo_root, base_commit, head_commit)
    affected = targets.without_credentials(
        comparison.changes
        + gateinputs.gate_changes(comparison.head, comparison.changes, gate_inputs),
        environ,
    )
    project = Project.discover(root=repo_root)
    ci_dir = _fresh(project.home / "ci")
    keeping = _keeping(project, comparison, environ)
    emit(
        f"ci-plan: {len(affected)} environment(s) affected between {base_commit[:12]} and "
        f"{head_commit[:12]}" + (": " + ", ".join(c.env for c in affected) if affected else "")
    )
    outcomes = plan_all(
        project,
        store or session.open_store(project),
        affected,
        ci_dir,
        emit,
        jobs=jobs,
        keeping=keeping,
    )
    gated = [o for o in outcomes if o.change.action == GATE]
    before = gateinputs.base_verdicts(repo_root, base_commit, project, planned(gated))
    gate_all(project, outcomes)
    lines = gate_lines(outcomes)
    if lines:
        actions.group("policy gate and cost", lines, emit)
    verdicts = gateinputs.changed_verdicts(project, gated, before)
    reports = [env_report(o, clock) for o in outcomes]
    _write_results(ci_dir, base_commit, head_commit, outcomes, verdicts)
    _write_json(ci_dir / LABELS_FILE, labels(reports))
    comment = render_comment(
        reports,
        base=base_commit,
        head=head_commit,
        artifact=ARTIFACT,
        verdicts=verdicts,
        kept=_kept(keeping, outcomes),
    )
    comment_path = _comment_path(repo_root, output)
    comment_path.parent.mkdir(parents=True, exist_ok=True)
    comment_path.write_text(comment, encoding="utf-8")
    shutil.copyfile(comment_path, ci_dir / "plan-comment.md")
    actions.add_summary(comment, environ)
    return _report(outcomes, comment_path, len(comment), emit)


def _kept(keeping: Keeping | None, outcomes: list[Outcome]) -> bool | None:
    """Whether the plans to apply were kept (None: no plan of an aws change was made)."""
    if not any(
        o.summary and o.env and o.env.target == "aws" and o.change.action != GATE for o in outcomes
    ):
        return None
    return keeping is not None


def _write_results(
    ci_dir: Path, base: str, head: str, outcomes: list[Outcome], verdicts: list
) -> None:
    results = [o.to_json() for o in outcomes]
    for data in results:
        _write_json(ci_dir / f"{data['env']}.json", data)
    _write_json(
        ci_dir / RESULTS_FILE,
        {
            "base": base,
            "head": head,
            "environments": results,
            "verdicts_changed": [{"env": e, "before": b, "after": a} for e, b, a in verdicts],
        },
    )


def _report(outcomes: list[Outcome], comment_path: Path, length: int, emit: Emit) -> int:
    failed = [o.name for o in outcomes if o.failed]
    for outcome in outcomes:
        counts = outcome.summary.counts_text() if outcome.summary else "-"
        status = "FAILED" if outcome.failed else ("not planned" if outcome.not_planned else "ok")
        emit(f"  {outcome.name:<40} {outcome.change.action:<8} {counts:<12} {status}")
    emit(f"ci-plan: wrote {comment_path} ({length} characters)")
    if failed:
        emit(f"ci-plan: failed: {', '.join(failed)}")
        return 1
    return 0


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def plan_command(base: str, head: str = "HEAD", jobs: int = DEFAULT_JOBS, output: str = "") -> int:
    """`invoke ci-plan`: the comment; exit code 1 on failures."""
    if not base:
        raise UsageError("ci-plan: missing --base REV (the revision to compare with)")
    return ci_plan(Project.discover().root, base, head, jobs, output or None)
