"""CKV_EPH_2: ingress from 0.0.0.0/0 or ::/0 only to TCP 80/443, only on a load balancer's SG.

Covers inline `ingress` blocks of aws_security_group, aws_security_group_rule
(type = "ingress") and aws_vpc_security_group_ingress_rule. An ingress open to
the world must be TCP with from_port == to_port in {80, 443} (protocol -1 or a
port range fails), and its security group must belong to a load balancer.

A load balancer's security group is one that an aws_lb / aws_alb of the same
plan lists in `security_groups`: found through the plan's configuration
references (`aws_security_group.alb.id`, followed through module variables and
outputs) or, for groups that already exist, by ID in the planned values. A
rule resource is attributed to the group of its `security_group_id`. Names and
tags are not trusted. Static scans (no plan) check the ports only.
"""

from __future__ import annotations

from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import (
    address_of,
    as_int,
    as_list,
    attribute_targets,
    blocks,
    first,
    load_balancer_security_groups,
    plan_of,
    scalar,
    strip_index,
)

WORLD = ("0.0.0.0/0", "::/0")
PUBLIC_PORTS = (80, 443)


class PublicIngress(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Internet ingress only to TCP 80/443 of a load balancer's security group",
            id="CKV_EPH_2",
            categories=[CheckCategories.NETWORKING],
            supported_resources=[
                "aws_security_group",
                "aws_security_group_rule",
                "aws_vpc_security_group_ingress_rule",
            ],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        rules = self._world_rules(conf)
        if not rules:
            return CheckResult.PASSED
        for cidr, protocol, from_port, to_port in rules:
            if protocol.lower() in ("-1", "all"):
                self.details.append(f"ingress from {cidr} to all ports and protocols")
            elif not _allowed(protocol, from_port, to_port):
                ports = f"{from_port}" if from_port == to_port else f"{from_port}-{to_port}"
                self.details.append(f"ingress from {cidr} to {protocol} port {ports}")
        plan = plan_of(conf)
        if plan is not None and not self._on_load_balancer(plan, conf):
            self.details.append("ingress from the internet on a security group that no aws_lb uses")
        return CheckResult.FAILED if self.details else CheckResult.PASSED

    def _world_rules(self, conf: dict[str, Any]) -> list[tuple[str, str, Any, Any]]:
        if self.entity_type == "aws_security_group":
            self.evaluated_keys = ["ingress"]
            found = []
            for block in blocks(conf, "ingress"):
                cidrs = as_list(scalar(block.get("cidr_blocks"))) + as_list(
                    scalar(block.get("ipv6_cidr_blocks"))
                )
                protocol = str(scalar(block.get("protocol")))
                for cidr in cidrs:
                    if cidr in WORLD:
                        found.append(
                            (
                                cidr,
                                protocol,
                                as_int(block.get("from_port")),
                                as_int(block.get("to_port")),
                            )
                        )
            return found
        if self.entity_type == "aws_security_group_rule":
            if first(conf, "type") != "ingress":
                return []
            self.evaluated_keys = ["cidr_blocks", "ipv6_cidr_blocks", "from_port", "to_port"]
            cidrs = as_list(first(conf, "cidr_blocks")) + as_list(first(conf, "ipv6_cidr_blocks"))
            protocol = str(first(conf, "protocol"))
        else:  # aws_vpc_security_group_ingress_rule
            self.evaluated_keys = ["cidr_ipv4", "cidr_ipv6", "from_port", "to_port", "ip_protocol"]
            cidrs = [first(conf, "cidr_ipv4"), first(conf, "cidr_ipv6")]
            protocol = str(first(conf, "ip_protocol"))
        from_port, to_port = as_int(first(conf, "from_port")), as_int(first(conf, "to_port"))
        return [(cidr, protocol, from_port, to_port) for cidr in cidrs if cidr in WORLD]

    def _on_load_balancer(self, plan: dict[str, Any], conf: dict[str, Any]) -> bool:
        lb_addresses, lb_ids = load_balancer_security_groups(plan)
        address = address_of(conf)
        if self.entity_type == "aws_security_group":
            return strip_index(address) in lb_addresses or first(conf, "id") in lb_ids
        targets = attribute_targets(plan, address, "security_group_id")
        return bool(targets & lb_addresses) or first(conf, "security_group_id") in lb_ids


def _allowed(protocol: str, from_port: Any, to_port: Any) -> bool:
    return protocol.lower() in ("tcp", "6") and from_port == to_port and from_port in PUBLIC_PORTS


check = PublicIngress()
