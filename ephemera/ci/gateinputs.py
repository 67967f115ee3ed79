"""Gate inputs count as changes: a pull request that changes `policies/`, `schemas/`
or the pricing table (`ephemera/gate/pricing.json`) can change the gate's verdict or
the cost of an environment whose Terraform inputs it leaves alone.

Every environment CI plans that the change does not otherwise affect becomes a
`gate` change: it is planned (the gate reads a plan) and gated, nothing of it is
applied on merge (its Terraform inputs are unchanged), and its verdict under the
base revision's policies and prices is held against the head's, so the comment can
show the verdicts that changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ephemera import gate
from ephemera.ci import git
from ephemera.ci.changes import GATE, Change, Revision
from ephemera.ci.outcome import Outcome
from ephemera.environment import Environment
from ephemera.errors import EphemeraError
from ephemera.gate import cost
from ephemera.gate.evaluate import GateResult, Planned, estimate_cost
from ephemera.project import Project

PRICING_TABLE = "ephemera/gate/pricing.json"
GATE_PATHS = ("policies", "schemas", PRICING_TABLE)


@dataclass(frozen=True)
class Verdict:
    """What the gate says of one plan: policy status and failed checks, the cost."""

    policy: str  # passed | failed | error | "" (not checked)
    failed: tuple[str, ...] = ()
    cost: str = ""
    over_budget: bool = False

    def __str__(self) -> str:
        policy = f"policy {self.policy or 'not checked'}"
        if self.failed:
            policy += f" ({', '.join(self.failed)})"
        budget = ", over budget" if self.over_budget else ""
        return f"{policy}; {self.cost or 'cost not estimated'}{budget}"


def changed_gate_inputs(repo_root: Path, base_commit: str, head_commit: str) -> list[str]:
    """The gate inputs that differ between the two commits."""
    if base_commit == head_commit:
        return []
    return git.changed_paths(repo_root, base_commit, head_commit, GATE_PATHS)


def gate_changes(head: Revision, affected: list[Change], changed: list[str]) -> list[Change]:
    """A `gate` change for every environment CI plans that `affected` leaves out."""
    if not changed:
        return []
    shown = ", ".join(changed[:3]) + (f" (+{len(changed) - 3} more)" if len(changed) > 3 else "")
    seen = {c.env for c in affected}
    return [
        Change(
            name,
            GATE,
            head.stacks.get(name, ""),
            f"gate inputs changed: {shown}",
            target=head.targets.get(name, ""),
        )
        for name in sorted(head.fingerprints)
        if name not in seen and name not in head.invalid and not head.not_planned(name)
    ]


def pricing_of(root: Path) -> dict | None:
    """The pricing table of the checkout at `root` (None: the package's own)."""
    path = root / PRICING_TABLE
    return cost.load_pricing(path) if path.is_file() else None


def verdict(
    result: GateResult | None, env: Environment, plan_json: Path, pricing: dict | None
) -> Verdict:
    policy, failed = "", ()
    if result is not None and result.policy_error is not None:
        policy = "error"
    elif result is not None and result.policy is not None:
        policy = "passed" if result.policy.ok else "failed"
        failed = tuple(sorted({f.check_id for f in result.policy.failed}))
    try:
        estimate, over = estimate_cost(env, json.loads(plan_json.read_text()), pricing)
    except (EphemeraError, OSError, ValueError, KeyError, TypeError):
        return Verdict(policy, failed)
    return Verdict(
        policy, failed, f"{cost.money(estimate.total_usd)} over {env.ttl_text}", over is not None
    )


def base_verdicts(
    repo_root: Path, base_commit: str, project: Project, plans: Planned
) -> dict[str, Verdict]:
    """The verdicts under the base revision's policies and pricing table, of the plans
    made at head (`project.home` holds their stack snapshots, which the skips read)."""
    if not plans:
        return {}
    with git.checkout(repo_root, base_commit, "gate-base") as base:
        results = gate.evaluate_all(Project(root=base.root, home=project.home), plans)
        pricing = pricing_of(base.root)
        return {
            name: verdict(results.get(name), env, plan_json, pricing)
            for name, (env, plan_json) in plans.items()
        }


def changed_verdicts(
    project: Project, outcomes: list[Outcome], before: dict[str, Verdict]
) -> list[tuple[str, str, str]]:
    """(env, verdict at base, verdict at head) of each gate change whose verdict moved."""
    pricing = pricing_of(project.root)
    moved = []
    for outcome in outcomes:
        if outcome.name not in before or outcome.env is None or outcome.summary is None:
            continue
        after = verdict(outcome.gate, outcome.env, outcome.summary.plan_json, pricing)
        if after != before[outcome.name]:
            moved.append((outcome.name, str(before[outcome.name]), str(after)))
    return moved
