"""What an environment will cost over its TTL: plan.json × the pricing table.

Prices come from `ephemera/gate/pricing.json` (per region; its `source` names
the AWS price pages and Price List API offers, `as_of` the date). The estimate
walks the plan's `resource_changes`: resources created, updated, replaced or
left unchanged run for the TTL; resources being deleted cost nothing.

Priced:
- Fargate: per aws_ecs_service (launch type or capacity provider FARGATE /
  FARGATE_SPOT, Spot priced as on-demand), task count = max(desired_count,
  min_capacity of the ECS auto-scaling target of the service) × the task
  definition's cpu and memory; ARM64 prices when runtime_platform says so; plus
  one public IPv4 per task with assign_public_ip.
- Load balancers: application → ALB hour + `alb_lcu` LCUs; network → NLB hour +
  `nlb_nlcu` NLCUs; internet-facing ones also one public IPv4 per subnet.
- NAT gateway: hour + `nat_gb_per_hour` GB processed. Its Elastic IP is priced
  as the aws_eip it is (one public IPv4).
- S3 bucket: `s3_stored_gb` GB-month (prorated per hour) + PUT/GET requests.
- CloudWatch log group: `logs_ingested_gb_per_hour` ingestion + `logs_stored_gb`
  GB-month storage (prorated).
The usage figures are `CostAssumptions`, documented there; the rules per type are
`ephemera.gate.pricing.Pricer`. Any other AWS
resource type not known to be free is listed in `CostEstimate.unpriced`.
The local target costs $0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from ephemera.errors import EphemeraError, UsageError
from ephemera.gate.pricing import CostAssumptions, CostLine, Pricer, num

PRICING_FILE = Path(__file__).parent / "pricing.json"

__all__ = ["CostAssumptions", "CostEstimate", "CostLine", "estimate", "money"]


@dataclass(frozen=True)
class CostEstimate:
    total_usd: float  # over the TTL
    per_hour_usd: float
    lines: list[CostLine]
    ttl_hours: float = 0.0
    region: str | None = None
    target: str = "aws"
    unpriced: list[str] = field(default_factory=list)  # "address (type)" of unknown AWS types
    as_of: str = ""  # the pricing table's date


def load_pricing(path: Path = PRICING_FILE) -> dict[str, Any]:
    return _load_pricing(str(path))


@lru_cache(maxsize=4)
def _load_pricing(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EphemeraError(f"{path}: cannot read the pricing table: {exc}") from exc
    for key in ("as_of", "source", "regions", "hours_per_month"):
        if key not in data:
            raise EphemeraError(f"{path}: the pricing table has no {key!r}")
    return data


def estimate(
    plan_json: dict[str, Any],
    region: str | None,
    ttl: timedelta,
    assumptions: CostAssumptions | None = None,
    *,
    target: str = "aws",
    pricing: dict[str, Any] | None = None,
) -> CostEstimate:
    """The cost of running what the plan leaves in place for `ttl`, in `region`."""
    assumptions = assumptions or CostAssumptions()
    pricing = pricing or load_pricing()
    hours = ttl.total_seconds() / 3600
    if target == "local":
        return CostEstimate(0.0, 0.0, [], hours, region, target, [], str(pricing["as_of"]))
    regions = pricing["regions"]
    if not region:
        raise UsageError("cost: an aws environment needs a region to be priced")
    if region not in regions:
        raise EphemeraError(
            f"cost: no prices for region {region} in {PRICING_FILE.name} "
            f"(it has {', '.join(sorted(regions))})"
        )
    pricer = Pricer(plan_json, regions[region], float(pricing["hours_per_month"]), assumptions)
    lines, unpriced = pricer.run()
    per_hour = sum(line.usd_per_hour for line in lines)
    return CostEstimate(
        total_usd=per_hour * hours,
        per_hour_usd=per_hour,
        lines=lines,
        ttl_hours=hours,
        region=region,
        target=target,
        unpriced=unpriced,
        as_of=str(pricing["as_of"]),
    )


def money(usd: float) -> str:
    """$1.23 from a dollar up; three decimals below ($0.066); "< $0.001" for crumbs."""
    if usd == 0:
        return "$0.00"
    if usd < 0.0005:
        return "< $0.001"
    if usd < 0.995:
        return f"${usd:.3f}"
    return f"${usd:,.2f}"


def format_estimate(est: CostEstimate, ttl_text: str) -> str:
    """ "≈ $0.531 for its 8h TTL, $0.066 per extra hour" (plus what was not priced)."""
    text = (
        f"≈ {money(est.total_usd)} for its {ttl_text} TTL, {money(est.per_hour_usd)} per extra hour"
    )
    if est.target == "local":
        return text + " (local target: nothing is billed)"
    if est.unpriced:
        text += f" (not priced: {', '.join(est.unpriced)})"
    return text


def format_breakdown(est: CostEstimate) -> str:
    """One line per priced resource: $/hour, address, how it was computed."""
    rows = [(f"${line.usd_per_hour:.5f}/h", line.address, line.note) for line in est.lines]
    if not rows:
        return "  (nothing priced)"
    width = max(len(r[1]) for r in rows)
    out = [f"  {cost:>12}  {address:<{width}}  {note}" for cost, address, note in rows]
    out.append(f"  prices: {est.region}, as of {est.as_of} (ephemera/gate/pricing.json)")
    return "\n".join(out)


def budget_check(estimate: CostEstimate, budget: float | None, *, env: str = "") -> str | None:
    """A message when the estimate over the TTL exceeds `budget` (USD), else None."""
    if budget is None or estimate.total_usd <= budget:
        return None
    where = f"{env}: budget" if env else "budget"
    return (
        f"{where}: the estimate {money(estimate.total_usd)} over the"
        f" {num(estimate.ttl_hours)}h TTL exceeds the budget of ${budget:,.2f}"
    )
