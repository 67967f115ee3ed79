"""ci-apply (ephemera.ci.apply): what a merge changed is applied, what it deleted
destroyed; faked lifecycle for the orchestration, real Terraform and checkov for the
integration test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ephemera import ci, lifecycle
from ephemera.errors import UsageError
from ephemera.leases import ACTIVE, DESTROYED, SqliteLeaseStore
from tests.fixtures.ci.builder import FixtureRepo, make_repo, svc_text

from .helpers import edit, real_checkov


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


def test_ci_apply_orchestration(repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed: list[str] = []
    destroyed: list[tuple[str, str]] = []

    def fake_deploy(ctx: lifecycle.Context, name: str) -> None:
        deployed.append(name)

    def fake_destroy(ctx: lifecycle.Context, name: str, **kwargs: Any) -> list[str]:
        # The deleted environment was rendered from the base revision first.
        tfvars = ctx.project.work_dir(name) / "terraform.tfvars"
        destroyed.append((name, tfvars.read_text()))
        return []

    monkeypatch.setattr(lifecycle, "deploy", fake_deploy)
    monkeypatch.setattr(lifecycle, "destroy", fake_destroy)
    store = SqliteLeaseStore(repo.root / ".ephemera" / "leases.db")
    from ephemera.durations import system_clock
    from ephemera.leases import Lease

    now = system_clock()
    store.put(
        Lease(
            env="svc-04",
            target="local",
            stack="ci-fixture",
            owner="team1@example.com",
            status=ACTIVE,
            created_at=now,
            status_changed_at=now,
        )
    )
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    repo.write("environments/svc-new.yaml", svc_text("svc-new", 7))
    edit(repo, "environments/svc-02.yaml", "replicas: 1", "replicas: many")
    repo.remove("environments/svc-04.yaml")
    repo.remove("environments/svc-03.yaml")  # never deployed: nothing to destroy
    repo.commit()
    said: list[str] = []
    code = ci.ci_apply(repo.root, base, echo=said.append, store=store)
    assert code == 1  # svc-02 is invalid
    assert sorted(deployed) == ["svc-01", "svc-new"]
    assert [name for name, _ in destroyed] == ["svc-04"]
    assert 'environment = "svc-04"' in destroyed[0][1]
    assert any("svc-03: environment file deleted; not deployed" in line for line in said)
    # One environment of the matrix at a time.
    deployed.clear()
    assert ci.ci_apply(repo.root, base, env="svc-new", store=store, echo=said.append) == 0
    assert deployed == ["svc-new"]
    assert ci.ci_apply(repo.root, base, env="svc-00", store=store, echo=said.append) == 0


@pytest.mark.integration
def test_ci_apply_with_real_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_checkov(monkeypatch)
    repo = make_repo(tmp_path / "repo", svc=1, api=0, policies=True)
    base = repo.git("rev-parse", "HEAD")
    repo.write("environments/svc-01.yaml", svc_text("svc-01", 1))
    added = repo.commit("add svc-01")
    store = SqliteLeaseStore(repo.root / ".ephemera" / "leases.db")
    said: list[str] = []
    assert ci.ci_apply(repo.root, base, echo=said.append, store=store) == 0, "".join(said)
    lease = store.get("svc-01")
    assert lease is not None and lease.status == ACTIVE
    assert any("policy svc-01: passed" in line for line in said)

    repo.remove("environments/svc-01.yaml")
    repo.commit("remove svc-01")
    said.clear()
    assert ci.ci_apply(repo.root, added, echo=said.append, store=store) == 0, "".join(said)
    lease = store.get("svc-01")
    assert lease is not None and lease.status == DESTROYED
