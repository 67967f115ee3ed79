"""ci-apply (ephemera.ci.apply): what a merge changed is applied from the saved plan
that holds, what it deleted destroyed, local targets skipped; faked lifecycle for the
orchestration, real Terraform, checkov and moto for the destroy (the saved-plan paths
with real Terraform: test_saved_plans.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ephemera import ci, lifecycle
from ephemera.ci import changes, results, saved, targets
from ephemera.durations import system_clock
from ephemera.errors import UsageError
from ephemera.janitor.tfstate import count_s3_state
from ephemera.leases import ACTIVE, DESTROYED, Lease, SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import MotoServer
from tests.fixtures.ci.builder import STATE_BUCKET, FixtureRepo, make_repo, svc_text

from .helpers import PLAN_KEY, FakeTerraform, edit, real_checkov


def test_ci_apply_refuses_unknown_or_missing_revisions(repo: FixtureRepo, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown revision"):
        ci.ci_apply(repo.root, "does-not-exist")
    with pytest.raises(UsageError, match="zero commit"):
        ci.ci_apply(repo.root, "0" * 40)
    base = repo.git("rev-parse", "HEAD")
    repo.commit("second")
    shallow = tmp_path / "shallow"
    os.system(f"git clone -q --depth 1 file://{repo.root} {shallow}")  # noqa: S605
    with pytest.raises(UsageError, match="shallow"):
        ci.ci_apply(shallow, base)


def seal(repo: FixtureRepo, name: str, directory: Path, *, fingerprint: str = "") -> None:
    head = repo.git("rev-parse", "HEAD")
    digest = fingerprint or changes.fingerprint_revision(repo.root, head).fingerprints[name].digest
    plan = saved.SavedPlan(
        name, digest, head, saved.StateVersion(3, "fake-lineage"), str(repo.root), b"plan"
    )
    saved.write(directory, plan, saved.require_key(PLAN_KEY))


def test_ci_apply_orchestration(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    FakeTerraform().install(monkeypatch)  # the state serial: 3
    deployed: list[tuple[str, bytes | None]] = []
    destroyed: list[tuple[str, str]] = []

    def fake_deploy(ctx: lifecycle.Context, name: str, saved_plan: bytes | None = None) -> Any:
        deployed.append((name, saved_plan))
        summary = lifecycle.PlanSummary(name, 1, 0, 0, Path("plan.json"), "digest")
        return lifecycle.DeployResult(lease=None, plan=summary, applied=True)  # type: ignore[arg-type]

    def fake_destroy(ctx: lifecycle.Context, name: str, **kwargs: Any) -> list[str]:
        # The deleted environment was rendered from the base revision first.
        tfvars = ctx.project.work_dir(name) / "terraform.tfvars"
        destroyed.append((name, tfvars.read_text()))
        return []

    monkeypatch.setattr(lifecycle, "deploy", fake_deploy)
    monkeypatch.setattr(lifecycle, "destroy", fake_destroy)
    store = SqliteLeaseStore(repo.root / ".ephemera" / "leases.db")
    now = system_clock()
    for name in ("svc-04", "api-05"):
        store.put(
            Lease(
                env=name,
                target="local" if name.startswith("api") else "aws",
                stack="ci-fixture",
                owner="team1@example.com",
                status=ACTIVE,
                created_at=now,
                status_changed_at=now,
            )
        )
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    edit(repo, "environments/svc-05.yaml", "ttl: 4h", "ttl: 3h")
    repo.write("environments/svc-new.yaml", svc_text("svc-new", 7, aws=True))
    edit(repo, "environments/svc-02.yaml", "replicas: 1", "replicas: many")
    edit(repo, "environments/api-01.yaml", "ttl: 8h", "ttl: 2h")
    repo.remove("environments/svc-04.yaml")
    repo.remove("environments/svc-03.yaml")  # never deployed: nothing to destroy
    repo.remove("environments/api-05.yaml")  # local: not CI's to destroy
    repo.commit()
    kept = tmp_path / "saved"
    seal(repo, "svc-01", kept)
    seal(repo, "svc-05", kept, fingerprint="0" * 64)  # made from other inputs
    said: list[str] = []
    found = tmp_path / "results"
    code = ci.ci_apply(
        repo.root,
        base,
        saved_dir=kept,
        results_dir=found,
        echo=said.append,
        store=store,
        environ=PLAN_KEY,
    )
    assert code == 1
    assert deployed == [("svc-01", b"plan")]  # only the saved plan that holds
    assert [name for name, _ in destroyed] == ["svc-04"]
    assert 'environment = "svc-04"' in destroyed[0][1]
    by_env = {r.env: (r.result, r.detail) for r in results.read(found)}
    assert by_env == {
        "api-01": (results.SKIPPED, targets.LOCAL_APPLY),
        "api-05": (results.SKIPPED, targets.LOCAL_APPLY),
        "svc-01": (results.APPLIED, ""),
        "svc-02": (results.FAILED, by_env["svc-02"][1]),
        "svc-03": (results.NOTHING, ""),
        "svc-04": (results.DESTROYED, ""),
        "svc-05": (results.FAILED, by_env["svc-05"][1]),
        "svc-new": (results.FAILED, by_env["svc-new"][1]),
    }
    assert "replicas" in by_env["svc-02"][1]
    assert "not applied: its inputs changed since the plan of" in by_env["svc-05"][1]
    assert "not applied: no saved plan" in by_env["svc-new"][1]
    assert store.get("api-05").status == ACTIVE  # untouched
    # One environment of the matrix at a time.
    deployed.clear()
    args = {"saved_dir": kept, "store": store, "echo": said.append, "environ": PLAN_KEY}
    assert ci.ci_apply(repo.root, base, env="svc-01", **args) == 0
    assert deployed == [("svc-01", b"plan")]
    assert ci.ci_apply(repo.root, base, env="svc-00", **args) == 0  # not affected
    # A saved plan needs the key to be opened.
    with pytest.raises(UsageError, match="EPHEMERA_PLAN_KEY is not set"):
        saved.require_key({})
    assert ci.ci_apply(repo.root, base, env="svc-01", **{**args, "environ": {}}) == 1


def test_ci_merge_sorts_a_merge(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    FakeTerraform().install(monkeypatch)  # the state serial: 3
    base = repo.git("rev-parse", "HEAD")
    for name in ("svc-01", "svc-02"):
        edit(repo, f"environments/{name}.yaml", "ttl: 4h", "ttl: 2h")
    edit(repo, "environments/api-01.yaml", "ttl: 8h", "ttl: 2h")
    repo.remove("environments/svc-03.yaml")
    repo.commit()
    kept = tmp_path / "saved"
    seal(repo, "svc-01", kept)  # svc-02 has none: re-planned
    output = tmp_path / "output"
    environ = {**PLAN_KEY, "GITHUB_OUTPUT": str(output)}
    store = SqliteLeaseStore(tmp_path / "leases.db")
    args = {"saved_dir": kept, "replan_dir": tmp_path / "replans", "store": store}
    found = tmp_path / "results"
    code = ci.ci_merge(
        repo.root, base, results_dir=found, emit=lambda _: None, environ=environ, **args
    )
    assert code == 0
    decided = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert json.loads(decided["apply"])["include"] == [
        {"env": "svc-01", "action": "update"},
        {"env": "svc-03", "action": "destroy"},
    ]
    assert json.loads(decided["approve"])["include"] == [{"env": "svc-02", "action": "update"}]
    assert sorted(p.name for p in (tmp_path / "replans").iterdir()) == ["svc-02.plan.enc"]
    assert {r.env: r.result for r in results.read(found)} == {
        "api-01": results.SKIPPED,
        "svc-02": results.WAITING,
    }
    # Without the secret nothing unseen is applied: each aws change fails, naming it.
    output.write_text("")
    code = ci.ci_merge(
        repo.root, base, emit=lambda _: None, environ={"GITHUB_OUTPUT": str(output)}, **args
    )
    assert code == 1
    decided = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert json.loads(decided["apply"])["include"] == [{"env": "svc-03", "action": "destroy"}]
    assert decided["approve_count"] == "0"


@pytest.mark.integration
def test_ci_apply_destroys_a_deleted_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto: MotoServer
) -> None:
    real_checkov(monkeypatch)
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
    repo = make_repo(tmp_path / "repo", svc=2, api=0, policies=True, aws=True)
    store = SqliteLeaseStore(tmp_path / "leases.db")
    ctx = lifecycle.Context(Project.discover(root=repo.root), store, echo=lambda _: None)
    lifecycle.deploy(ctx, "svc-01")
    base = repo.git("rev-parse", "HEAD")
    repo.remove("environments/svc-01.yaml")
    repo.commit("remove svc-01")
    said: list[str] = []
    assert ci.ci_apply(repo.root, base, echo=said.append, store=store) == 0, "".join(said)
    lease = store.get("svc-01")
    assert lease is not None and lease.status == DESTROYED
    assert count_s3_state(moto.client("s3"), STATE_BUCKET, "svc-01") == 0
