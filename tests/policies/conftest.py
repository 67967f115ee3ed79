"""One checkov run for every check test: all fixture plans in one batch (session-scoped).

The plans are the hand-written ones under tests/fixtures/policy/ (AWS providers
can't be downloaded here; codeskips/plan.json for the inline skips), the mock-api
stack plan of tests/fixtures/cost/, and two real plans of
tests/fixtures/policy/local-bind made by the embedded Terraform (built-in
provider only, so init and plan work offline).

`policy_project` is the project (and cache) of that run: checking one of these
plans again with it reads the cache instead of starting checkov.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ephemera.gate.policy import PolicyResult, check_plans
from ephemera.project import Project
from ephemera.terraform.runner import Terraform

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "policy"
MOCK_API_PLAN = REPO_ROOT / "tests" / "fixtures" / "cost" / "mock-api.plan.json"
CODESKIPS_PLAN = FIXTURES / "codeskips" / "plan.json"
REAL_BINDS = {"real-loopback": "127.0.0.1", "real-any": "0.0.0.0"}  # noqa: S104 - data, no bind


def real_bind_plans(workdir: Path) -> dict[str, Path]:
    """`terraform init`, `plan -out`, `show -json` of the local-bind fixture, per bind address."""
    source = workdir / "local-bind"
    shutil.copytree(FIXTURES / "local-bind", source)
    terraform = Terraform(data_dir=workdir / "tf-data", plugin_cache=workdir / "plugin-cache")
    terraform.run(["init", "-input=false", "-no-color"], cwd=source, quiet=True)
    plans = {}
    for name, address in REAL_BINDS.items():
        binary = workdir / f"{name}.tfplan"
        terraform.run(
            ["plan", "-input=false", "-no-color", f"-var=bind_address={address}", f"-out={binary}"],
            cwd=source,
            quiet=True,
        )
        shown = terraform.run(["show", "-json", "-no-color", str(binary)], cwd=source, quiet=True)
        plans[name] = workdir / f"{name}.plan.json"
        plans[name].write_text(shown.stdout)
    return plans


@pytest.fixture(scope="session")
def policy_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("policy-checks")


@pytest.fixture(scope="session")
def policy_project(policy_workdir: Path) -> Project:
    """The repository with a runtime home (and policy cache) of its own for the session."""
    return Project(root=REPO_ROOT, home=policy_workdir / "home")


@pytest.fixture(scope="session")
def scanned_plans(policy_workdir: Path) -> dict[str, Path]:
    """The plan.json files by fixture name ("s3.pass", "mock-api", "real-any" …)."""
    plans = {p.name.removesuffix(".plan.json"): p for p in sorted(FIXTURES.glob("*.plan.json"))}
    plans["mock-api"] = MOCK_API_PLAN
    plans["codeskips"] = CODESKIPS_PLAN
    plans.update(real_bind_plans(policy_workdir))
    return plans


@pytest.fixture(scope="session")
def scanned(policy_project: Project, scanned_plans: dict[str, Path]) -> dict[str, PolicyResult]:
    """Results by fixture name, from one checkov run, with no skip of any kind."""
    return check_plans(policy_project, scanned_plans)
