"""The gate between plan and apply: policy failures and budget breaches stop a deploy
(GateFailed, exit 1); the estimate of the mock-api plan is checked against a budget."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ephemera import gate
from ephemera.environment import Environment
from ephemera.errors import EXIT_FAILED
from ephemera.gate.cost import CostEstimate
from ephemera.gate.evaluate import estimate_cost
from ephemera.gate.policy import PolicyFinding, PolicyResult
from tests.conftest import REPO_ROOT

PLAN = REPO_ROOT / "tests" / "fixtures" / "cost" / "mock-api.plan.json"


def env(budget: float | None) -> Environment:
    return Environment(
        name="test-api",
        stack="mock-api",
        target="aws",
        owner="a@example.com",
        ttl=timedelta(hours=8),
        ttl_text="8h",
        max_ttl=timedelta(days=7),
        source=Path("environments/test-api.yaml"),
        region="eu-west-1",
        budget=budget,
    )


def test_the_mock_api_estimate_against_a_budget():
    plan = json.loads(PLAN.read_text())
    estimate, over = estimate_cost(env(budget=1.00), plan)
    assert 0.5 < estimate.total_usd < 0.6 and over is None
    estimate, over = estimate_cost(env(budget=0.25), plan)
    assert over is not None and over.startswith("test-api: budget: the estimate $0.53")


def test_policy_failure_or_budget_breach_stop_the_deploy():
    finding = PolicyFinding("CKV_EPH_6", "terraform_data.mock_api", "binds 0.0.0.0", "plan.json")
    cheap = CostEstimate(total_usd=0.0, per_hour_usd=0.0, lines=[])
    gate.enforce(env(None), gate.GateResult(PolicyResult("test-api"), cheap, None))

    with pytest.raises(gate.GateFailed, match="1 policy check") as caught:
        failed = PolicyResult("test-api", failed=[finding])
        gate.enforce(env(None), gate.GateResult(failed, cheap, None))
    assert caught.value.exit_code == EXIT_FAILED

    with pytest.raises(gate.GateFailed, match="over budget"):
        gate.enforce(env(0.1), gate.GateResult(PolicyResult("test-api"), cheap, "over"))
