"""ci-plan (ephemera.ci.plan).

The unit tests replace Terraform and checkov with fakes to check the
orchestration: parallel plans, init serialized per stack, output grouped per
environment, one batched policy call, the comment, the exit code. The
integration test runs real Terraform (terraform_data stacks) and real checkov.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ephemera import ci
from ephemera.ci import changes, saved, targets
from ephemera.ci.comment import MARKER, NO_CHANGES
from ephemera.ci.planrun import InitLocks
from ephemera.errors import UsageError
from tests.conftest import REPO_ROOT, MotoServer
from tests.fixtures.ci.builder import STATE_BUCKET, FixtureRepo, api_text, make_repo, svc_text

from .helpers import PLAN_KEY, FakeTerraform, edit, real_checkov, run_plan, table_rows

# -------------------------------------------------------------- unit tests


def test_init_locks_serialize_per_stack_and_the_first_init_globally() -> None:
    locks = InitLocks()
    events: list[tuple[str, str]] = []
    guard = threading.Lock()

    def work(stack: str, name: str) -> None:
        with locks.hold(stack):
            with guard:
                events.append(("start", name))
            time.sleep(0.05)
            with guard:
                events.append(("end", name))

    def overlapping(names: set[str]) -> bool:
        running: set[str] = set()
        for kind, name in events:
            if kind == "start":
                running.add(name)
                if len(running & names) > 1:
                    return True
            else:
                running.discard(name)
        return False

    # Cold: the first inits of two stacks never overlap.
    threads = [threading.Thread(target=work, args=(s, s + "-1")) for s in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlapping({"a-1", "b-1"})
    # Warm: two stacks overlap; one stack never does.
    events.clear()
    threads = [
        threading.Thread(target=work, args=(stack, f"{stack}-{n}"))
        for stack in ("a", "b")
        for n in (2, 3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlapping({"a-2", "a-3"}) and not overlapping({"b-2", "b-3"})
    assert overlapping({"a-2", "a-3", "b-2", "b-3"})


def test_ci_plan_orchestration(repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTerraform(failing_policy={"svc-02"}).install(monkeypatch)
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "templates/terraform.tfvars.j2", "Do not edit", "Never edit")  # all 12
    repo.write("environments/svc-10.yaml", svc_text("svc-10", 10, aws=True))  # another stack
    text = repo.read("environments/svc-10.yaml").replace("ci-fixture", "ci-fixture-two")
    repo.write("environments/svc-10.yaml", text)
    shutil.copytree(
        repo.path("terraform/stacks/ci-fixture"), repo.path("terraform/stacks/ci-fixture-two")
    )
    repo.remove("environments/svc-05.yaml")
    repo.commit()
    code, emitted, comment = run_plan(repo, base, jobs=4)

    assert code == 1  # svc-02 failed the policy gate
    # init never ran twice at once for one stack, but different stacks overlapped.
    assert dict(fake.max_active) == {"ci-fixture": 1, "ci-fixture-two": 1}
    assert fake.max_total == 2
    # One batched policy call over every plan: the aws environments; the local ones
    # (api-NN) are validated and not planned.
    assert len(fake.policy_calls) == 1
    assert sorted(fake.policy_calls[0]) == [*(f"svc-{i:02d}" for i in range(5)), "svc-10"]
    # Each environment's output is one block holding only its own lines.
    blocks = [b for b in emitted if b.startswith("----- ") and "policy gate" not in b]
    assert len(blocks) == 12
    for block in blocks:
        env = block.split()[1]
        body = block.splitlines()[1:-1]
        if env.startswith("api-"):
            assert body == [f"==> {env}: {targets.LOCAL}"], block
            continue
        assert body and all(line.startswith(env + " ") for line in body), block
        assert [line for line in body if " init " in line] == [f"{env} init {i}" for i in range(4)]
    # The comment: every environment, the failure, the destroy, the local rows.
    rows = table_rows(comment)
    assert len(rows) == 13
    assert "❌ failed: CKV_EPH_6" in rows["svc-02"]
    assert "+2 ~1 -0" in rows["svc-00"] and "✅ passed" in rows["svc-00"]
    assert "**destroy**" in rows["svc-05"]
    assert f"⏭️ {targets.LOCAL}" in rows["api-03"] and "| — |" in rows["api-03"]
    assert comment.startswith(MARKER)
    assert "the apply on merge needs the repository secret EPHEMERA_PLAN_KEY" in comment
    # Artifacts: text and JSON, never the saved plan; without a key nothing is kept.
    ci_dir = repo.root / ".ephemera" / "ci"
    names = {p.name for p in ci_dir.iterdir()}
    assert {"results.json", "plan-comment.md", "svc-00.plan.txt", "svc-00.json"} <= names
    assert not any(n.endswith(".bin") or n == "plan.json" for n in names)
    assert list((repo.root / ".ephemera" / "ci-saved").iterdir()) == []
    results = json.loads((ci_dir / "results.json").read_text())
    assert results["head"] == repo.git("rev-parse", "HEAD")
    by_env = {r["env"]: r for r in results["environments"]}
    assert by_env["svc-02"]["failed"] is True
    assert by_env["svc-02"]["policy"]["failed"][0]["check_id"] == "CKV_EPH_6"
    assert by_env["svc-05"]["action"] == "destroy"
    assert by_env["api-01"]["not_planned"] == targets.LOCAL and not by_env["api-01"]["failed"]


def test_ci_plan_seals_each_plan_with_its_fingerprint_and_serial(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTerraform().install(monkeypatch)
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    edit(repo, "environments/api-01.yaml", "ttl: 8h", "ttl: 2h")
    head = repo.commit()
    code, _, comment = run_plan(repo, base, environ=PLAN_KEY)
    assert code == 0
    assert "Each plan is kept, sealed, for the apply on merge" in comment
    kept = repo.root / ".ephemera" / "ci-saved"
    assert sorted(p.name for p in kept.iterdir()) == ["svc-01.plan.enc"]  # never a local one
    sealed = (kept / "svc-01.plan.enc").read_bytes()
    assert b"binary plan" not in sealed
    plan = saved.read(kept, "svc-01", saved.require_key(PLAN_KEY))
    assert plan is not None and plan.plan == b"binary plan"
    assert (plan.commit, plan.state, plan.root) == (
        head,
        saved.StateVersion(fake.serial, "fake-lineage"),
        str(repo.root),
    )
    fingerprint = changes.fingerprint_revision(repo.root, head).fingerprints["svc-01"].digest
    assert plan.fingerprint == fingerprint
    assert (kept / "svc-01.plan.enc").stat().st_mode & 0o077 == 0


def test_ci_plan_passes_and_groups_for_github(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    FakeTerraform().install(monkeypatch)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit()
    code, emitted, comment = run_plan(repo, base)
    assert code == 0
    assert any(b.startswith("::group::svc-01 (update: settings: ttl)") for b in emitted)
    for block in (b for b in emitted if b.startswith("::group::")):
        lines = block.splitlines()
        assert lines[1].startswith("::stop-commands::") and lines[-1] == "::endgroup::"
        assert lines[-2] == "::" + lines[1].removeprefix("::stop-commands::") + "::"
    assert list(table_rows(comment)) == ["svc-01"]
    assert "2h after apply" in comment


def test_ci_plan_reports_invalid_environments(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTerraform().install(monkeypatch)
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-02.yaml", "replicas: 1", "replicas: many")
    edit(repo, "environments/svc-03.yaml", "ttl: 4h", "ttl: 5h")
    repo.commit()
    code, _, comment = run_plan(repo, base)
    assert code == 1
    rows = table_rows(comment)
    assert "❌ invalid" in rows["svc-02"] and "✅ passed" in rows["svc-03"]
    assert "environments/svc-02.yaml:" in comment and "replicas" in comment
    assert list(fake.policy_calls[0]) == ["svc-03"]


def test_ci_plan_refuses_an_environment_over_its_budget(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ephemera.gate import cost

    FakeTerraform().install(monkeypatch)

    def pricey(plan: Any, region: Any, ttl: Any, **kwargs: Any) -> cost.CostEstimate:
        hours = ttl.total_seconds() / 3600
        return cost.CostEstimate(2.5 * hours, 2.5, [], hours, region, "aws")

    monkeypatch.setattr(cost, "estimate", pricey)
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 4h\nbudget: 5")
    edit(repo, "environments/svc-02.yaml", "ttl: 4h", "ttl: 4h\nbudget: 50")
    repo.commit()
    code, emitted, comment = run_plan(repo, base)
    assert code == 1
    rows = table_rows(comment)
    assert "$10.00 over 4h ❌ over the $5.00 budget" in rows["svc-01"]
    assert "$10.00 over 4h |" in rows["svc-02"]
    assert "exceeds the budget of $5.00" in comment
    assert "❌ **1 failed**: `svc-01`" in comment


def test_ci_plan_with_nothing_affected(repo: FixtureRepo, tmp_path: Path) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("README.md", "docs only\n")
    repo.commit()
    output = tmp_path / "out" / "comment.md"
    emitted: list[str] = []
    code = ci.ci_plan(repo.root, base, output=output, emit=emitted.append)
    assert code == 0
    text = output.read_text()
    assert text.startswith(MARKER) and NO_CHANGES in text
    results = json.loads((repo.root / ".ephemera" / "ci" / "results.json").read_text())
    assert results["environments"] == []


def test_ci_plan_needs_head_checked_out(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit()
    repo.git("checkout", "-q", "--detach", base)
    with pytest.raises(UsageError, match="check out main first"):
        ci.ci_plan(repo.root, base, "main", emit=lambda _: None)


def test_a_pricing_change_re_gates_and_shows_the_costs_that_moved(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeTerraform().install(monkeypatch)
    nat = {"address": "aws_nat_gateway.x", "type": "aws_nat_gateway", "mode": "managed",
           "change": {"actions": ["create"], "after": {}}}  # fmt: skip
    fake.resource_changes = [nat]
    table = json.loads((REPO_ROOT / "ephemera/gate/pricing.json").read_text())
    repo.write("ephemera/gate/pricing.json", json.dumps(table))
    base = repo.commit("the pricing table, as it is")
    table["regions"]["us-east-1"]["nat_gateway"]["hour"] = 0.145
    repo.write("ephemera/gate/pricing.json", json.dumps(table))
    repo.commit("NAT gateways cost more")
    code, _, comment = run_plan(repo, base)
    assert code == 0
    rows = table_rows(comment.split("#### Gate verdicts changed")[0])
    assert sorted(rows) == [f"svc-{i:02d}" for i in range(6)]  # aws; api-NN are local
    verdicts = comment.split("#### Gate verdicts changed by this pull request")[1]
    assert (
        "| `svc-00` | policy passed; $0.360 over 4h | policy passed; $0.760 over 4h |" in verdicts
    )
    assert (
        "affected between" in comment
        and "gate inputs changed: ephemera/gate/pricing.json" in comment
    )


def test_an_update_that_replaces_or_destroys_is_highlighted_and_labelled(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = FakeTerraform().install(monkeypatch)
    fake.resource_changes = [
        {"address": "module.service.terraform_data.replica[0]",
         "change": {"actions": ["delete", "create"]}},
        {"address": "module.service.terraform_data.replica[1]", "change": {"actions": ["delete"]}},
    ]  # fmt: skip
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit()
    summary = tmp_path / "summary.md"
    code, _, comment = run_plan(repo, base, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    assert code == 0
    assert table_rows(comment)["svc-01"].startswith("| ⚠️ `svc-01` |")
    assert (
        "> `svc-01`: this update **replaces** `module.service.terraform_data.replica[0]` and "
        "**destroys** `module.service.terraform_data.replica[1]`." in comment
    )
    labels = json.loads((repo.root / ".ephemera" / "ci" / "labels.json").read_text())
    assert labels == {"ephemera:destroy": True, "ephemera:replace": True}
    assert summary.read_text().startswith(MARKER)  # the job summary is the comment


def test_plan_command_needs_a_base() -> None:
    with pytest.raises(UsageError, match="missing --base"):
        ci.plan_command("")


# --------------------------------------------------------- integration tests


SIZE_CHECK = """
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class NoMedium(BaseResourceCheck):
    def __init__(self):
        super().__init__(name="no medium replicas", id="CKV_EPH_99",
                         categories=[CheckCategories.GENERAL_SECURITY],
                         supported_resources=["terraform_data"])

    def scan_resource_conf(self, conf):
        data = (conf.get("input") or [{}])[0]
        size = data.get("size") if isinstance(data, dict) else None
        size = size[0] if isinstance(size, list) else size
        return CheckResult.FAILED if size == "medium" else CheckResult.PASSED


check = NoMedium()
"""


@pytest.mark.integration
def test_ci_plan_with_real_terraform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, moto: MotoServer
) -> None:
    real_checkov(monkeypatch)
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
    repo = make_repo(tmp_path / "repo", svc=4, api=1, policies=True, aws=True)
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-00.yaml", "replicas: 1", "replicas: 3")  # update
    repo.remove("environments/svc-02.yaml")  # destroy
    repo.write("environments/svc-04.yaml", svc_text("svc-04", 4, aws=True))  # create
    text = api_text("api-00", 0).replace("  port:", "  bind_address: 0.0.0.0\n  port:")
    repo.write("environments/api-00.yaml", text)  # local: validated, never planned
    repo.commit()

    code, emitted, comment = run_plan(repo, base, jobs=2, environ=PLAN_KEY)
    assert code == 0, "\n".join(emitted)
    rows = table_rows(comment)
    assert sorted(rows) == ["api-00", "svc-00", "svc-02", "svc-04"]
    assert rows["svc-00"].startswith("| `svc-00` | ci-fixture | update | +3 ~0 -0 | ✅ passed")
    assert "| $0.00 over 4h | 4h after apply" in rows["svc-00"]
    assert rows["svc-04"].startswith("| `svc-04` | ci-fixture | create | +1 ~0 -0 | ✅ passed")
    assert f"⏭️ {targets.LOCAL}" in rows["api-00"]
    assert "**destroy**" in rows["svc-02"]
    assert "module.service.terraform_data.replica[2] will be created" in comment
    plan_txt = repo.root / ".ephemera" / "ci" / "svc-00.plan.txt"
    assert "Plan: 3 to add, 0 to change, 0 to destroy." in plan_txt.read_text()
    assert not (repo.root / ".ephemera" / "work" / "api-00" / "plan.bin").exists()
    kept = sorted(p.name for p in (repo.root / ".ephemera" / "ci-saved").iterdir())
    assert kept == ["svc-00.plan.enc", "svc-04.plan.enc"]

    # A pull request that only adds a policy: the gate re-runs for every aws
    # environment (nothing else changed), and the verdicts that moved are shown.
    head = repo.commit("merged")
    repo.write("policies/eph_fixture_size.py", SIZE_CHECK)
    repo.commit("a new policy")
    code, emitted, comment = run_plan(repo, head, jobs=2)
    assert code == 1, "\n".join(emitted)
    rows = table_rows(comment.split("#### Gate verdicts changed")[0])
    assert sorted(rows) == ["svc-00", "svc-01", "svc-03", "svc-04"]  # aws, valid
    assert all("| gate |" in row and row.endswith("| — |") for row in rows.values())
    assert "❌ failed: CKV_EPH_99" in rows["svc-00"] and "✅ passed" in rows["svc-01"]
    assert "#### Gate verdicts changed by this pull request" in comment
    assert "| `svc-00` | policy passed; $0.00 over 4h | policy failed (CKV_EPH_99)" in comment
    assert "| `svc-01` |" not in comment.split("#### Gate verdicts changed")[1].split("<details")[0]
    results = json.loads((repo.root / ".ephemera" / "ci" / "results.json").read_text())
    assert [v["env"] for v in results["verdicts_changed"]] == ["svc-00", "svc-04"]
    assert list((repo.root / ".ephemera" / "ci-saved").iterdir()) == []  # nothing to apply
