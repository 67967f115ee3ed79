"""Cost estimates: plan.json × ephemera/gate/pricing.json over the TTL."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from ephemera.errors import EphemeraError, UsageError
from ephemera.gate.cost import (
    PRICING_FILE,
    CostAssumptions,
    budget_check,
    estimate,
    format_breakdown,
    format_estimate,
    load_pricing,
)
from tests.conftest import REPO_ROOT

MOCK_API_PLAN = REPO_ROOT / "tests" / "fixtures" / "cost" / "mock-api.plan.json"
EIGHT_HOURS = timedelta(hours=8)


def mock_api() -> dict[str, Any]:
    return json.loads(MOCK_API_PLAN.read_text())


def test_mock_api_stack_for_8h_in_eu_west_1_matches_the_hand_calculation() -> None:
    # The plan: an ECS service on Fargate (task definition 256 CPU units = 0.25 vCPU,
    # 512 MiB = 0.5 GB; desired_count 1, auto-scaling min 1 max 2; assign_public_ip),
    # an internet-facing ALB in two subnets, no NAT, one S3 bucket, one log group.
    # eu-west-1 prices from ephemera/gate/pricing.json; default CostAssumptions.
    fargate = 1 * (0.25 * 0.04048 + 0.5 * 0.004445)  # 0.0123425 per hour
    fargate += 1 * 0.005  # the task's public IPv4        -> 0.0173425
    alb = 0.0252 + 1 * 0.008 + 2 * 0.005  # hour + 1 LCU + 2 public IPv4 -> 0.0432
    s3 = 1 * 0.023 / 730 + 10 / 1000 * 0.005 + 100 / 1000 * 0.0004  # -> 0.0001215068…
    logs = 0.01 * 0.57 + 1 * 0.03 / 730  # 10 MB/h ingested + 1 GB stored -> 0.0057410959…
    per_hour = fargate + alb + s3 + logs  # 0.0664051027…
    assert per_hour == pytest.approx(0.0664051027, abs=1e-10)
    total = per_hour * 8  # 0.5312408219…

    est = estimate(mock_api(), "eu-west-1", EIGHT_HOURS)

    assert est.per_hour_usd == pytest.approx(per_hour, rel=1e-12)
    assert est.total_usd == pytest.approx(total, rel=1e-12)
    by_address = {line.address: line for line in est.lines}
    assert by_address["module.service.aws_ecs_service.this"].usd_per_hour == pytest.approx(fargate)
    assert by_address["module.service.aws_lb.this"].usd_per_hour == pytest.approx(alb)
    assert by_address["aws_s3_bucket.expectations"].usd_per_hour == pytest.approx(s3)
    assert by_address["module.service.aws_cloudwatch_log_group.this"].usd_per_hour == (
        pytest.approx(logs)
    )
    assert len(est.lines) == 4  # IAM, security groups, listener, target group … are free
    assert est.unpriced == []
    assert est.ttl_hours == 8 and est.region == "eu-west-1" and est.as_of
    assert format_estimate(est, "8h") == "≈ $0.531 for its 8h TTL, $0.066 per extra hour"
    address, kind, usd, note = est.lines[3]  # lines are (address, type, usd_per_hour, note)
    assert (address, kind) == ("module.service.aws_ecs_service.this", "aws_ecs_service")
    assert "0.25 vCPU" in note and "0.5 GB" in note and "min_capacity" in note
    assert "module.service.aws_lb.this" in format_breakdown(est)


def test_region_prices_differ() -> None:
    east = estimate(mock_api(), "us-east-1", EIGHT_HOURS)
    per_hour = (
        (0.25 * 0.04048 + 0.5 * 0.004445 + 0.005)
        + (0.0225 + 0.008 + 2 * 0.005)
        + (0.023 / 730 + 10 / 1000 * 0.005 + 100 / 1000 * 0.0004)
        + (0.01 * 0.5 + 0.03 / 730)
    )
    assert east.per_hour_usd == pytest.approx(per_hour, rel=1e-12)
    with pytest.raises(EphemeraError, match="no prices for region ap-south-2"):
        estimate(mock_api(), "ap-south-2", EIGHT_HOURS)
    with pytest.raises(UsageError, match="needs a region"):
        estimate(mock_api(), None, EIGHT_HOURS)


def test_the_local_target_costs_nothing() -> None:
    est = estimate(mock_api(), None, EIGHT_HOURS, target="local")
    assert (est.total_usd, est.per_hour_usd, est.lines) == (0.0, 0.0, [])
    assert format_estimate(est, "8h") == (
        "≈ $0.00 for its 8h TTL, $0.00 per extra hour (local target: nothing is billed)"
    )


def change(address: str, values: dict[str, Any], actions: tuple[str, ...] = ("create",)) -> dict:
    kind = address.split(".")[-2]
    after = None if list(actions) == ["delete"] else values
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": address.split(".")[-1],
        "change": {"actions": list(actions), "before": None, "after": after},
    }


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(changes), "configuration": {}}


def test_deletes_cost_nothing_and_every_live_resource_counts() -> None:
    nat = {"connectivity_type": "public"}
    est = estimate(
        plan(
            change("aws_nat_gateway.created", nat),
            change("aws_nat_gateway.updated", nat, ("update",)),
            change("aws_nat_gateway.unchanged", nat, ("no-op",)),
            change("aws_nat_gateway.replaced", nat, ("delete", "create")),
            change("aws_nat_gateway.deleted", nat, ("delete",)),
            change("aws_eip.nat", {"domain": "vpc"}),
        ),
        "us-east-1",
        timedelta(hours=2),
    )
    assert [line.address for line in est.lines] == [
        "aws_nat_gateway.created",
        "aws_nat_gateway.updated",
        "aws_nat_gateway.unchanged",
        "aws_nat_gateway.replaced",
        "aws_eip.nat",
    ]
    per_gateway = 0.045 + 1.0 * 0.045  # hour + 1 GB/h processed (assumed)
    assert est.per_hour_usd == pytest.approx(4 * per_gateway + 0.005)
    assert est.total_usd == pytest.approx(2 * (4 * per_gateway + 0.005))


def test_fargate_variants_and_assumptions() -> None:
    task = {"family": "api", "cpu": "1024", "memory": "2048"}
    arm = {**task, "family": "arm", "runtime_platform": [{"cpu_architecture": "ARM64"}]}
    est = estimate(
        plan(
            change("aws_ecs_task_definition.api", task),
            change("aws_ecs_task_definition.arm", arm),
            change(
                "aws_ecs_service.api",
                {
                    "name": "api",
                    "launch_type": "FARGATE",
                    "desired_count": 3,
                    "task_definition": "api:7",
                },
            ),
            change(
                "aws_ecs_service.arm",
                {
                    "name": "arm",
                    "desired_count": 0,
                    "task_definition": "arn:aws:ecs:us-east-1:123456789012:task-definition/arm:2",
                    "capacity_provider_strategy": [{"capacity_provider": "FARGATE_SPOT"}],
                },
            ),
            change(
                "aws_appautoscaling_target.arm",
                {"service_namespace": "ecs", "resource_id": "service/c/arm", "min_capacity": 2},
            ),
            change(
                "aws_ecs_service.ec2", {"name": "ec2", "launch_type": "EC2", "desired_count": 2}
            ),
            change("aws_lb.internal_nlb", {"load_balancer_type": "network", "internal": True}),
            change("aws_db_instance.db", {"instance_class": "db.t4g.micro"}),
            change("aws_iam_role.free", {}),
        ),
        "us-east-1",
        EIGHT_HOURS,
        CostAssumptions(nlb_nlcu=2.0),
    )
    by_address = {line.address: line for line in est.lines}
    assert by_address["aws_ecs_service.api"].usd_per_hour == pytest.approx(
        3 * (1 * 0.04048 + 2 * 0.004445)
    )
    spot = by_address["aws_ecs_service.arm"]  # min_capacity 2 beats desired_count 0
    assert spot.usd_per_hour == pytest.approx(2 * (1 * 0.03238 + 2 * 0.00356))
    assert "ARM64" in spot.note and "Spot priced as on-demand" in spot.note
    assert by_address["aws_ecs_service.ec2"].usd_per_hour == 0.0
    assert by_address["aws_lb.internal_nlb"].usd_per_hour == pytest.approx(0.0225 + 2 * 0.006)
    assert est.unpriced == ["aws_db_instance.db (aws_db_instance)"]
    assert format_estimate(est, "8h").endswith("(not priced: aws_db_instance.db (aws_db_instance))")


def test_budget_check() -> None:
    est = estimate(mock_api(), "eu-west-1", EIGHT_HOURS)  # ≈ $0.531
    assert budget_check(est, None) is None
    assert budget_check(est, 1.0) is None
    assert budget_check(est, 0.5, env="test-api") == (
        "test-api: budget: the estimate $0.531 over the 8h TTL exceeds the budget of $0.50"
    )


def test_the_pricing_table_names_its_sources_and_date() -> None:
    pricing = load_pricing()
    assert PRICING_FILE.name == "pricing.json"
    assert pricing["as_of"] and pricing["currency"] == "USD"
    for product in ("fargate", "alb", "nat_gateway", "s3_standard", "cloudwatch_logs"):
        assert pricing["source"][product]["page"].startswith("https://aws.amazon.com/")
    needed = {
        "fargate": {"vcpu_hour", "gb_hour"},
        "alb": {"hour", "lcu_hour"},
        "nat_gateway": {"hour", "gb_processed"},
        "s3_standard": {"gb_month", "put_per_1000", "get_per_1000"},
        "cloudwatch_logs": {"ingest_gb", "storage_gb_month"},
        "public_ipv4": {"hour"},
    }
    assert {"us-east-1", "eu-west-1"} <= set(pricing["regions"])
    for region, prices in pricing["regions"].items():
        for product, fields in needed.items():
            assert fields <= set(prices[product]), (region, product)
            assert all(prices[product][f] > 0 for f in fields), (region, product)
