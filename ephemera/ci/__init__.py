"""Pull requests: which environments a change affects, their plans and the comment,
and the apply on merge.

    git      revisions, the compared range, a revision as a scratch Project
    changes  affected environments, by fingerprint of their rendered inputs
    plan     ci-plan: plan the affected environments, gate them, write the comment
    comment  the pull-request comment, a pure function of the results
    apply    ci-apply: apply what a merge changed, destroy what it deleted
"""

from ephemera.ci.apply import apply_command, ci_apply
from ephemera.ci.plan import ci_plan, plan_command

__all__ = ["apply_command", "ci_apply", "ci_plan", "plan_command"]
