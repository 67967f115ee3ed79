"""CKV_EPH_5: ECS desired_count and auto scaling max_capacity stay within max_tasks.

The environment's declared maximum number of tasks reaches the plan as the
stack's root variable `max_tasks` (Ephemera passes it like any stack input);
the check reads `variables.max_tasks.value` of the plan. It applies to
aws_ecs_service (`desired_count`) and to aws_appautoscaling_target with
service_namespace = "ecs" (`max_capacity`). A plan with ECS capacity but no
`max_tasks` variable fails: the limit must be declared. A value unknown until
apply fails too (it can't be verified). Static scans: UNKNOWN.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import MISSING, as_int, first, plan_of, variable

ATTRIBUTE = {"aws_ecs_service": "desired_count", "aws_appautoscaling_target": "max_capacity"}


class EcsMaxTasks(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="ECS desired_count and auto scaling max_capacity stay within max_tasks",
            id="CKV_EPH_5",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=list(ATTRIBUTE),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if (
            self.entity_type == "aws_appautoscaling_target"
            and first(conf, "service_namespace") != "ecs"
        ):
            return CheckResult.UNKNOWN
        plan = plan_of(conf)
        if plan is None:
            return CheckResult.UNKNOWN
        attribute = ATTRIBUTE[self.entity_type]
        self.evaluated_keys = [attribute]
        declared = variable(plan, "max_tasks")
        limit = None if declared is MISSING else as_int(declared)
        if limit is None:
            self.details.append(
                "the plan has no usable max_tasks variable"
                + ("" if declared is MISSING else f" ({declared!r})")
                + ", so the task limit is unknown"
            )
            return CheckResult.FAILED
        count = as_int(first(conf, attribute))
        if count is None:
            self.details.append(
                f"{attribute} is not known until apply ({first(conf, attribute)!r})"
            )
            return CheckResult.FAILED
        if count > limit:
            self.details.append(f"{attribute} = {count} exceeds max_tasks = {limit}")
            return CheckResult.FAILED
        return CheckResult.PASSED


check = EcsMaxTasks()
