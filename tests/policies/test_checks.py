"""Each custom check on its pass and fail fixtures: the exact sets of resource addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ephemera.gate.policy import PolicyResult

pytestmark = pytest.mark.integration


def ids(result: PolicyResult, check_id: str) -> tuple[set[str], set[str]]:
    """(passed, failed) resource addresses of one check."""
    return (
        {f.resource for f in result.passed if f.check_id == check_id},
        {f.resource for f in result.failed if f.check_id == check_id},
    )


def test_every_fixture_was_scanned_and_nothing_was_cached(scanned: dict[str, PolicyResult]) -> None:
    assert len(scanned) == 19
    assert not any(result.cached for result in scanned.values())


def test_required_tags(scanned: dict[str, PolicyResult]) -> None:
    assert ids(scanned["tags.pass"], "CKV_EPH_1") == (
        {"aws_s3_bucket.with_default_tags", "aws_sqs_queue.explicit_tags"},
        set(),
    )
    assert ids(scanned["tags.fail"], "CKV_EPH_1") == (
        set(),
        {
            "aws_s3_bucket.no_tags",
            "aws_sqs_queue.missing_owner",
            "aws_ecs_cluster.wrong_env",
            "aws_cloudwatch_log_group.tags_all_unknown",
        },
    )
    failed = scanned["tags.fail"].failed
    messages = {f.resource: f.message for f in failed if f.check_id == "CKV_EPH_1"}
    assert messages["aws_sqs_queue.missing_owner"].endswith("missing tags: ephemera:owner")
    assert "'prod', not 'qa' (var.environment)" in messages["aws_ecs_cluster.wrong_env"]
    assert "unknown until apply" in messages["aws_cloudwatch_log_group.tags_all_unknown"]


def test_public_ingress(scanned: dict[str, PolicyResult]) -> None:
    assert ids(scanned["ingress.pass"], "CKV_EPH_2") == (
        {
            "aws_security_group.alb",  # 80/443 from 0.0.0.0/0 and ::/0, used by aws_lb.web
            "aws_security_group.app",  # ingress from the alb group only
            "aws_security_group.edge",  # used by module.edge's aws_lb through a module variable
            "aws_security_group_rule.alb_http_v6",
            "aws_security_group_rule.app_egress",  # egress is not this check's business
            "aws_vpc_security_group_ingress_rule.alb_https",
            "aws_vpc_security_group_ingress_rule.legacy_https",  # existing group, matched by ID
        },
        set(),
    )
    assert ids(scanned["ingress.fail"], "CKV_EPH_2") == (
        {"aws_security_group.alb", "aws_security_group.app"},  # no world ingress of their own
        {
            "aws_security_group.ssh_open",  # port 22, and no load balancer
            "aws_security_group.alb_wide",  # load balancer's, but ports 0-65535
            "aws_security_group.app_public",  # 443, but no load balancer uses it
            "aws_vpc_security_group_ingress_rule.app_http",  # 80 onto a non-LB group
            "aws_security_group_rule.alb_all",  # protocol -1 from ::/0
            "aws_vpc_security_group_ingress_rule.alb_range",  # 80-443 is a range
            "aws_vpc_security_group_ingress_rule.alb_udp",  # udp 443
        },
    )
    messages = {f.resource: f.message for f in scanned["ingress.fail"].failed}
    assert "no aws_lb uses" in messages["aws_security_group.app_public"]
    assert "tcp port 22" in messages["aws_security_group.ssh_open"]
    assert "all ports and protocols" in messages["aws_security_group_rule.alb_all"]


def test_s3_force_destroy(scanned: dict[str, PolicyResult]) -> None:
    assert ids(scanned["s3.pass"], "CKV_EPH_3") == (
        {"aws_s3_bucket.scratch", "aws_s3_bucket.logs[0]", "aws_s3_bucket.logs[1]"},
        set(),
    )
    # aws_s3_bucket.old is being deleted: not in the planned values, not checked.
    assert ids(scanned["s3.fail"], "CKV_EPH_3") == (
        set(),
        {"aws_s3_bucket.keep", "module.data.aws_s3_bucket.this"},
    )


def test_log_retention(scanned: dict[str, PolicyResult]) -> None:
    assert ids(scanned["logs.pass"], "CKV_EPH_4") == (
        {"aws_cloudwatch_log_group.app", "aws_cloudwatch_log_group.audit"},
        set(),
    )
    assert ids(scanned["logs.fail"], "CKV_EPH_4") == (set(), {"aws_cloudwatch_log_group.forever"})


def test_ecs_max_tasks(scanned: dict[str, PolicyResult]) -> None:
    # max_tasks = 3; the dynamodb scaling target is not ECS capacity, so not reported
    assert ids(scanned["ecs.pass"], "CKV_EPH_5") == (
        {"aws_ecs_service.api", "aws_appautoscaling_target.api"},
        set(),
    )
    assert ids(scanned["ecs.fail"], "CKV_EPH_5") == (
        {"aws_ecs_service.small"},
        {"aws_ecs_service.big", "aws_appautoscaling_target.big"},
    )
    assert ids(scanned["ecs.no-max-tasks"], "CKV_EPH_5") == (set(), {"aws_ecs_service.api"})
    (finding,) = [f for f in scanned["ecs.no-max-tasks"].failed if f.check_id == "CKV_EPH_5"]
    assert "no usable max_tasks variable" in finding.message


def test_control_plane_from_anywhere(scanned: dict[str, PolicyResult]) -> None:
    assert ids(scanned["control.pass"], "CKV_EPH_7") == (
        {
            "aws_lb_listener.serve",  # /mockserver/status open, the team's CIDRs, then 403
            "aws_lb_listener.redirect",  # forwards nothing
            "aws_lb_listener.login",  # authenticate-oidc before forward
            "module.edge.aws_lb_listener.this",  # its refusing rule is in the module
        },
        set(),
    )
    assert ids(scanned["control.fail"], "CKV_EPH_7") == (
        set(),
        {
            "aws_lb_listener.open",  # no rules: the default action forwards everything
            "aws_lb_listener.world_team",  # the "team" rule lists 0.0.0.0/0
            "aws_lb_listener.unprotected_twin",  # the refusing rules are other listeners'
            "aws_lb_listener.catch_all_first",  # /* forwards before the refusal
            "aws_lb_listener.get_only",  # refuses GET, forwards PUT
            "aws_lb_listener.header_team",  # a header is the sender's to set
            "module.edge.aws_lb_listener.this",  # refuses /mockserver/expectation only
        },
    )
    messages = {f.resource: f.message for f in scanned["control.fail"].failed}
    assert messages["aws_lb_listener.open"].endswith(
        "forwards PUT /mockserver/expectation from 0.0.0.0/0 (the listener's default action)"
    )
    assert messages["aws_lb_listener.world_team"].endswith(
        "forwards PUT /mockserver/expectation from 0.0.0.0/0 (rule aws_lb_listener_rule.world_team)"
    )
    assert messages["module.edge.aws_lb_listener.this"].endswith(
        "forwards PUT /mockserver/clear from 0.0.0.0/0 (the listener's default action)"
    )
    assert messages["aws_lb_listener.get_only"].endswith(
        "forwards PUT /mockserver/expectation from 0.0.0.0/0 (the listener's default action)"
    )


def test_local_bind_loopback(scanned: dict[str, PolicyResult]) -> None:
    assert ids(scanned["bind.pass"], "CKV_EPH_6") == (
        {
            "terraform_data.v4",
            "terraform_data.v4_other",
            "terraform_data.v6",
            "terraform_data.name",
        },  # terraform_data.unrelated has no bind_address: not reported
        set(),
    )
    assert ids(scanned["bind.fail"], "CKV_EPH_6") == (
        set(),
        {
            "terraform_data.any",
            "terraform_data.any_v6",
            "terraform_data.lan",
            "terraform_data.hostname",
            "terraform_data.unknown",
        },
    )


def test_real_terraform_plans_of_terraform_data(scanned: dict[str, PolicyResult]) -> None:
    """checkov sees terraform_data in real `terraform show -json` output."""
    loopback, anywhere = scanned["real-loopback"], scanned["real-any"]
    plan = json.loads(Path(anywhere.failed[0].file).read_text())
    assert plan["terraform_version"] and plan["resource_changes"][0]["type"] == "terraform_data"
    assert ids(loopback, "CKV_EPH_6") == ({"terraform_data.mock_api"}, set())
    assert ids(anywhere, "CKV_EPH_6") == (set(), {"terraform_data.mock_api"})
    assert loopback.ok and not anywhere.ok
    assert anywhere.failed[0].message.endswith("bind_address '0.0.0.0' is not a loopback address")


def test_the_mock_api_stack_passes_every_ephemera_check(scanned: dict[str, PolicyResult]) -> None:
    result = scanned["mock-api"]
    assert [f for f in result.failed if "_EPH_" in f.check_id] == []
    passed = {(f.check_id, f.resource) for f in result.passed}
    https = 'module.service.aws_vpc_security_group_ingress_rule.lb_https["0.0.0.0/0"]'
    assert ("CKV_EPH_2", https) in passed
    assert ("CKV_EPH_5", "module.service.aws_ecs_service.this") in passed
    assert ("CKV_EPH_1", "module.service.aws_lb.this") in passed
    assert ("CKV_EPH_7", "module.service.aws_lb_listener.http") in passed
