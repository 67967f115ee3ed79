"""Pull requests: which environments a change affects, their plans and the comment,
the apply on merge of what was approved, and the results and commands on the PR.

    git         revisions, the compared range, a revision as a scratch Project
    fingerprint what identifies an environment's inputs (rendered, or its sources)
    targets     what CI does with a target: local never, aws only when configured
    changes     affected environments, by fingerprint
    gateinputs  policies/, schemas/, the pricing table: re-gated, verdicts compared
    saved       saved plans, sealed (AES-GCM), with fingerprint and state serial
    planrun     plan one environment for CI; the one gate over a batch
    outcome     what happened to one environment, as JSON and as a comment row
    comment     the pull-request comment, a pure function of the results
    plan        ci-plan: plan the affected environments, gate them, write the comment
    merge       ci-merge: on merge, the saved plans that hold, re-plans for approval
    apply       ci-apply: apply a saved plan that holds, destroy what a merge deleted
    results     what the apply did, appended to the comment
    actions     the runner's job summary, step outputs, run link, grouped output
    github      the GitHub REST API (comments, labels, reactions, permissions, runs)
    publish     the comment, labels, re-plans and results onto the pull request
    commands    `/ephemera …` comment commands, parsed
    respond     a comment command honoured (write permission) and answered
"""

from ephemera.ci.apply import apply_command, ci_apply
from ephemera.ci.merge import ci_merge, merge_command
from ephemera.ci.plan import ci_plan, plan_command

__all__ = ["apply_command", "ci_apply", "ci_merge", "ci_plan", "merge_command", "plan_command"]
