"""Onto the pull request: the sticky plan comment (found again by its marker), the
re-plan of a merge and the apply results appended to it, the labels of plans that
destroy or replace, and, for the apply on merge, which pull request and plan run the
merge commit came from."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ephemera.ci import actions, results
from ephemera.ci.comment import MARKER
from ephemera.ci.github import GitHub
from ephemera.ci.results import RESULTS_MARKER, ApplyResult
from ephemera.errors import UsageError

MAX_BODY = 65_000  # GitHub refuses comments over 65,536 characters
PLAN_WORKFLOW = "plan.yml"
_DETAILS = re.compile(r"<details[^>]*>.*?</details>\n?", re.DOTALL)


def sticky(gh: GitHub, pr: int) -> dict[str, Any] | None:
    """The plan comment of `pr`: a bot's comment holding the marker."""
    for comment in gh.comments(pr):
        user = comment.get("user") or {}
        if user.get("type") == "Bot" and MARKER in (comment.get("body") or ""):
            return comment
    return None


def put_comment(gh: GitHub, pr: int, body: str) -> None:
    """Create the sticky comment, or replace its body."""
    found = sticky(gh, pr)
    if found is None:
        gh.create_comment(pr, fit(body))
    else:
        gh.update_comment(int(found["id"]), fit(body))


def fit(body: str, limit: int = MAX_BODY) -> str:
    """`body` within GitHub's limit: the collapsed plans go first, then the end."""
    if len(body) <= limit:
        return body
    note = "\n<sub>Plans left out to fit the comment: see the job summaries.</sub>\n"
    shorter = _DETAILS.sub("", body) + note
    if len(shorter) <= limit:
        return shorter
    return shorter[: limit - len(note)] + note


def with_section(body: str, section: str) -> str:
    """`body` with `section` (which starts with its own marker line) in place of the
    section it replaces, or before the apply results, or at the end."""
    marker = section.splitlines()[0]
    before, found, after = body.partition(marker)
    if not found:
        before, _, after = body.partition(RESULTS_MARKER)
        after = RESULTS_MARKER + after if RESULTS_MARKER in body else ""
    else:
        after = after[after.index(RESULTS_MARKER) :] if RESULTS_MARKER in after else ""
    return f"{before.rstrip()}\n\n{section.rstrip()}\n\n{after}".rstrip() + "\n"


def append_section(gh: GitHub, pr: int, section: str) -> None:
    found = sticky(gh, pr)
    body = found.get("body") if found else f"{MARKER}\n### Ephemera plan\n"
    put_comment(gh, pr, with_section(str(body or ""), section))


def append_results(gh: GitHub, pr: int, done: Sequence[ApplyResult]) -> None:
    if not done:
        return
    found = sticky(gh, pr)
    body = str(found.get("body") or "") if found else f"{MARKER}\n### Ephemera plan\n"
    put_comment(gh, pr, results.append(body, done))


def sync_labels(gh: GitHub, pr: int, wanted: Mapping[str, bool]) -> list[str]:
    """Add the labels that apply, remove those that no longer do; the labels after."""
    current = set(gh.labels(pr))
    adding = sorted(name for name, on in wanted.items() if on and name not in current)
    if adding:
        gh.add_labels(pr, adding)
    for name in sorted(name for name, on in wanted.items() if not on and name in current):
        gh.remove_label(pr, name)
    return sorted((current | set(adding)) - {n for n, on in wanted.items() if not on})


def plan_run_of(gh: GitHub, sha: str) -> tuple[int | None, int | None]:
    """(pull request, plan run) a merge commit came from: the pull request merged as
    `sha`, and the latest completed run of the plan workflow for its head commit."""
    pulls = gh.pulls_of_commit(sha)
    merged = [p for p in pulls if p.get("merge_commit_sha") == sha] or pulls
    if not merged:
        return None, None
    pr = merged[0]
    run = latest_plan_run(gh, (pr.get("head") or {}).get("sha") or "", completed=True)
    return int(pr["number"]), (int(run["id"]) if run else None)


def latest_plan_run(gh: GitHub, head_sha: str, *, completed: bool) -> dict[str, Any] | None:
    """The plan workflow's latest run for a pull request's head commit (only the
    completed ones with `completed`)."""
    runs = gh.workflow_runs(PLAN_WORKFLOW, head_sha) if head_sha else []
    if completed:
        runs = [r for r in runs if r.get("status") == "completed"]
    runs.sort(key=lambda r: (r.get("run_number") or 0, r.get("run_attempt") or 0), reverse=True)
    return runs[0] if runs else None


def publish_command(
    pr: str = "",
    comment: str = "",
    labels_file: str = "",
    section: str = "",
    results_dir: str = "",
    find_plan: str = "",
    environ: Mapping[str, str] = os.environ,
) -> int:
    """`invoke ci-publish`: put the comment, labels, a section or results on pull
    request `pr`; or, with `find_plan` (a merge commit), write its pull request and
    plan run to $GITHUB_OUTPUT (`pr`, `plan_run`)."""
    gh = GitHub.from_environ(environ)
    if find_plan:
        number, run = plan_run_of(gh, find_plan)
        actions.set_outputs({"pr": str(number or ""), "plan_run": str(run or "")}, environ)
        print(f"pull request: {number or '-'}, plan run: {run or '-'}")
        return 0
    if not pr.isdigit():
        raise UsageError(f"ci-publish: --pr: expected a pull request number, got {pr!r}")
    number = int(pr)
    if comment and Path(comment).is_file():
        put_comment(gh, number, Path(comment).read_text(encoding="utf-8"))
    if labels_file and Path(labels_file).is_file():
        wanted = json.loads(Path(labels_file).read_text(encoding="utf-8"))
        print("labels: " + (", ".join(sync_labels(gh, number, wanted)) or "-"))
    if section and Path(section).is_file():
        append_section(gh, number, Path(section).read_text(encoding="utf-8"))
    if results_dir:
        append_results(gh, number, results.read(Path(results_dir)))
    return 0
