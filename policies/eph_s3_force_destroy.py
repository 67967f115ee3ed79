"""CKV_EPH_3: S3 buckets set force_destroy = true.

An ephemeral environment must be destroyable by the janitor without anyone
emptying its buckets first. Plan scans see the provider default (false) when
it is not set; static scans fail a bucket that does not set it, and say
nothing (UNKNOWN) about a variable they could not resolve.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import first, is_expression, plan_of


class S3ForceDestroy(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="S3 buckets set force_destroy = true, so the environment can be destroyed",
            id="CKV_EPH_3",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["aws_s3_bucket"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["force_destroy"]
        value = first(conf, "force_destroy")
        if value is True:
            return CheckResult.PASSED
        if plan_of(conf) is None and is_expression(value):
            return CheckResult.UNKNOWN  # static scan: a variable without a default
        self.details.append(
            f"force_destroy is {value!r}" if "force_destroy" in conf else "force_destroy is not set"
        )
        return CheckResult.FAILED


check = S3ForceDestroy()
