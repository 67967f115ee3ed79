"""Publishing onto the pull request through the GitHub API (a fake on 127.0.0.1, real
HTTP): the sticky comment found again past the first page, labels kept in step, the
merge's re-plan and the apply results appended with a link to the run, and the pull
request and plan run of a merge commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ephemera.ci import publish, results
from ephemera.ci.comment import DESTROY_LABEL, MARKER, REPLACE_LABEL
from ephemera.ci.github import GitHub
from ephemera.ci.merge import REPLAN_MARKER
from ephemera.ci.results import RESULTS_MARKER, ApplyResult

from .fake_github import State, fake_github

PLAN = f"{MARKER}\n### Ephemera plan\n\n| Environment |\n|---|\n| `svc-01` |\n"


@pytest.fixture
def github() -> Iterator[tuple[State, dict[str, str], GitHub]]:
    with fake_github() as (state, environ):
        yield state, environ, GitHub.from_environ(environ)


def test_the_sticky_comment_is_found_again_past_the_first_page(
    github: tuple[State, dict[str, str], GitHub],
) -> None:
    state, _, gh = github
    for index in range(150):  # a busy pull request
        state.comment(3, f"review {index}", {"login": "reviewer", "type": "User"})
    state.comment(3, f"{MARKER} quoted by a person", {"login": "reviewer", "type": "User"})
    publish.put_comment(gh, 3, PLAN)
    publish.put_comment(gh, 3, PLAN.replace("svc-01", "svc-02"))
    bots = [c for c in state.comments[3] if c["user"]["type"] == "Bot"]
    assert len(bots) == 1 and "svc-02" in bots[0]["body"]
    assert sum(1 for method, _ in state.calls if method == "GET") == 2 * 2  # two pages, twice


def test_labels_follow_the_plan(github: tuple[State, dict[str, str], GitHub]) -> None:
    state, _, gh = github
    state.labels[3] = {"needs-review"}
    assert publish.sync_labels(gh, 3, {DESTROY_LABEL: True, REPLACE_LABEL: False}) == [
        DESTROY_LABEL,
        "needs-review",
    ]
    assert publish.sync_labels(gh, 3, {DESTROY_LABEL: False, REPLACE_LABEL: True}) == [
        REPLACE_LABEL,
        "needs-review",
    ]
    assert state.labels[3] == {REPLACE_LABEL, "needs-review"}


def test_replan_and_results_are_appended_to_the_sticky_comment(
    github: tuple[State, dict[str, str], GitHub],
) -> None:
    state, _, gh = github
    publish.put_comment(gh, 3, PLAN)
    url = "https://github.example/acme/infra/actions/runs/9"
    waiting = ApplyResult(
        "svc-02", "update", results.WAITING, "re-planned: the state moved", run_url=url
    )
    publish.append_results(gh, 3, [waiting])
    replan = f"{REPLAN_MARKER}\n### Ephemera: re-planned on merge\n\nsvc-02 plan v1\n"
    publish.append_section(gh, 3, replan)
    publish.append_section(gh, 3, replan.replace("v1", "v2"))  # replaced, not repeated
    publish.append_results(
        gh, 3, [ApplyResult("svc-01", "update", results.APPLIED, counts="+3 ~0 -0", run_url=url)]
    )
    (body,) = [c["body"] for c in state.comments[3]]
    assert body.startswith(PLAN.rstrip())
    assert body.count(REPLAN_MARKER) == 1 and "plan v2" in body and "plan v1" not in body
    assert body.index(REPLAN_MARKER) < body.index(RESULTS_MARKER)  # the results stay last
    rows = [line for line in body.split(RESULTS_MARKER)[1].splitlines() if line.startswith("| `")]
    assert rows == [
        "| `svc-02` | update | ⏸️ waiting for approval: re-planned: the state moved | — | "
        f"[run]({url}) |",
        f"| `svc-01` | update | ✅ applied | +3 ~0 -0 | [run]({url}) |",
    ]


def test_a_comment_never_grows_past_githubs_limit() -> None:
    plans = "".join(
        f"<details><summary>{i}</summary>\n\n{'x' * 5000}\n</details>\n" for i in range(20)
    )
    fitted = publish.fit(PLAN + plans)
    assert len(fitted) <= publish.MAX_BODY and "<details>" not in fitted
    assert fitted.startswith(PLAN) and "Plans left out to fit" in fitted
    many = [ApplyResult(f"svc-{i:03d}", "update", results.APPLIED, "x" * 300) for i in range(400)]
    appended = results.append(PLAN, many)
    assert len(appended) <= 60_000 and "svc-399" in appended and "svc-000" not in appended


def test_the_pull_request_and_plan_run_of_a_merge_commit(
    github: tuple[State, dict[str, str], GitHub], tmp_path: Path
) -> None:
    state, environ, gh = github
    merge, head = "c" * 40, "b" * 40
    state.pulls[5] = {"number": 5, "head": {"sha": head}, "merge_commit_sha": merge}
    state.commit_pulls[merge] = [5]
    for number, status in ((1, "completed"), (2, "completed"), (3, "in_progress")):
        state.runs.append(
            {
                "id": 100 + number,
                "run_number": number,
                "head_sha": head,
                "event": "pull_request",
                "status": status,
            }
        )
    assert publish.plan_run_of(gh, merge) == (5, 102)  # the latest completed one
    assert publish.plan_run_of(gh, "d" * 40) == (None, None)  # pushed, not merged from a PR
    output = tmp_path / "output"
    assert (
        publish.publish_command(find_plan=merge, environ={**environ, "GITHUB_OUTPUT": str(output)})
        == 0
    )
    assert output.read_text() == "pr=5\nplan_run=102\n"


def test_publish_command_puts_the_files_on_the_pull_request(
    github: tuple[State, dict[str, str], GitHub], tmp_path: Path
) -> None:
    state, environ, _ = github
    (tmp_path / "comment.md").write_text(PLAN)
    (tmp_path / "labels.json").write_text(json.dumps({DESTROY_LABEL: True, REPLACE_LABEL: False}))
    done = tmp_path / "results"
    results.write(done, ApplyResult("svc-01", "destroy", results.DESTROYED))
    code = publish.publish_command(
        "3",
        str(tmp_path / "comment.md"),
        str(tmp_path / "labels.json"),
        str(tmp_path / "none.md"),
        str(done),
        environ=environ,
    )
    assert code == 0
    (body,) = [c["body"] for c in state.comments[3]]
    assert body.startswith(PLAN.rstrip()) and "🗑️ destroyed" in body
    assert state.labels[3] == {DESTROY_LABEL}
    from ephemera.errors import UsageError

    with pytest.raises(UsageError, match="--pr"):
        publish.publish_command("three", environ=environ)
