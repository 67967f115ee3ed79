"""The checks' shared helpers (policies/eph_plan.py imports nothing from checkov)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("eph_plan", REPO_ROOT / "policies" / "eph_plan.py")
assert _spec and _spec.loader
eph_plan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(eph_plan)

FIXTURES = REPO_ROOT / "tests" / "fixtures"


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.9.8.7", "::1", "[::1]", "::ffff:127.0.0.1", "localhost", " LOCALHOST "],
)
def test_loopback_addresses(address: str) -> None:
    assert eph_plan.is_loopback(address)


@pytest.mark.parametrize(
    "address",
    [
        "0.0.0.0",  # noqa: S104 - data, no bind
        "::",
        "10.0.0.1",
        "192.168.1.20",
        "::ffff:10.0.0.1",
        "example.com",
        "",
        None,
        127,
    ],
)
def test_other_addresses(address: object) -> None:
    assert not eph_plan.is_loopback(address)


def test_unwrapping_checkov_values() -> None:
    conf = {"force_destroy": [True], "cidr_blocks": [["0.0.0.0/0", "10.0.0.0/8"]], "ingress": [[]]}
    assert eph_plan.first(conf, "force_destroy") is True
    assert eph_plan.as_list(eph_plan.first(conf, "cidr_blocks")) == ["0.0.0.0/0", "10.0.0.0/8"]
    assert eph_plan.blocks(conf, "ingress") == []
    assert eph_plan.mapping([{"a": ["b"]}]) == {"a": ["b"]}
    assert eph_plan.scalar(["x"]) == "x"
    assert eph_plan.as_int(["3"]) == 3 and eph_plan.as_int([True]) is None
    assert eph_plan.strip_index('module.a[0].aws_x.y["k.1"]') == "module.a.aws_x.y"


def test_references_follow_module_variables_and_outputs() -> None:
    plan = json.loads((FIXTURES / "policy" / "ingress.pass.plan.json").read_text())
    addresses, ids = eph_plan.load_balancer_security_groups(plan)
    assert addresses == {"aws_security_group.alb", "aws_security_group.edge"}
    assert ids == {"sg-0fedcba9876543210"}
    assert eph_plan.attribute_targets(
        plan, "aws_vpc_security_group_ingress_rule.alb_https", "security_group_id"
    ) == {"aws_security_group.alb"}
    stack = json.loads((FIXTURES / "cost" / "mock-api.plan.json").read_text())
    assert eph_plan.resolve_references(stack, "", ["module.service.url"]) == {
        "module.service.aws_lb.this"
    }
    lb_groups, _ = eph_plan.load_balancer_security_groups(stack)
    assert lb_groups == {"module.service.aws_security_group.lb"}
