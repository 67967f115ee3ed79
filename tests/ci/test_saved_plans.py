"""Apply what was approved, on real git history, with real Terraform (terraform_data
stacks), real checkov and the S3 backend on a real moto server.

A pull request is planned (its plans sealed with their fingerprints and state serials),
the runner's `.ephemera/` is thrown away (a fresh runner), and the pull request is
merged with `git merge` while main moved on:

- svc-00: nothing else touched it → its saved plan holds → applied as it was shown;
- svc-01: main changed it too → the merge commit's fingerprint differs → re-planned,
  waits for approval, and applies the re-plan once approved;
- svc-02: its state moved on after the plan (destroyed and deployed again from main) →
  re-planned; and a re-plan whose state moves on before approval is not applied.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ephemera import ci, config, lifecycle
from ephemera.ci import merge, results, saved
from ephemera.leases import ACTIVE, SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import MotoServer
from tests.fixtures.ci.builder import STATE_BUCKET, FixtureRepo, make_repo

from .helpers import PLAN_KEY, edit, real_checkov

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_repo(tmp_path: Path, moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> FixtureRepo:
    real_checkov(monkeypatch)
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
    return make_repo(tmp_path / "repo", svc=3, api=0, policies=True, aws=True)


def store_of(repo: FixtureRepo) -> SqliteLeaseStore:
    return SqliteLeaseStore(repo.root.parent / "leases.db")  # outlives a runner: shared


def context(repo: FixtureRepo) -> lifecycle.Context:
    return lifecycle.Context(Project.discover(root=repo.root), store_of(repo), echo=lambda _: None)


def fresh_runner(repo: FixtureRepo) -> None:
    shutil.rmtree(repo.root / ".ephemera", ignore_errors=True)


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_apply_what_was_approved(aws_repo: FixtureRepo, tmp_path: Path) -> None:
    repo = aws_repo
    lifecycle.deploy(context(repo), "svc-02")  # live before the pull request
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "pr")
    for name in ("svc-00", "svc-01", "svc-02"):
        edit(repo, f"environments/{name}.yaml", "replicas: ", "replicas: 3\n  # was ")
    repo.commit("the pull request: three replicas each")

    # ci-plan on the pull request keeps each plan, sealed.
    emitted: list[str] = []
    code = ci.ci_plan(repo.root, base, emit=emitted.append, store=store_of(repo), environ=PLAN_KEY)
    assert code == 0, "\n".join(emitted)
    artifact = tmp_path / "artifact"
    shutil.copytree(repo.root / ".ephemera" / "ci-saved", artifact)
    assert sorted(p.name for p in artifact.iterdir()) == [
        "svc-00.plan.enc",
        "svc-01.plan.enc",
        "svc-02.plan.enc",
    ]
    fresh_runner(repo)

    # Meanwhile on main: svc-01 changes; svc-02 is destroyed and deployed again.
    repo.git("checkout", "-q", "main")
    edit(repo, "environments/svc-01.yaml", "owner: team1@", "owner: ops@")
    repo.commit("main moves on")
    ctx = context(repo)
    assert lifecycle.destroy(ctx, "svc-02") == []
    lifecycle.deploy(ctx, "svc-02")
    before = repo.git("rev-parse", "HEAD")
    repo.git("merge", "-q", "--no-ff", "-m", "merge the pull request", "pr")
    fresh_runner(repo)

    # The check on merge: svc-00 holds, svc-01 and svc-02 are re-planned.
    github_output, summary = tmp_path / "github-output", tmp_path / "summary.md"
    environ = {**PLAN_KEY, "GITHUB_OUTPUT": str(github_output), "GITHUB_STEP_SUMMARY": str(summary)}
    replans, checked = tmp_path / "replans", tmp_path / "results-check"
    emitted.clear()
    code = ci.ci_merge(
        repo.root,
        before,
        saved_dir=artifact,
        replan_dir=replans,
        results_dir=checked,
        emit=emitted.append,
        store=store_of(repo),
        environ=environ,
    )
    assert code == 0, "\n".join(emitted)
    decided = outputs(github_output)
    assert json.loads(decided["apply"]) == {"include": [{"env": "svc-00", "action": "update"}]}
    assert json.loads(decided["approve"])["include"] == [
        {"env": "svc-01", "action": "update"},
        {"env": "svc-02", "action": "update"},
    ]
    assert any(e.startswith("==> svc-01: re-plan: its inputs changed since") for e in emitted)
    assert any(
        e.startswith("==> svc-02: re-plan: the state moved on since the plan") for e in emitted
    )
    waiting = {r.env: r for r in results.read(checked)}
    assert {r.result for r in waiting.values()} == {results.WAITING}
    replan_comment = (repo.root / ".ephemera" / "ci" / merge.REPLAN_COMMENT).read_text()
    assert replan_comment.startswith(merge.REPLAN_MARKER) and "svc-01" in replan_comment
    assert "waiting for approval" in summary.read_text()
    kept = shutil.copytree(replans, tmp_path / "replan-artifact")

    # The apply job: svc-00 from the plan the pull request showed.
    fresh_runner(repo)
    applied = tmp_path / "results-apply"
    said: list[str] = []
    code = ci.ci_apply(
        repo.root,
        before,
        env="svc-00",
        saved_dir=artifact,
        results_dir=applied,
        echo=said.append,
        store=store_of(repo),
        environ=PLAN_KEY,
    )
    assert code == 0, "".join(said)
    assert any("applying the saved plan of" in line for line in said)
    assert [(r.env, r.result, r.counts) for r in results.read(applied)] == [
        ("svc-00", results.APPLIED, "+3 ~0 -0")
    ]
    # ci-plan's plan of svc-01 no longer holds: the apply job would refuse it.
    code = ci.ci_apply(
        repo.root,
        before,
        env="svc-01",
        saved_dir=artifact,
        echo=said.append,
        store=store_of(repo),
        environ=PLAN_KEY,
    )
    assert code == 1 and any("not applied: its inputs changed" in line for line in said)

    # The approved job, after a reviewer approved the re-plans: svc-01 applies;
    # svc-02's state moved on once more while it waited, so it is not applied.
    lifecycle.destroy(context(repo), "svc-02")
    fresh_runner(repo)
    said.clear()
    approved = {
        "saved_dir": kept,
        "echo": said.append,
        "store": store_of(repo),
        "environ": PLAN_KEY,
    }
    assert ci.ci_apply(repo.root, before, env="svc-01", **approved) == 0, "".join(said)
    assert ci.ci_apply(repo.root, before, env="svc-02", **approved) == 1
    assert any("not applied: the state moved on since the plan" in line for line in said)
    store = store_of(repo)
    assert store.get("svc-00").status == ACTIVE and store.get("svc-01").status == ACTIVE
    project = Project.discover(root=repo.root)
    applied_01 = saved.state_version(config.load_environment(project, "svc-01"))
    assert applied_01.serial == 1 and applied_01.lineage  # the re-plan, applied once
