"""The gate between plan and apply: the policy checks (checkov on plan.json) and
the cost over the TTL against the environment's budget.

`plan` reports what the gate says; `deploy` stops before apply when it fails.
The estimate is saved beside the plan (`cost.json`) so `status` can show the
cost so far and the cost remaining.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ephemera import codeskips, cost, policy
from ephemera.errors import EphemeraError
from ephemera.model import Environment
from ephemera.project import Project

COST_FILE = "cost.json"


class GateFailed(EphemeraError):
    """Policy failed or the estimate is over budget: nothing was applied (exit 1)."""


@dataclass(frozen=True)
class GateResult:
    policy: policy.PolicyResult
    estimate: cost.CostEstimate
    over_budget: str | None

    @property
    def ok(self) -> bool:
        return self.policy.ok and self.over_budget is None


def evaluate(project: Project, env: Environment, plan_json: Path) -> GateResult:
    """Check one planned environment (checkov result cached by plan and policies).

    Failures are skipped by the `#checkov:skip` comments in the stack snapshot the plan
    was made from (`.ephemera/work/<env>/tf/`) and by the environment's policy.skip.
    """
    result = policy.check_plans(
        project,
        {env.name: plan_json},
        {env.name: env.policy_skips},
        {env.name: codeskips.snapshot_skips(project, env)},
    )
    return GateResult(result[env.name], *_cost(project, env, plan_json))


def _cost(
    project: Project, env: Environment, plan_json: Path
) -> tuple[cost.CostEstimate, str | None]:
    estimate, over_budget = estimate_cost(env, json.loads(plan_json.read_text()))
    save_cost(project, env.name, estimate)
    return estimate, over_budget


def estimate_cost(env: Environment, plan: dict) -> tuple[cost.CostEstimate, str | None]:
    """The cost of `plan` over the env's TTL, and the budget breach if there is one
    (the one computation deploy, plan and ci-plan share)."""
    region = env.region or env.aws.get("region") or ""
    estimate = cost.estimate(plan, region, env.ttl, target=env.target)
    return estimate, cost.budget_check(estimate, env.budget, env=env.name)


def report(env: Environment, result: GateResult) -> str:
    """The policy table, the skips with reasons, the estimate and any budget breach."""
    lines = [policy.format_result(result.policy)]
    lines.append(f"cost: {cost.format_estimate(result.estimate, env.ttl_text)}")
    if result.over_budget:
        lines.append(result.over_budget)
    return "\n".join(lines)


def enforce(env: Environment, result: GateResult) -> None:
    if not result.ok:
        reasons = []
        if not result.policy.ok:
            reasons.append(f"{len(result.policy.failed)} policy check(s) failed")
        if result.over_budget:
            reasons.append("the estimate is over budget")
        raise GateFailed(f"{env.name}: not applied: {' and '.join(reasons)} (see above)")


def save_cost(project: Project, env: str, estimate: cost.CostEstimate) -> None:
    path = project.work_dir(env) / COST_FILE
    path.write_text(
        json.dumps({"per_hour_usd": estimate.per_hour_usd, "total_usd": estimate.total_usd})
    )


def per_hour(project: Project, env: str) -> float | None:
    """The saved hourly estimate of `env`'s last plan, if any."""
    try:
        return float(json.loads((project.work_dir(env) / COST_FILE).read_text())["per_hour_usd"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
