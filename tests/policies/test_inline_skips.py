"""Inline `#checkov:skip` comments on a real checkov plan scan (tests/fixtures/policy/codeskips):
a failure is skipped, with the comment's reason, only where the comment's resource block is.

The plan was checked in the session's one checkov batch (`scanned`, no skips); checking it
again with the code skips reads that cached raw result, so it shows the skips are applied
after the cache, and starts no checkov.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ephemera.gate.policy import PolicyResult, check_plans, format_result
from ephemera.gate.skips import find_code_skips
from ephemera.project import Project

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "policy" / "codeskips"
BUILT_IN = {"CKV_AWS_18", "CKV_AWS_21", "CKV_AWS_144", "CKV_AWS_145"}
BUCKETS = {
    "aws_s3_bucket.root",
    "module.twin.aws_s3_bucket.this",
    "module.web.aws_s3_bucket.plain",
    "module.web.aws_s3_bucket.this",
    'module.web.module.inner["a"].aws_s3_bucket.deep',
}


@pytest.fixture(scope="module")
def with_code_skips(
    policy_project: Project, scanned: dict[str, PolicyResult], scanned_plans: dict[str, Path]
) -> PolicyResult:
    code = find_code_skips(FIXTURE / "tf", FIXTURE / "tf" / "stacks" / "app")
    plan = {"codeskips": scanned_plans["codeskips"]}
    return check_plans(policy_project, plan, code_skips={"codeskips": code})["codeskips"]


def test_without_code_skips_every_bucket_fails_the_built_in_checks(
    scanned: dict[str, PolicyResult],
) -> None:
    result = scanned["codeskips"]
    failed = {(f.check_id, f.resource) for f in result.failed}
    assert {(check, bucket) for check in BUILT_IN for bucket in BUCKETS} <= failed
    assert result.skipped == [] and result.in_code == {}


def test_a_comment_skips_its_own_resource_with_its_reason(with_code_skips: PolicyResult) -> None:
    result = with_code_skips
    assert result.cached  # the raw result of the batch; skips came after the cache
    skipped = {
        (f.check_id, f.resource): (reason, result.skipped_by(f), result.in_code[f])
        for f, reason in result.skipped
    }
    assert skipped == {
        ("CKV_AWS_18", "module.web.aws_s3_bucket.this"): (
            "web: access logs are not kept for an hours-long test bucket",
            "in code",
            "modules/web/main.tf:24",
        ),
        ("CKV_AWS_21", "module.twin.aws_s3_bucket.this"): (
            "twin: versioning is off for this bucket only",
            "in code",
            "modules/twin/main.tf:2",
        ),
        ("CKV_AWS_144", 'module.web.module.inner["a"].aws_s3_bucket.deep'): (
            "inner: the bucket is re-created on every apply",
            "in code",
            "modules/web/inner/main.tf:2",
        ),
        ("CKV_AWS_144", "aws_s3_bucket.root"): (
            "stack: the bucket's one object is re-uploaded from git on every apply",
            "in code",
            "stacks/app/main.tf:18",
        ),
    }


def test_the_same_check_elsewhere_still_fails(
    with_code_skips: PolicyResult, scanned: dict[str, PolicyResult]
) -> None:
    failed = {(f.check_id, f.resource) for f in with_code_skips.failed}
    # no comment on this resource
    assert ("CKV_AWS_18", "module.web.aws_s3_bucket.plain") in failed
    # twin's CKV_AWS_21 skip is on module.twin's aws_s3_bucket.this, not module.web's
    assert ("CKV_AWS_21", "module.web.aws_s3_bucket.this") in failed
    # …and web's CKV_AWS_18 skip is not module.twin's
    assert ("CKV_AWS_18", "module.twin.aws_s3_bucket.this") in failed
    # a comment without a reason skips nothing at plan time
    assert ("CKV_AWS_145", "module.twin.aws_s3_bucket.this") in failed
    # the comments outside resource blocks (a locals block, a heredoc) skip nothing
    assert ("CKV_AWS_21", "module.web.aws_s3_bucket.plain") in failed
    assert len(with_code_skips.failed) == len(scanned["codeskips"].failed) - 4
    assert with_code_skips.passed == scanned["codeskips"].passed


def test_the_report_says_where_each_skip_comes_from(with_code_skips: PolicyResult) -> None:
    text = format_result(with_code_skips)
    lines = text.splitlines()
    start = lines.index("skipped:")
    assert lines[start + 1].split() == ["CHECK", "RESOURCE", "SKIPPED", "BY", "REASON"]
    assert all(" in code " in line for line in lines[start + 2 :])
    assert "(cached: checkov not run" in lines[0]
