"""CKV_EPH_1: every taggable AWS resource carries ephemera:env, ephemera:owner, managed-by.

Taggable = the resource has a `tags` or `tags_all` attribute in the plan. The
tags checked are `tags_all` when the plan knows it (it merges the provider's
default_tags, which is how the stacks apply the environment's tags), else `tags`.
Each tag must be present and non-empty; when the plan has the root variables
`environment` / `owner` (Ephemera supplies both), `ephemera:env` / `ephemera:owner`
must equal them. Static scans: UNKNOWN (default_tags are not visible per resource).
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import MISSING, address_of, after_unknown, mapping, plan_of, variable

REQUIRED = ("ephemera:env", "ephemera:owner", "managed-by")
MATCH_VARIABLE = {"ephemera:env": "environment", "ephemera:owner": "owner"}


class RequiredTags(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="AWS resources carry the ephemera:env, ephemera:owner and managed-by tags",
            id="CKV_EPH_1",
            categories=[CheckCategories.CONVENTION],
            supported_resources=["aws_*"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if "tags" not in conf and "tags_all" not in conf:
            return CheckResult.UNKNOWN  # not taggable
        plan = plan_of(conf)
        if plan is None:
            return CheckResult.UNKNOWN  # static scan: default_tags are invisible here
        if "tags_all" in conf:
            self.evaluated_keys = ["tags_all"]
            tags = mapping(conf.get("tags_all")) or {}
        else:
            self.evaluated_keys = ["tags"]
            tags = mapping(conf.get("tags")) or {}
            if after_unknown(plan, address_of(conf)).get("tags_all") is True:
                self.details.append("tags_all is unknown until apply, so the tags can't be checked")
                return CheckResult.FAILED
        missing = [key for key in REQUIRED if not str(_plain(tags.get(key)) or "").strip()]
        if missing:
            self.details.append("missing tags: " + ", ".join(missing))
        for key, var_name in MATCH_VARIABLE.items():
            expected = variable(plan, var_name)
            actual = _plain(tags.get(key))
            if key not in missing and expected is not MISSING and actual != expected:
                self.details.append(f"tag {key} is {actual!r}, not {expected!r} (var.{var_name})")
        return CheckResult.FAILED if self.details else CheckResult.PASSED


def _plain(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


check = RequiredTags()
