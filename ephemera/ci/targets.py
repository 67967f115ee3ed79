"""What CI does with an environment, by its target.

- `local`: never planned or applied in CI. A runner's loopback process and its
  SQLite lease would be orphans the moment the job ends; ci-plan validates the
  environment and shows `LOCAL`, ci-apply skips it with that reason.
- `aws` without its control plane (`aws.state_bucket`, `aws.lease_table` in
  `_defaults.yaml`, the outputs of `make bootstrap`): validated, not planned, with a
  row saying what to configure. Recognised here from the merged documents
  (`unconfigured`), not from the text of the validation problem; the one problem it
  causes is the one at the environment's `target` key (`control_plane_problem`).
- `aws` in a workflow that has no AWS role (`without_credentials`: the workflow sets
  EPHEMERA_CI_AWS_ROLE from its repository variable, empty until AWS is set up, e.g.
  on a fork): validated, not planned, with a row naming the variable to set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ephemera.config import documents
from ephemera.config.validate import AWS_REQUIRED
from ephemera.errors import EphemeraError, Problem
from ephemera.project import Project

LOCAL = "local target: validated, not planned in CI"
LOCAL_APPLY = "local target: validated, not applied in CI"
TARGET_KEY = "target"
CREDENTIALS_VARIABLE = "EPHEMERA_CI_AWS_ROLE"
NO_CREDENTIALS = (
    "aws target: validated, not planned (this workflow has no AWS role: set the "
    "repository variables EPHEMERA_PLAN_ROLE_ARN, EPHEMERA_APPLY_ROLE_ARN and AWS_REGION)"
)


def not_configured(missing: tuple[str, ...]) -> str:
    """The row of an aws environment whose control plane is not configured."""
    return (
        f"aws target not configured: validated, not planned (set {' and '.join(missing)} "
        "in environments/_defaults.yaml: the outputs of make bootstrap)"
    )


def merged_document(project: Project, name: str) -> dict:
    """`_defaults.yaml` merged with the environment's file, unvalidated ({} if unreadable:
    config.merged_document says why)."""
    try:
        return documents.merged_document(project, name)
    except (EphemeraError, OSError):
        return {}


def unconfigured(project: Project, name: str) -> tuple[str, ...]:
    """The control-plane keys a target-aws environment lacks (() when it has them all,
    or its target is not aws)."""
    merged = merged_document(project, name)
    if merged.get("target") != "aws":
        return ()
    aws = merged.get("aws") if isinstance(merged.get("aws"), dict) else {}
    return tuple(f"aws.{key}" for key in AWS_REQUIRED if not aws.get(key))


def control_plane_problem(project: Project, name: str, problem: Problem) -> bool:
    """Whether `problem` is the one a missing control plane causes: at the `target` key
    of the environment's own file, or of `_defaults.yaml` when the target comes from
    there."""
    return problem.key == TARGET_KEY and problem.file in (
        _shown(project, name),
        project.relative(project.defaults_file),
    )


def _shown(project: Project, name: str) -> str:
    return project.relative(project.environment_file(name))


def no_aws_role(environ: Mapping[str, str]) -> bool:
    """The workflow says it has no AWS role (EPHEMERA_CI_AWS_ROLE set, and empty)."""
    return environ.get(CREDENTIALS_VARIABLE) == ""


def without_credentials(changes: list, environ: Mapping[str, str]) -> list:
    """`changes` (ephemera.ci.changes.Change), the valid aws ones marked not planned
    when the workflow has no AWS role."""
    if not no_aws_role(environ):
        return changes
    return [
        dataclasses.replace(c, not_planned=NO_CREDENTIALS)
        if c.target == "aws" and c.valid and not c.not_planned
        else c
        for c in changes
    ]


def not_applied(change) -> str:  # noqa: ANN001 - an ephemera.ci.changes.Change
    """Why ci-apply skips `change` ("" when it does not): its target."""
    if not change.not_planned:
        return ""
    return LOCAL_APPLY if change.target == "local" else change.not_planned
