"""The policy and cost gate between plan and apply.

evaluate     the one gate, for one plan or many: policy, then cost, then the verdict
policy       checkov on plan.json with the custom checks; the one skip ranking
policycache  checkov's raw results by plan, policies and checkov version
checkov      starting checkov (its own virtualenv, offline) and reading its JSON
checkovd     the resident checker: checkov loaded once, a fork of it per scan
skips        the `#checkov:skip` comments of a stack and its modules
static       the static scan of terraform/ (`invoke policy-scan`)
cost         an estimate over the TTL and the budget check
pricing      what each resource type costs per hour (pricing.json)
"""

from ephemera.gate.evaluate import (
    GateFailed,
    GateResult,
    enforce,
    evaluate,
    evaluate_all,
    per_hour,
    report,
    verdict,
)
from ephemera.gate.policy import prestart

__all__ = [
    "GateFailed",
    "GateResult",
    "enforce",
    "evaluate",
    "evaluate_all",
    "per_hour",
    "prestart",
    "report",
    "verdict",
]
