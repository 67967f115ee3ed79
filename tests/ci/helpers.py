"""Shared by the tests of ci-plan and ci-apply: editing the fixture repository, reading
the comment's table, and fakes of Terraform and checkov."""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from ephemera import ci, lifecycle
from ephemera.ci import planrun, saved
from ephemera.gate import policy
from ephemera.gate.policy import PolicyFinding, PolicyResult
from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import REPO_ROOT
from tests.fixtures.ci.builder import FixtureRepo

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"


def edit(repo: FixtureRepo, relative: str, old: str, new: str) -> None:
    text = repo.read(relative)
    assert old in text
    repo.write(relative, text.replace(old, new, 1))


def table_rows(comment: str) -> dict[str, str]:
    rows = {}
    for line in comment.splitlines():
        match = re.match(r"^\| (?:⚠️ )?`([a-z0-9-]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


class FakeTerraform:
    """Stands in for init, plan, show and checkov; records what ran concurrently."""

    def __init__(self, failing_policy: set[str] = frozenset()) -> None:
        self.guard = threading.Lock()
        self.active: dict[str, int] = defaultdict(int)
        self.max_active: dict[str, int] = defaultdict(int)
        self.total = 0
        self.max_total = 0
        self.policy_calls: list[dict[str, Path]] = []
        self.failing_policy = failing_policy
        self.serial = 3
        self.resource_changes: list[dict[str, Any]] = []

    def init(self, ctx: lifecycle.Context, rendered: Any, log: Any) -> None:
        stack = rendered.root_dir.name
        with self.guard:
            self.active[stack] += 1
            self.total += 1
            self.max_active[stack] = max(self.max_active[stack], self.active[stack])
            self.max_total = max(self.max_total, self.total)
        for index in range(4):
            ctx.echo(f"{rendered.env} init {index}\n")
            time.sleep(0.01)
        with self.guard:
            self.active[stack] -= 1
            self.total -= 1

    def make_plan(self, ctx: lifecycle.Context, rendered: Any, log: Any) -> lifecycle.PlanSummary:
        for index in range(4):
            ctx.echo(f"{rendered.env} plan {index}\n")
            time.sleep(0.005)
        plan_json = rendered.work_dir / lifecycle.PLAN_JSON
        plan = {"resource_changes": self.resource_changes}
        plan_json.write_text(json.dumps(plan))
        (rendered.work_dir / lifecycle.PLAN_FILE).write_bytes(b"binary plan")
        return lifecycle.PlanSummary(
            rendered.env, 2, 1, 0, plan_json, rendered.digest, self.resource_changes
        )

    def show(self, ctx: lifecycle.Context, rendered: Any) -> str:
        return f"Plan for {rendered.env}: 2 to add, 1 to change, 0 to destroy.\n"

    def check_plans(
        self, project: Project, plans: dict[str, Path], skips: Any = None, code_skips: Any = None
    ) -> dict[str, PolicyResult]:
        self.policy_calls.append(dict(plans))
        results = {}
        for env in plans:
            result = PolicyResult(env=env)
            if env in self.failing_policy:
                result.failed.append(PolicyFinding("CKV_EPH_6", "terraform_data.x", "bad", "p"))
            results[env] = result
        return results

    def state_version(self, env: Any, session: Any = None) -> saved.StateVersion:
        return saved.StateVersion(self.serial, "fake-lineage")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeTerraform:
        monkeypatch.setattr(lifecycle, "init", self.init)
        monkeypatch.setattr(lifecycle, "make_plan", self.make_plan)
        monkeypatch.setattr(planrun, "show_plan", self.show)
        monkeypatch.setattr(policy, "check_plans", self.check_plans)
        monkeypatch.setattr(saved, "state_version", self.state_version)
        return self


PLAN_KEY = {"EPHEMERA_PLAN_KEY": "k" * 40}


def run_plan(
    repo: FixtureRepo, base: str, jobs: int = 4, environ: dict[str, str] | None = None
) -> tuple[int, list[str], str]:
    emitted: list[str] = []
    store = SqliteLeaseStore(repo.root / ".ephemera" / "leases.db")
    code = ci.ci_plan(
        repo.root,
        base,
        "HEAD",
        jobs,
        None,
        emit=emitted.append,
        store=store,
        environ=environ or {},
    )
    return code, emitted, (repo.root / "plan-comment.md").read_text()


def real_checkov(monkeypatch: pytest.MonkeyPatch) -> None:
    if not CHECKOV.is_file():
        pytest.skip("checkov is not installed in .venv-checkov (make setup)")
    monkeypatch.setenv("EPHEMERA_CHECKOV", str(CHECKOV))
