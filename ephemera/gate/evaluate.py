"""The gate between plan and apply: the policy checks (checkov on plan.json) and
the cost over the TTL against the environment's budget.

`evaluate_all` is the one gate, for one plan or many: one checkov process for every
plan (cached by plan and policies), then each plan's cost. It never raises for one
environment's problem: a policy run that fails is every plan's `policy_error`, a cost
that cannot be estimated is that plan's `cost_error`. `evaluate` is the same gate for
one environment, raising those errors (deploy and plan); ci-plan reports them per
environment.

`plan` reports what the gate says; `deploy` stops before apply when it fails
(`enforce`). The estimate is saved beside the plan (`cost.json`) so `status` can show
the cost so far and the cost remaining.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephemera.environment import Environment
from ephemera.errors import EphemeraError
from ephemera.gate import cost, policy, skips
from ephemera.project import Project

COST_FILE = "cost.json"


class GateFailed(EphemeraError):
    """Policy failed or the estimate is over budget: nothing was applied (exit 1)."""


@dataclass(frozen=True)
class GateResult:
    policy: policy.PolicyResult | None
    estimate: cost.CostEstimate | None
    over_budget: str | None = None
    policy_error: EphemeraError | None = None  # checkov could not check the plan
    cost_error: EphemeraError | None = None  # the plan could not be priced

    @property
    def ok(self) -> bool:
        return (
            self.policy is not None
            and self.policy.ok
            and self.estimate is not None
            and self.over_budget is None
        )

    def raise_error(self) -> None:
        """Raise what stopped the gate from deciding (policy first), if anything did."""
        for error in (self.policy_error, self.cost_error):
            if error is not None:
                raise error


Planned = Mapping[str, tuple[Environment, Path]]  # env name → (environment, its plan.json)


def evaluate_all(project: Project, planned: Planned) -> dict[str, GateResult]:
    """The gate for every planned environment: policy in one checkov run, then cost.

    Failures are skipped by the `#checkov:skip` comments in the stack snapshot each
    plan was made from (`.ephemera/work/<env>/tf/`) and by the environment's
    policy.skip."""
    verdicts, policy_error = _check_policies(project, planned)
    results = {}
    for name, (env, plan_json) in planned.items():
        error = policy_error
        if error is None and name not in verdicts:
            error = EphemeraError(f"{name}: policy: no result")
        estimate, over_budget, cost_error = _cost(project, env, plan_json)
        results[name] = GateResult(verdicts.get(name), estimate, over_budget, error, cost_error)
    return results


def evaluate(project: Project, env: Environment, plan_json: Path) -> GateResult:
    """`evaluate_all` for one environment; raises what kept the gate from deciding."""
    result = evaluate_all(project, {env.name: (env, plan_json)})[env.name]
    result.raise_error()
    return result


def _check_policies(
    project: Project, planned: Planned
) -> tuple[dict[str, policy.PolicyResult], EphemeraError | None]:
    try:
        verdicts = policy.check_plans(
            project,
            {name: plan_json for name, (_, plan_json) in planned.items()},
            {name: env.policy_skips for name, (env, _) in planned.items()},
            {name: skips.snapshot_skips(project, env) for name, (env, _) in planned.items()},
        )
    except EphemeraError as exc:
        return {}, exc
    return verdicts, None


def _cost(
    project: Project, env: Environment, plan_json: Path
) -> tuple[cost.CostEstimate | None, str | None, EphemeraError | None]:
    """(estimate, budget breach, None), or (None, None, why it could not be priced)."""
    try:
        plan = json.loads(plan_json.read_text(encoding="utf-8"))
        estimate, over_budget = estimate_cost(env, plan)
    except EphemeraError as exc:
        return None, None, exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, None, EphemeraError(str(exc))
    save_cost(project, env.name, estimate)
    return estimate, over_budget, None


def estimate_cost(
    env: Environment, plan: dict, pricing: dict | None = None
) -> tuple[cost.CostEstimate, str | None]:
    """The cost of `plan` over the env's TTL, and the budget breach if there is one
    (`pricing`: another pricing table than the package's, e.g. a revision's)."""
    region = env.region or env.aws.get("region") or ""
    estimate = cost.estimate(plan, region, env.ttl, target=env.target, pricing=pricing)
    return estimate, cost.budget_check(estimate, env.budget, env=env.name)


def report(env: Environment, result: GateResult) -> str:
    """The policy table, the skips with reasons, the estimate and any budget breach."""
    lines = [policy.format_result(result.policy)] if result.policy else []
    if result.estimate is not None:
        lines.append(f"cost: {cost.format_estimate(result.estimate, env.ttl_text)}")
    if result.over_budget:
        lines.append(result.over_budget)
    return "\n".join(lines)


def verdict(result: GateResult) -> dict[str, Any]:
    """The gate's decision as JSON: what the provisioning API shows of a run."""
    checks = result.policy
    estimate = result.estimate
    return {
        "ok": result.ok,
        "policy_passed": len(checks.passed) if checks else None,
        "policy_failed": sorted({f.check_id for f in checks.failed}) if checks else None,
        "policy_skipped": len(checks.skipped) if checks else None,
        "over_budget": result.over_budget,
        "per_hour_usd": estimate.per_hour_usd if estimate else None,
        "total_usd": estimate.total_usd if estimate else None,
    }


def enforce(env: Environment, result: GateResult) -> None:
    if not result.ok:
        reasons = []
        if result.policy is not None and not result.policy.ok:
            reasons.append(f"{len(result.policy.failed)} policy check(s) failed")
        if result.over_budget:
            reasons.append("the estimate is over budget")
        raise GateFailed(f"{env.name}: not applied: {' and '.join(reasons)} (see above)")


def save_cost(project: Project, env: str, estimate: cost.CostEstimate) -> None:
    path = project.work_dir(env) / COST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"per_hour_usd": estimate.per_hour_usd, "total_usd": estimate.total_usd})
    )


def per_hour(project: Project, env: str) -> float | None:
    """The saved hourly estimate of `env`'s last plan, if any."""
    try:
        return float(json.loads((project.work_dir(env) / COST_FILE).read_text())["per_hour_usd"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
