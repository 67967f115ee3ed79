"""CKV_EPH_6: the local stack's mock API (a terraform_data) binds to loopback only.

Applies to terraform_data resources whose `input` is a map with `bind_address`
(the local-mock-api stack's process). Passes for 127.0.0.0/8, ::1 ([::1],
::ffff:127.x) and localhost; fails for anything else (0.0.0.0, ::, a LAN
address, a host name) and for a bind_address unknown until apply. Other
terraform_data resources, and a static scan's unresolved `var.x`: UNKNOWN
(not reported).

checkov's plan parser includes terraform_data (a built-in provider resource)
like any other managed resource; see README.md.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import (
    address_of,
    after_unknown,
    is_expression,
    is_loopback,
    mapping,
    plan_of,
    scalar,
)


class LocalBindLoopback(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="The local mock API binds to a loopback address only",
            id="CKV_EPH_6",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["terraform_data"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["input/[0]/bind_address"]
        data = mapping(conf.get("input"))
        if data is None or "bind_address" not in data:
            plan = plan_of(conf)
            unknown = after_unknown(plan, address_of(conf)).get("input") if plan else None
            if isinstance(unknown, dict) and unknown.get("bind_address") is True:
                self.details.append("bind_address is not known until apply")
                return CheckResult.FAILED
            return CheckResult.UNKNOWN
        address = scalar(data["bind_address"])
        if is_loopback(address):
            return CheckResult.PASSED
        if plan_of(conf) is None and is_expression(address):
            return CheckResult.UNKNOWN  # static scan: a variable without a default
        self.details.append(f"bind_address {address!r} is not a loopback address")
        return CheckResult.FAILED


check = LocalBindLoopback()
