"""A deploy that changes nothing starts no Terraform command it does not need: no init
while the stack, its modules, the backend and the data dir are as the last successful
init left them, and no `terraform output` when nothing was applied. And where that
could go wrong: an init that did not finish (killed, failed) is never skipped, and the
outputs a no-change deploy records are the state's, however stale the lease's were.
Real embedded Terraform and checkov on the terraform_data fixture stack."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from ephemera import lifecycle
from ephemera.errors import CommandError
from ephemera.leases import ACTIVE, SqliteLeaseStore
from ephemera.project import Project
from ephemera.terraform import initmark
from tests.ci.helpers import edit, real_checkov
from tests.fixtures.ci.builder import FIXTURE_MODULE, FixtureRepo, make_repo

pytestmark = pytest.mark.integration

ENV = "svc-00"
deploy_module = importlib.import_module("ephemera.lifecycle.deploy")  # not the function


def count_outputs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each `terraform output` a deploy runs (read_outputs is the only one that does)."""
    calls: list[object] = []
    original = deploy_module.read_outputs
    monkeypatch.setattr(deploy_module, "read_outputs", lambda *a: calls.append(a) or original(*a))
    return calls


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FixtureRepo:
    real_checkov(monkeypatch)
    return make_repo(tmp_path / "repo", svc=1, api=0, policies=True)


@pytest.fixture
def ctx(repo: FixtureRepo) -> lifecycle.Context:
    project = Project(root=repo.root, home=repo.root / ".ephemera")
    said: list[str] = []
    return lifecycle.Context(project, SqliteLeaseStore(project.leases_db), echo=said.append)


def commands_of_last_run(ctx: lifecycle.Context) -> list[str]:
    """The Terraform commands of the newest run's log (`$ terraform init …` lines)."""
    logs = sorted(ctx.project.runs_dir(ENV).glob("*.log"), key=lambda p: p.stat().st_mtime_ns)
    lines = logs[-1].read_text().splitlines()
    return [line.split()[2] for line in lines if line.startswith("$ terraform ")]


def test_an_unchanged_plan_does_not_init_again(ctx: lifecycle.Context) -> None:
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["plan"]


def test_a_changed_module_or_a_lost_data_dir_inits_again(
    ctx: lifecycle.Context, repo: FixtureRepo
) -> None:
    lifecycle.plan(ctx, ENV)
    edit(repo, f"terraform/modules/{FIXTURE_MODULE}/main.tf", "count = ", "# a comment\n  count = ")
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]
    shutil.rmtree(ctx.project.work_dir(ENV) / "tfdata")
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]


def test_a_changed_backend_inits_again(ctx: lifecycle.Context, repo: FixtureRepo) -> None:
    lifecycle.plan(ctx, ENV)
    template = repo.path("templates/backend/local.hcl.j2")
    template.write_text(template.read_text() + "# the backend changed\n")
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]


def test_a_changed_terraform_setting_inits_again(
    ctx: lifecycle.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifecycle.plan(ctx, ENV)
    monkeypatch.setenv("TF_VAR_unused", "a variable: init reads none")
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["plan"]
    monkeypatch.setenv("TF_REGISTRY_CLIENT_TIMEOUT", "20")  # what init reads
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]


def test_an_init_that_did_not_finish_is_done_again(
    ctx: lifecycle.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies between init and its record (the record is what a finished
    init leaves): the next run inits."""
    lifecycle.plan(ctx, ENV)

    def dies(*_: object) -> None:
        raise KeyboardInterrupt  # as if the run were killed right after init

    ctx.project.stack_dir("ci-fixture").joinpath("main.tf").write_text(
        ctx.project.stack_dir("ci-fixture").joinpath("main.tf").read_text() + "\n# changed\n"
    )
    monkeypatch.setattr(initmark, "remember", dies)
    with pytest.raises(KeyboardInterrupt):
        lifecycle.plan(ctx, ENV)
    monkeypatch.undo()
    record = ctx.project.work_dir(ENV) / initmark.RECORD_FILE
    assert not record.exists()
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]


def test_a_failed_init_is_not_recorded(ctx: lifecycle.Context, repo: FixtureRepo) -> None:
    lifecycle.plan(ctx, ENV)
    template = repo.path("templates/backend/local.hcl.j2")
    good = template.read_text()
    template.write_text(good + "no_such_setting = true\n")
    with pytest.raises(CommandError, match=f"{ENV}: init"):
        lifecycle.plan(ctx, ENV)
    assert not (ctx.project.work_dir(ENV) / initmark.RECORD_FILE).exists()
    template.write_text(good)
    lifecycle.plan(ctx, ENV)
    assert commands_of_last_run(ctx) == ["init", "plan"]


def test_a_no_change_deploy_reads_no_outputs_and_records_the_states(
    ctx: lifecycle.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs_read = count_outputs(monkeypatch)
    first = lifecycle.deploy(ctx, ENV)
    assert first.applied and commands_of_last_run(ctx) == ["init", "plan", "apply"]
    assert len(outputs_read) == 1
    outputs = first.lease.outputs
    assert outputs["service_id"]
    for stale in ({"service_id": "stale", "gone": 1}, {}):  # wrong ones, and none at all
        lease = ctx.store.get(ENV)
        ctx.store.update(lease.evolve(outputs=stale))
        again = lifecycle.deploy(ctx, ENV)
        assert not again.applied
        assert commands_of_last_run(ctx) == ["plan"] and len(outputs_read) == 1
        assert again.lease.status == ACTIVE and again.lease.outputs == outputs


def test_an_output_only_change_is_applied(ctx: lifecycle.Context, repo: FixtureRepo) -> None:
    lifecycle.deploy(ctx, ENV)
    outputs = repo.path("terraform/stacks/ci-fixture/outputs.tf")
    outputs.write_text(
        outputs.read_text()
        + '\noutput "label" {\n  description = "A new output."\n  value       = "svc"\n}\n'
    )
    changed = lifecycle.deploy(ctx, ENV)
    assert changed.applied and changed.plan.outputs_changed == 1
    assert changed.plan.counts_text() == "+0 ~0 -0, 1 output(s)"
    assert changed.lease.outputs["label"] == "svc"


def test_a_plan_without_a_state_has_its_outputs_read(
    ctx: lifecycle.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    lifecycle.deploy(ctx, ENV)
    read = count_outputs(monkeypatch)
    _, rendered = lifecycle.prepare(ctx, ENV)
    stateless = lifecycle.PlanSummary(ENV, 0, 0, 0, Path("plan.json"), "digest")
    try:
        assert deploy_module._unchanged_outputs(ctx, rendered, stateless, saved=False)["service_id"]
    finally:
        lifecycle.close_terraform(ctx, ENV)
    assert len(read) == 1


def test_a_saved_plan_has_the_outputs_of_the_state_now(
    ctx: lifecycle.Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saved plan (made in CI at pull-request time) read a state that may have moved
    on: a no-change deploy from it reads the state's outputs as they are now."""
    lifecycle.deploy(ctx, ENV)
    read = count_outputs(monkeypatch)
    _, rendered = lifecycle.prepare(ctx, ENV)
    made_earlier = lifecycle.PlanSummary(
        ENV, 0, 0, 0, Path("plan.json"), "digest", state_outputs={"service_id": "stale"}
    )
    try:
        now = deploy_module._unchanged_outputs(ctx, rendered, made_earlier, saved=True)
    finally:
        lifecycle.close_terraform(ctx, ENV)
    assert len(read) == 1 and now["service_id"] not in (None, "stale")
