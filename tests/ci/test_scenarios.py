"""Issue 15's failure scenarios, reproduced with the workflows' own commands (each
step's `run:` script and `env:`, run by bash in a fixture repository holding the
environments this project ships), and shown gone. The first (ttl-sweep without a
guard) is in test_workflows.py: it needs no repository.

- With the shipped test-api.yaml (target aws, no control plane configured), a pull
  request that changes only another environment failed ci-plan: test-api, unchanged,
  was "affected (invalid at head)". Now it is not affected; and a pull request that
  does change it gets a row saying what to configure, not a failure.
- A pull request editing a local environment was planned in CI, and on merge ci-apply
  started a loopback mock API on a throw-away runner with its lease in the runner's
  SQLite. Now ci-plan validates it and shows why it is not planned, and the merge
  check and the apply job skip it: no plan, no lease, no process, nothing listening.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from ephemera.ci import results, targets
from ephemera.leases import SqliteLeaseStore
from tests.fixtures.ci.builder import FixtureRepo, make_repo

from .helpers import edit, table_rows
from .workflow import run_step

pytestmark = pytest.mark.integration
NO_AWS = {"secrets.EPHEMERA_PLAN_KEY": "", "vars.EPHEMERA_PLAN_ROLE_ARN": ""}


@pytest.fixture
def shipped(tmp_path: Path) -> FixtureRepo:
    return make_repo(tmp_path / "repo", svc=0, api=0, shipped=True)


def plan_step(repo: FixtureRepo, base: str, tmp_path: Path):  # noqa: ANN201
    values = {"github.event.pull_request.base.sha": base, **NO_AWS}
    return run_step(
        "plan.yml", "plan", "Plan the affected environments", repo.root, values, tmp_path
    )


def test_an_unchanged_unconfigured_environment_fails_no_pull_request(
    shipped: FixtureRepo, tmp_path: Path
) -> None:
    repo = shipped
    assert "target: aws" in repo.read("environments/test-api.yaml")
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/local-demo.yaml", "ttl: 8h", "ttl: 4h")
    repo.commit("a pull request that changes only local-demo")
    done = plan_step(repo, base, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.outputs == {"exit_code": "0"}  # so "Fail when an environment failed" is skipped
    comment = repo.read("plan-comment.md")
    assert list(table_rows(comment)) == ["local-demo"]
    assert "test-api" not in comment and "failed" not in comment
    assert done.summary.startswith("<!-- ephemera-plan -->")  # the job summary

    edit(repo, "environments/test-api.yaml", "ttl: 8h", "ttl: 4h")
    repo.commit("now test-api changes too")
    done = plan_step(repo, base, tmp_path)
    assert done.outputs == {"exit_code": "0"}, done.stdout + done.stderr
    row = table_rows(repo.read("plan-comment.md"))["test-api"]
    assert "aws target not configured: validated, not planned" in row
    assert "aws.state_bucket and aws.lease_table" in row


def test_a_local_environment_is_never_planned_or_applied_in_ci(
    shipped: FixtureRepo, tmp_path: Path
) -> None:
    repo = shipped
    port = 28765
    base = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "pr")
    edit(repo, "environments/local-demo.yaml", "port: 8765", f"port: {port}")
    repo.commit("the pull request edits a local environment")
    done = plan_step(repo, base, tmp_path)
    assert done.outputs == {"exit_code": "0"}, done.stdout + done.stderr
    assert f"⏭️ {targets.LOCAL}" in table_rows(repo.read("plan-comment.md"))["local-demo"]
    assert not (repo.root / ".ephemera" / "work" / "local-demo" / "plan.bin").exists()

    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge", "pr")
    merge = repo.git("rev-parse", "HEAD")
    shutil.rmtree(repo.root / ".ephemera")  # the apply runs on a fresh runner
    values = {
        "github.event.before": base,
        "secrets.EPHEMERA_PLAN_KEY": "k" * 40,
        "github.run_id": "42",
        "GITHUB_SHA": merge,
    }
    check = run_step(
        "apply.yml",
        "check",
        "Which saved plans hold; re-plan the others",
        repo.root,
        values,
        tmp_path,
    )
    assert check.returncode == 0 and check.outputs["exit_code"] == "0", check.stdout + check.stderr
    assert json.loads(check.outputs["apply"]) == {"include": []}
    assert check.outputs["apply_count"] == "0" and check.outputs["approve_count"] == "0"
    (skipped,) = results.read(repo.root / ".ephemera" / "results")
    assert (skipped.env, skipped.result, skipped.detail) == (
        "local-demo",
        results.SKIPPED,
        targets.LOCAL_APPLY,
    )
    assert targets.LOCAL_APPLY in check.summary

    # Even run for it, the apply job's own command leaves nothing behind.
    applied = run_step(
        "apply.yml",
        "apply",
        "Apply the saved plan (or destroy)",
        repo.root,
        {**values, "matrix.env": "local-demo"},
        tmp_path,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert f"local-demo: skipped: {targets.LOCAL_APPLY}" in applied.stdout
    leases = repo.root / ".ephemera" / "leases.db"
    assert not leases.exists() or SqliteLeaseStore(leases).get("local-demo") is None
    assert not (repo.root / ".ephemera" / "run" / "local-demo").exists()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # no mock API listens
