"""What happened to one environment in ci-plan (or in the re-plan of a merge), and
how the comment and results.json show it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from ephemera import lifecycle
from ephemera.ci.changes import GATE, Change
from ephemera.ci.comment import EnvReport
from ephemera.durations import Clock
from ephemera.environment import Environment
from ephemera.gate import cost
from ephemera.gate.evaluate import GateResult
from ephemera.gate.policy import PolicyResult, format_result

REPLACE_ACTIONS = (["delete", "create"], ["create", "delete"])


def destructive(resources: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(addresses the plan deletes, addresses it replaces), from its resource_changes."""
    deleted, replaced = [], []
    for change in resources:
        actions = (change.get("change") or {}).get("actions") or []
        if actions == ["delete"]:
            deleted.append(str(change.get("address")))
        elif actions in REPLACE_ACTIONS:
            replaced.append(str(change.get("address")))
    return tuple(deleted), tuple(replaced)


@dataclass
class Outcome:
    """What happened to one affected environment."""

    change: Change
    env: Environment | None = None
    summary: lifecycle.PlanSummary | None = None
    plan_text: str = ""
    output: list[str] = field(default_factory=list)
    problems: tuple[str, ...] = ()
    error: str = ""
    gate: GateResult | None = None
    not_planned: str = ""  # validated, not planned: why (its target)
    saved: bool = False  # its plan was kept, sealed, for the apply

    @property
    def name(self) -> str:
        return self.change.env

    @property
    def policy(self) -> PolicyResult | None:
        return self.gate.policy if self.gate else None

    @property
    def policy_error(self) -> str:
        error = self.gate.policy_error if self.gate else None
        return error.message if error else ""

    @property
    def budget_error(self) -> str:
        return (self.gate.over_budget or "") if self.gate else ""

    @property
    def failed(self) -> bool:
        return bool(
            self.problems
            or self.error
            or self.policy_error
            or self.budget_error
            or (self.policy is not None and not self.policy.ok)
        )

    def policy_status(self) -> tuple[str, str]:
        if self.policy_error:
            return "error", self.policy_error.splitlines()[0][:120]
        if self.policy is None:
            return "", ""
        if self.policy.ok:
            skipped = sorted({finding.check_id for finding, _ in self.policy.skipped})
            return "passed", (f"skipped {', '.join(skipped)}" if skipped else "")
        return "failed", ", ".join(sorted({f.check_id for f in self.policy.failed}))

    def cost_text(self) -> str:
        """The cost line of the console output ('' before the gate ran)."""
        if self.gate is None or self.env is None:
            return ""
        if self.gate.estimate is None:
            message = self.gate.cost_error.message if self.gate.cost_error else "unknown"
            return f"{self.name}: cost not estimated: {message}"
        text = f"{self.name}: cost {cost.format_estimate(self.gate.estimate, self.env.ttl_text)}"
        return text + (f"\n{self.budget_error}" if self.budget_error else "")

    def cost_cell(self) -> str:
        """The cost cell of the comment's table."""
        if self.gate is None or self.env is None:
            return ""
        estimate = self.gate.estimate
        if estimate is None:
            return "not estimated"
        cell = f"{cost.money(estimate.total_usd)} over {self.env.ttl_text}"
        if estimate.unpriced:
            cell += f" (+{len(estimate.unpriced)} unpriced)"
        if self.budget_error:
            cell += f" ❌ over the ${self.env.budget:,.2f} budget"
        return cell

    def to_json(self) -> dict[str, Any]:
        status, detail = self.policy_status()
        data: dict[str, Any] = {
            **self.change.to_json(),
            "problems": list(self.problems),
            "error": self.error,
            "failed": self.failed,
            "not_planned": self.not_planned,
            "saved_plan": self.saved,
            "policy": {"status": status, "detail": detail},
        }
        if self.summary is not None:
            deleted, replaced = destructive(self.summary.resources)
            data.update(
                added=self.summary.added,
                changed=self.summary.changed,
                destroyed=self.summary.destroyed,
                deletes=list(deleted),
                replaces=list(replaced),
            )
        if self.policy is not None:
            data["policy"].update(
                failed=[f.__dict__ for f in self.policy.failed],
                skipped=[{**f.__dict__, "reason": r} for f, r in self.policy.skipped],
                passed=len(self.policy.passed),
            )
        if self.env is not None:
            data["ttl"] = self.env.ttl_text
        estimate = self.gate.estimate if self.gate else None
        if estimate is not None:
            data["cost"] = {
                "total_usd": float(estimate.total_usd),
                "per_hour_usd": float(estimate.per_hour_usd),
                "over_budget": self.budget_error,
            }
        return data


def _expiry(env: Environment | None, clock: Clock) -> str:
    if env is None:
        return ""
    expires = (clock() + env.ttl).astimezone(UTC)
    return f"{env.ttl_text} after apply (~{expires:%Y-%m-%d %H:%M} UTC if applied now)"


def env_report(outcome: Outcome, clock: Clock) -> EnvReport:
    status, detail = outcome.policy_status()
    summary = outcome.summary
    errors = [e for e in (outcome.error, outcome.policy_error, outcome.budget_error) if e]
    if outcome.policy is not None and not outcome.policy.ok:
        errors.append(format_result(outcome.policy))
    deleted, replaced = destructive(summary.resources) if summary else ((), ())
    return EnvReport(
        env=outcome.name,
        stack=outcome.change.stack,
        action=outcome.change.action,
        added=summary.added if summary else None,
        changed=summary.changed if summary else None,
        destroyed=summary.destroyed if summary else None,
        policy=status,
        policy_detail=detail,
        cost=outcome.cost_cell(),
        expiry=_expiry(outcome.env, clock) if outcome.change.action != GATE else "",
        plan_text=outcome.plan_text,
        problems=outcome.problems,
        error="\n\n".join(errors),
        reason=outcome.change.reason,
        artifact_path=f"{outcome.name}.plan.txt",
        not_planned=outcome.not_planned,
        deleted=deleted,
        replaced=replaced,
    )
