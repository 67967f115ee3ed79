"""The pricing rules: which resource types cost what, per hour, in one region's
price table (`Pricer`), and the usage figures an estimate assumes (`CostAssumptions`).
`ephemera.gate.cost` runs them over a plan and sums the lines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from ephemera.errors import EphemeraError

_INDEX = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')


@dataclass(frozen=True)
class CostAssumptions:
    """Usage the plan can't tell: the figures an estimate assumes, per resource and hour."""

    alb_lcu: float = 1.0  # LCUs an application load balancer uses on average
    nlb_nlcu: float = 1.0  # NLCUs a network load balancer uses on average
    nat_gb_per_hour: float = 1.0  # GB processed per NAT gateway per hour
    s3_stored_gb: float = 1.0  # GB stored per bucket (Standard)
    s3_put_requests_per_hour: float = 10.0  # PUT/COPY/POST/LIST requests per bucket per hour
    s3_get_requests_per_hour: float = 100.0  # GET/SELECT requests per bucket per hour
    logs_ingested_gb_per_hour: float = 0.01  # GB ingested per log group per hour (10 MB)
    logs_stored_gb: float = 1.0  # GB stored per log group


class CostLine(NamedTuple):
    address: str
    type: str
    usd_per_hour: float
    note: str


# Resource types that cost nothing by themselves (or are priced through another resource).
FREE_TYPES = frozenset(
    {
        "aws_ecs_cluster",
        "aws_ecs_cluster_capacity_providers",
        "aws_ecs_task_definition",  # priced through the service that runs it
        "aws_lb_target_group",
        "aws_lb_target_group_attachment",
        "aws_lb_listener",
        "aws_lb_listener_rule",
        "aws_alb_target_group",
        "aws_alb_listener",
        "aws_alb_listener_rule",
        "aws_appautoscaling_target",
        "aws_appautoscaling_policy",
        "aws_appautoscaling_scheduled_action",
        "aws_security_group",
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
        "aws_vpc",
        "aws_subnet",
        "aws_internet_gateway",
        "aws_egress_only_internet_gateway",
        "aws_route",
        "aws_route_table",
        "aws_route_table_association",
        "aws_default_route_table",
        "aws_default_security_group",
        "aws_default_network_acl",
        "aws_network_acl",
        "aws_network_acl_rule",
        "aws_s3_object",  # storage is in the bucket's assumption
        "aws_cloudwatch_log_stream",
        "aws_ssm_parameter",  # standard tier
        "aws_acm_certificate",  # public certificates
        "aws_acm_certificate_validation",
        "aws_route53_record",
    }
)
FREE_PREFIXES = ("aws_iam_", "aws_s3_bucket_")  # IAM; bucket settings (policy, versioning …)


class Pricer:
    def __init__(
        self,
        plan: dict[str, Any],
        prices: dict[str, Any],
        hours_per_month: float,
        assumptions: CostAssumptions,
    ) -> None:
        self.plan = plan
        self.prices = prices
        self.month = hours_per_month
        self.a = assumptions
        self.live = [c for c in plan.get("resource_changes") or [] if _stays(c)]

    def run(self) -> tuple[list[CostLine], list[str]]:
        lines: list[CostLine] = []
        unpriced: list[str] = []
        for change in self.live:
            kind = change.get("type", "")
            values = (change.get("change") or {}).get("after") or {}
            address = change.get("address", "")
            handler = getattr(self, f"_{kind}", None)
            if handler is not None:
                line = handler(address, values)
                if line is not None:
                    lines.append(line)
            elif kind.startswith("aws_") and not _free(kind):
                unpriced.append(f"{address} ({kind})")
        return lines, unpriced

    def _price(self, key: str, field_name: str) -> float:
        try:
            return float(self.prices[key][field_name])
        except (KeyError, TypeError, ValueError):
            raise EphemeraError(f"cost: the pricing table has no {key}.{field_name}") from None

    # --- Fargate -------------------------------------------------------------------

    def _aws_ecs_service(self, address: str, values: dict[str, Any]) -> CostLine | None:
        kind = "aws_ecs_service"
        strategy = [
            s.get("capacity_provider")
            for s in values.get("capacity_provider_strategy") or []
            if isinstance(s, dict)
        ]
        if values.get("launch_type") != "FARGATE" and not any(
            str(p).startswith("FARGATE") for p in strategy
        ):
            return CostLine(address, kind, 0.0, "not Fargate: its EC2 capacity is not priced here")
        notes = []
        task_def = self._task_definition(address, values)
        if task_def is None:
            return CostLine(address, kind, 0.0, "task definition not found in the plan: not priced")
        vcpu = _vcpu(task_def.get("cpu"))
        memory = _memory_gb(task_def.get("memory"))
        if vcpu is None or memory is None:
            return CostLine(address, kind, 0.0, "task cpu/memory unknown: not priced")
        tasks, how = self._task_count(address, values)
        arm = any(
            isinstance(p, dict) and str(p.get("cpu_architecture", "")).upper() == "ARM64"
            for p in task_def.get("runtime_platform") or []
        )
        table = "fargate_arm64" if arm else "fargate"
        vcpu_price, gb_price = self._price(table, "vcpu_hour"), self._price(table, "gb_hour")
        per_task = vcpu * vcpu_price + memory * gb_price
        usd = tasks * per_task
        notes.append(
            f"{num(tasks)} task(s) ({how}) × ({num(vcpu)} vCPU × ${num(vcpu_price)}"
            f" + {num(memory)} GB × ${num(gb_price)}){' ARM64' if arm else ''}"
        )
        if "FARGATE_SPOT" in strategy:
            notes.append("Spot priced as on-demand")
        if any(
            isinstance(n, dict) and n.get("assign_public_ip") is True
            for n in values.get("network_configuration") or []
        ):
            ip = self._price("public_ipv4", "hour")
            usd += tasks * ip
            notes.append(f"{num(tasks)} public IPv4 × ${num(ip)}")
        return CostLine(address, kind, usd, "; ".join(notes))

    def _task_definition(self, address: str, values: dict[str, Any]) -> dict[str, Any] | None:
        definitions = {
            c["address"]: (c.get("change") or {}).get("after") or {}
            for c in self.live
            if c.get("type") == "aws_ecs_task_definition"
        }
        for target in _config_targets(self.plan, address, "task_definition"):
            for candidate, after in definitions.items():
                if _strip(candidate) == target:
                    return after
        known = values.get("task_definition")
        if isinstance(known, str) and known:
            family = known.rsplit("/", 1)[-1].split(":", 1)[0]
            for after in definitions.values():
                if after.get("family") == family:
                    return after
        if len(definitions) == 1:
            return next(iter(definitions.values()))
        return None

    def _task_count(self, address: str, values: dict[str, Any]) -> tuple[float, str]:
        desired = _number(values.get("desired_count"))
        minimum = None
        name = values.get("name")
        for change in self.live:
            after = (change.get("change") or {}).get("after") or {}
            if change.get("type") != "aws_appautoscaling_target":
                continue
            if after.get("service_namespace") != "ecs":
                continue
            resource_id = str(after.get("resource_id") or "")
            linked = _strip(address) in _config_targets(self.plan, change["address"], "resource_id")
            if linked or (name and resource_id.split("/")[-1] == name):
                minimum = _number(after.get("min_capacity"))
                break
        if desired is None and minimum is None:
            return 1.0, "desired_count unknown, assumed 1"
        if minimum is None:
            return float(desired or 0), "desired_count"
        if desired is None or minimum >= desired:
            return float(minimum), "auto-scaling min_capacity"
        return float(desired), "desired_count"

    # --- load balancers, NAT, addresses -----------------------------------------------

    def _aws_lb(self, address: str, values: dict[str, Any], kind: str = "aws_lb") -> CostLine:
        lb_type = values.get("load_balancer_type") or "application"
        if lb_type == "application":
            hour, unit = self._price("alb", "hour"), self._price("alb", "lcu_hour")
            usd = hour + self.a.alb_lcu * unit
            note = f"ALB ${num(hour)}/h + {num(self.a.alb_lcu)} LCU × ${num(unit)} (assumed)"
        elif lb_type == "network":
            hour, unit = self._price("nlb", "hour"), self._price("nlb", "nlcu_hour")
            usd = hour + self.a.nlb_nlcu * unit
            note = f"NLB ${num(hour)}/h + {num(self.a.nlb_nlcu)} NLCU × ${num(unit)} (assumed)"
        else:
            return CostLine(address, kind, 0.0, f"{lb_type} load balancer: not priced")
        if values.get("internal") is not True:
            subnets = len(values.get("subnets") or values.get("subnet_mapping") or []) or 2
            ip = self._price("public_ipv4", "hour")
            usd += subnets * ip
            note += f"; {subnets} public IPv4 (one per subnet) × ${num(ip)}"
        return CostLine(address, kind, usd, note)

    def _aws_alb(self, address: str, values: dict[str, Any]) -> CostLine:
        return self._aws_lb(address, values, "aws_alb")

    def _aws_nat_gateway(self, address: str, values: dict[str, Any]) -> CostLine:
        hour, per_gb = (
            self._price("nat_gateway", "hour"),
            self._price("nat_gateway", "gb_processed"),
        )
        usd = hour + self.a.nat_gb_per_hour * per_gb
        note = (
            f"NAT gateway ${num(hour)}/h + {num(self.a.nat_gb_per_hour)} GB/h"
            f" × ${num(per_gb)} (assumed)"
        )
        return CostLine(address, "aws_nat_gateway", usd, note)

    def _aws_eip(self, address: str, values: dict[str, Any]) -> CostLine:
        ip = self._price("public_ipv4", "hour")
        return CostLine(address, "aws_eip", ip, f"1 public IPv4 × ${num(ip)}")

    # --- storage and logs -----------------------------------------------------------

    def _aws_s3_bucket(self, address: str, values: dict[str, Any]) -> CostLine:
        gb_month = self._price("s3_standard", "gb_month")
        put, get = (
            self._price("s3_standard", "put_per_1000"),
            self._price("s3_standard", "get_per_1000"),
        )
        usd = (
            self.a.s3_stored_gb * gb_month / self.month
            + self.a.s3_put_requests_per_hour / 1000 * put
            + self.a.s3_get_requests_per_hour / 1000 * get
        )
        note = (
            f"{num(self.a.s3_stored_gb)} GB × ${num(gb_month)}/month"
            f" + {num(self.a.s3_put_requests_per_hour)} PUT and"
            f" {num(self.a.s3_get_requests_per_hour)} GET per hour (assumed)"
        )
        return CostLine(address, "aws_s3_bucket", usd, note)

    def _aws_cloudwatch_log_group(self, address: str, values: dict[str, Any]) -> CostLine:
        ingest = self._price("cloudwatch_logs", "ingest_gb")
        storage = self._price("cloudwatch_logs", "storage_gb_month")
        usd = (
            self.a.logs_ingested_gb_per_hour * ingest + self.a.logs_stored_gb * storage / self.month
        )
        note = (
            f"{num(self.a.logs_ingested_gb_per_hour)} GB/h ingested × ${num(ingest)}"
            f" + {num(self.a.logs_stored_gb)} GB stored × ${num(storage)}/month (assumed)"
        )
        return CostLine(address, "aws_cloudwatch_log_group", usd, note)


def _stays(change: dict[str, Any]) -> bool:
    """Managed resources that exist during the TTL: not deleted, not forgotten, not data."""
    if change.get("mode", "managed") != "managed":
        return False
    actions = (change.get("change") or {}).get("actions") or []
    return bool(actions) and actions not in (["delete"], ["forget"], ["read"])


def _free(kind: str) -> bool:
    return kind in FREE_TYPES or kind.startswith(FREE_PREFIXES)


def _strip(address: str) -> str:
    return _INDEX.sub("", address)


def _config_targets(plan: dict[str, Any], address: str, attribute: str) -> set[str]:
    """Resources (module-qualified, no index) that `attribute` of `address` refers to."""
    parts = _strip(address).split(".")
    module_parts: list[str] = []
    while len(parts) > 2 and parts[0] == "module":
        module_parts += parts[:2]
        parts = parts[2:]
    node = (plan.get("configuration") or {}).get("root_module") or {}
    for name in module_parts[1::2]:
        node = ((node.get("module_calls") or {}).get(name) or {}).get("module") or {}
    local = ".".join(parts)
    prefix = ".".join(module_parts)
    for resource in node.get("resources") or []:
        if resource.get("address") != local:
            continue
        expression = (resource.get("expressions") or {}).get(attribute) or {}
        found = set()
        for ref in expression.get("references") or []:
            bits = _strip(str(ref)).split(".")
            if len(bits) >= 2 and bits[0] not in ("var", "local", "module", "data", "each"):
                target = ".".join(bits[:2])
                found.add(f"{prefix}.{target}" if prefix else target)
        return found
    return set()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _vcpu(value: Any) -> float | None:
    """Task cpu: CPU units ("256" → 0.25) or "0.25 vCPU"."""
    text = str(value or "").strip().lower()
    if text.endswith("vcpu"):
        return _number(text.removesuffix("vcpu").strip())
    units = _number(text)
    return None if units is None else units / 1024


def _memory_gb(value: Any) -> float | None:
    """Task memory: MiB ("512" → 0.5) or "0.5 GB"."""
    text = str(value or "").strip().lower()
    if text.endswith("gb"):
        return _number(text.removesuffix("gb").strip())
    mib = _number(text)
    return None if mib is None else mib / 1024


def num(value: float) -> str:
    """A number without trailing zeros, for notes: 0.25, 8, 0.041."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
