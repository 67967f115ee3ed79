"""CKV_EPH_4: CloudWatch log groups set retention_in_days (> 0).

0 (the default) means "keep forever", which outlives the environment. Static
scans say nothing (UNKNOWN) about a variable they could not resolve.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import as_int, first, is_expression, plan_of


class LogRetention(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="CloudWatch log groups set retention_in_days (> 0)",
            id="CKV_EPH_4",
            categories=[CheckCategories.LOGGING],
            supported_resources=["aws_cloudwatch_log_group"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["retention_in_days"]
        days = as_int(first(conf, "retention_in_days"))
        if days is not None and days > 0:
            return CheckResult.PASSED
        if plan_of(conf) is None and is_expression(first(conf, "retention_in_days")):
            return CheckResult.UNKNOWN  # static scan: a variable without a default
        if "retention_in_days" not in conf:
            self.details.append("retention_in_days is not set (logs are kept forever)")
        else:
            self.details.append(f"retention_in_days is {first(conf, 'retention_in_days')!r}")
        return CheckResult.FAILED


check = LogRetention()
