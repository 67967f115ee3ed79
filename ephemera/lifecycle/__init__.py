"""The lifecycle of an environment: plan, deploy, destroy, and its state lock.

context    what every operation needs; an environment's Terraform runner
plan       validate → render → init → plan (saved with its inputs' digest) → gate report
deploy     plan → gate → lease deploying → apply the saved plan → lease active
destroy    terraform destroy, verified empty, then the lease
predestroy the steps a stack's stack.yaml runs before terraform destroy (ECS scale to zero)
statelock  who holds the state lock; force-unlock
bootstrap  the AWS control plane (terraform/bootstrap): credentials checked, plan, apply
"""

from ephemera.lifecycle.context import (
    PHASES,
    Context,
    Events,
    close_terraform,
    no_events,
    terraform_for,
)
from ephemera.lifecycle.deploy import DeployResult, apply_saved_plan, deploy, read_outputs
from ephemera.lifecycle.destroy import destroy, never_deployed, state_resources
from ephemera.lifecycle.drift import DriftReport, drift
from ephemera.lifecycle.plan import (
    PLAN_FILE,
    PLAN_JSON,
    PlanSummary,
    init,
    make_plan,
    plan,
    prepare,
    run_gate,
    summarize_plan,
)
from ephemera.lifecycle.reconcile import Finding, reconcile
from ephemera.lifecycle.statelock import find_lock, force_unlock

__all__ = [
    "PHASES",
    "PLAN_FILE",
    "PLAN_JSON",
    "Context",
    "DeployResult",
    "DriftReport",
    "Events",
    "Finding",
    "PlanSummary",
    "apply_saved_plan",
    "close_terraform",
    "deploy",
    "destroy",
    "drift",
    "never_deployed",
    "no_events",
    "reconcile",
    "find_lock",
    "force_unlock",
    "init",
    "make_plan",
    "plan",
    "prepare",
    "read_outputs",
    "run_gate",
    "state_resources",
    "summarize_plan",
    "terraform_for",
]
