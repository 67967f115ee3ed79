"""CKV_EPH_7: no load balancer listener forwards MockServer's control plane from anywhere.

MockServer takes expectations, clears, resets and hands out what it received on PUT
/mockserver/expectation, /clear, /reset, /retrieve, /verify … (HttpState.handle in
mockserver-core 5.15.0), and shows it all on GET /mockserver/dashboard: whoever can send
those can rewrite or wipe a team's mock API. For each aws_lb_listener / aws_alb_listener
the check plays those requests, from an internet address no CIDR but 0.0.0.0/0 or ::/0
covers, through the listener's rules in priority order and then its default action:

- the first rule whose conditions the request meets decides: `forward` fails the listener
  (unless an authenticate-oidc/-cognito action comes first); fixed-response or redirect
  refuses it;
- the sender meets host, header and query-string conditions at will, a method condition
  if it lists the method, a source-ip condition only if it lists 0.0.0.0/0 or ::/0, a
  path pattern by ALB's wildcards (`*`, `?`; case-sensitive, as MockServer matches);
- a condition whose values are not known (an unresolved expression of a static scan, a
  regex) counts against the listener: a forwarding rule may match, a refusing one may not;
- no rule matched: the default action decides the same way.

A rule belongs to a listener through its `listener_arn`: in a plan, by the configuration's
references (followed through module variables and outputs) or by the listener's ARN when
it exists; in a static scan, by the listeners its rendered `listener_arn` names (checkov's graph; a
rule with count 0 does not exist there). Every listener Ephemera deploys fronts MockServer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck
from eph_plan import (
    address_of,
    as_list,
    attribute_targets,
    blocks,
    first,
    is_expression,
    plan_of,
    planned_resources,
    scalar,
    strip_index,
)

WORLD = ("0.0.0.0/0", "::/0")
RULE_TYPES = ("aws_lb_listener_rule", "aws_alb_listener_rule")
AUTHENTICATE = ("authenticate-oidc", "authenticate-cognito")
CONTROL_REQUESTS = (
    ("PUT", "/mockserver/expectation"),
    ("PUT", "/mockserver/clear"),
    ("PUT", "/mockserver/reset"),
    ("PUT", "/mockserver/retrieve"),
    ("PUT", "/mockserver/verify"),
    ("GET", "/mockserver/dashboard"),
)
_SENDERS_CHOICE = ("host_header", "http_header", "query_string")


@dataclass(frozen=True)
class Rule:
    address: str
    priority: int | None
    forwards: bool
    conditions: tuple[dict[str, list[Any] | None], ...]  # type → values (None: not known)

    def matches(self, method: str, path: str) -> bool | None:
        """Whether a stranger's `method path` meets every condition (None: not known)."""
        results = [_condition(c, method, path) for c in self.conditions]
        if False in results:
            return False
        return None if None in results else True


class ControlPlaneFromAnywhere(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="A load balancer forwards MockServer's control plane only to the team",
            id="CKV_EPH_7",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["aws_lb_listener", "aws_alb_listener"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        self.evaluated_keys = ["default_action"]
        rules = self._rules(conf)
        if rules is None:
            return CheckResult.UNKNOWN
        default_forwards = _forwards(blocks(conf, "default_action"))
        ordered = sorted(rules, key=lambda r: (_order(r), r.address))
        for method, path in CONTROL_REQUESTS:
            by = _who_forwards(ordered, default_forwards, method, path)
            if by:
                self.details.append(f"forwards {method} {path} from 0.0.0.0/0 ({by})")
                return CheckResult.FAILED
        return CheckResult.PASSED

    def _rules(self, conf: dict[str, Any]) -> list[Rule] | None:
        plan = plan_of(conf)
        address = address_of(conf)
        if plan is not None:
            return plan_rules(plan, address, first(conf, "arn"))
        return graph_rules(self.graph, address)


def _who_forwards(rules: list[Rule], default_forwards: bool, method: str, path: str) -> str:
    """What forwards a stranger's request ("" when something refuses it first)."""
    for rule in rules:
        matched = rule.matches(method, path)
        if matched is False:
            continue
        if rule.forwards:
            return f"rule {rule.address}"
        if matched:
            return ""
    return "the listener's default action" if default_forwards else ""


def _order(rule: Rule) -> float:
    if rule.priority is not None:
        return rule.priority
    return float("-inf") if rule.forwards else float("inf")  # unknown: the worst place


def _forwards(actions: list[dict[str, Any]]) -> bool:
    types = [str(scalar(action.get("type"))) for action in actions]
    return "forward" in types and not any(t in AUTHENTICATE for t in types)


def _condition(condition: dict[str, list[Any] | None], method: str, path: str) -> bool | None:
    results = []
    for kind, values in condition.items():
        if kind in _SENDERS_CHOICE:
            continue
        if values is None:
            results.append(None)
        elif kind == "path_pattern":
            results.append(any(_wildcard(pattern).fullmatch(path) for pattern in values))
        elif kind == "http_request_method":
            results.append(method in values)
        elif kind == "source_ip":
            results.append(any(value in WORLD for value in values))
    if False in results:
        return False
    return None if None in results else True


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


# --- the rules of a listener ------------------------------------------------------------


def rule_of(address: str, values: dict[str, Any]) -> Rule:
    """A rule from its values: planned values of a plan, or a static scan's rendered conf."""
    priority = scalar(values.get("priority"))
    conditions = tuple(_conditions(block) for block in blocks(values, "condition"))
    return Rule(
        address=address,
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
        forwards=_forwards(blocks(values, "action")),
        conditions=conditions,
    )


def _conditions(block: dict[str, Any]) -> dict[str, list[Any] | None]:
    found: dict[str, list[Any] | None] = {}
    for kind in (
        "host_header",
        "http_header",
        "http_request_method",
        "path_pattern",
        "query_string",
        "source_ip",
    ):
        for inner in blocks(block, kind):
            values = as_list(inner.get("values"))
            if as_list(inner.get("regex_values")) or any(is_expression(v) for v in values):
                found[kind] = None
            else:
                found[kind] = [str(v) for v in values]
    return found


def plan_rules(plan: dict[str, Any], listener: str, listener_arn: Any) -> list[Rule]:
    target = strip_index(listener)
    rules = []
    for resource in planned_resources(plan):
        if resource.get("type") not in RULE_TYPES:
            continue
        values = resource.get("values") or {}
        address = str(resource.get("address"))
        linked = target in attribute_targets(plan, address, "listener_arn")
        known = isinstance(listener_arn, str) and values.get("listener_arn") == listener_arn
        if linked or known:
            rules.append(rule_of(address, values))
    return rules


def graph_rules(graph: Any, listener: str) -> list[Rule] | None:
    """The rules a static scan's graph attaches to `listener`; None without a graph."""
    indices = getattr(graph, "node_indices", None)
    if indices is None:
        return None
    rules = []
    for index in indices():
        node = graph[index]
        attributes = node[1] if isinstance(node, tuple) else node
        if not isinstance(attributes, dict) or attributes.get("block_type_") != "resource":
            continue
        for resource_type, instances in (attributes.get("config_") or {}).items():
            if resource_type not in RULE_TYPES or not isinstance(instances, dict):
                continue
            for conf in instances.values():
                if isinstance(conf, dict) and _exists(conf) and listener in _static_targets(conf):
                    rules.append(rule_of(address_of(conf), conf))
    return rules


def _exists(conf: dict[str, Any]) -> bool:
    count = first(conf, "count", 1)
    return not (isinstance(count, int) and count == 0)


_LISTENER_REFERENCE = re.compile(r"\b(aws_(?:a)?lb_listener\.[A-Za-z_][A-Za-z0-9_-]*)")


def _static_targets(conf: dict[str, Any]) -> set[str]:
    """The listeners a rule's `listener_arn` names, by full address: every one a
    conditional names (`local.https ? aws_lb_listener.https[0].arn : …`), since only the
    one that exists is chosen."""
    own = strip_index(address_of(conf))
    module = own.rsplit(".", 2)[0] if own.count(".") > 1 else ""
    names = _LISTENER_REFERENCE.findall(str(first(conf, "listener_arn", "")))
    return {f"{module}.{name}" if module else name for name in names}


check = ControlPlaneFromAnywhere()
