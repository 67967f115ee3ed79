"""Helpers shared by the Ephemera checks (not a check itself: it registers nothing).

checkov hands a resource check only that resource's attributes (`conf`). In a
plan scan (`--framework terraform_plan`) each attribute is wrapped in a list
(`{"force_destroy": [True]}`) and `conf["__file__"]` names the plan JSON being
scanned. Some rules need more than one resource (which security groups belong
to a load balancer) or the plan's root variables (`max_tasks`); they read the
plan file itself through `load_plan`, cached per path for the checkov run.

In a static scan (`--framework terraform`) there is no plan file: `plan_of`
returns None and the checks that need the plan say UNKNOWN (not reported).

This module imports nothing from checkov, so the tests can load it directly.
"""

from __future__ import annotations

import ipaddress
import json
import re
from functools import lru_cache
from typing import Any

MISSING = object()
_INDEX = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')


# --- values inside checkov's conf -------------------------------------------------


def first(conf: dict[str, Any], key: str, default: Any = None) -> Any:
    """The value of an attribute: checkov wraps scalars (and whole lists) in a list."""
    if key not in conf:
        return default
    value = conf[key]
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def as_list(value: Any) -> list[Any]:
    """A list attribute as a flat list (None → [], a single string → [it])."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        out: list[Any] = []
        for item in value:
            out.extend(as_list(item) if isinstance(item, list) else [item])
        return out
    return [value]


def blocks(conf: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """Nested blocks (e.g. `ingress`): checkov gives a list of dicts, or `[[]]` when empty."""
    value = conf.get(key) or []
    if not isinstance(value, list):
        value = [value]
    return [b for b in value if isinstance(b, dict)]


def mapping(value: Any) -> dict[str, Any] | None:
    """A map attribute (`tags`, `input`) unwrapped, or None when null or not a map."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, dict) else None


def scalar(value: Any) -> Any:
    """A scalar inside a map: plan scans wrap it in a list, static scans do not."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def as_int(value: Any) -> int | None:
    value = scalar(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def is_loopback(address: Any) -> bool:
    """127.0.0.0/8, ::1 (also `[::1]` and IPv4-mapped ::ffff:127.x) or `localhost`."""
    if not isinstance(address, str):
        return False
    text = address.strip().lower()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        ip = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def is_expression(value: Any) -> bool:
    """An unresolved reference as a static scan leaves it: `var.x`, `local.y`, `${…}`."""
    return isinstance(value, str) and (
        "${" in value or value.startswith(("var.", "local.", "module.", "data."))
    )


# --- the plan file -------------------------------------------------------------


def plan_path(conf: dict[str, Any]) -> str | None:
    """The plan JSON checkov is scanning, or None in a static (HCL) scan."""
    path = first(conf, "__file__")
    if isinstance(path, str) and path.endswith(".json"):
        return path
    return None


@lru_cache(maxsize=64)
def load_plan(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, dict) else {}


def plan_of(conf: dict[str, Any]) -> dict[str, Any] | None:
    path = plan_path(conf)
    if path is None:
        return None
    try:
        return load_plan(path)
    except (OSError, ValueError):
        return None


def variable(plan: dict[str, Any], name: str) -> Any:
    """`variables.<name>.value` of the plan's root module, or MISSING."""
    entry = (plan.get("variables") or {}).get(name)
    if not isinstance(entry, dict) or "value" not in entry:
        return MISSING
    return entry["value"]


def strip_index(address: str) -> str:
    """`module.a[0].aws_sg.b["x"]` → `module.a.aws_sg.b` (the configuration address)."""
    return _INDEX.sub("", address)


def address_of(conf: dict[str, Any]) -> str:
    value = conf.get("__address__")
    return value if isinstance(value, str) else ""


def resource_change(plan: dict[str, Any], address: str) -> dict[str, Any] | None:
    for change in plan.get("resource_changes") or []:
        if isinstance(change, dict) and change.get("address") == address:
            return change
    return None


def after_unknown(plan: dict[str, Any], address: str) -> dict[str, Any]:
    change = resource_change(plan, address) or {}
    unknown = (change.get("change") or {}).get("after_unknown")
    return unknown if isinstance(unknown, dict) else {}


# --- configuration: references between resources, across modules ---------------------


def _split_module(address: str) -> tuple[str, str]:
    """`module.a.module.b.aws_x.y` → (`module.a.module.b`, `aws_x.y`)."""
    parts = address.split(".")
    i = 0
    while i + 1 < len(parts) and parts[i] == "module":
        i += 2
    return ".".join(parts[:i]), ".".join(parts[i:])


def _module_config(plan: dict[str, Any], module: str) -> dict[str, Any] | None:
    node = (plan.get("configuration") or {}).get("root_module") or {}
    if not module:
        return node
    parts = module.split(".")
    for name in parts[1::2]:
        call = (node.get("module_calls") or {}).get(name) or {}
        node = call.get("module")
        if not isinstance(node, dict):
            return None
    return node


def _parent(module: str) -> tuple[str, str]:
    """`module.a.module.b` → (`module.a`, `b`); `module.a` → (``, `a`)."""
    parts = module.split(".")
    return ".".join(parts[:-2]), parts[-1]


def _module_call(plan: dict[str, Any], module: str) -> dict[str, Any] | None:
    parent, name = _parent(module)
    node = _module_config(plan, parent)
    if node is None:
        return None
    call = (node.get("module_calls") or {}).get(name)
    return call if isinstance(call, dict) else None


def config_resources(plan: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every resource of the configuration as (module path, its configuration block)."""
    out: list[tuple[str, dict[str, Any]]] = []

    def walk(node: dict[str, Any], module: str) -> None:
        for resource in node.get("resources") or []:
            if isinstance(resource, dict):
                out.append((module, resource))
        for name, call in (node.get("module_calls") or {}).items():
            child = call.get("module") if isinstance(call, dict) else None
            if isinstance(child, dict):
                walk(child, f"{module}.module.{name}" if module else f"module.{name}")

    walk((plan.get("configuration") or {}).get("root_module") or {}, "")
    return out


def _qualify(module: str, address: str) -> str:
    return f"{module}.{address}" if module else address


def _ref_to_resource(ref: str) -> str | None:
    """`aws_security_group.alb.id` / `aws_security_group.alb[0]` → `aws_security_group.alb`."""
    parts = strip_index(ref).split(".")
    if parts[0] in ("var", "local", "each", "count", "path", "terraform", "self", "module"):
        return None
    if parts[0] == "data":
        return ".".join(parts[:3]) if len(parts) >= 3 else None
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def resolve_references(
    plan: dict[str, Any], module: str, refs: list[str], depth: int = 0
) -> set[str]:
    """The resources (module-qualified, no index) that `refs` made in `module` point at.

    `var.x` inside a module follows the module call's `x` argument into the parent;
    `module.m.y` follows the child's output `y`.
    """
    found: set[str] = set()
    if depth > 10:
        return found
    for ref in refs:
        if not isinstance(ref, str):
            continue
        parts = strip_index(ref).split(".")
        if parts[0] == "var" and len(parts) >= 2 and module:
            call = _module_call(plan, module) or {}
            expression = (call.get("expressions") or {}).get(parts[1]) or {}
            found |= resolve_references(
                plan, _parent(module)[0], _expression_refs(expression), depth + 1
            )
        elif parts[0] == "module" and len(parts) >= 3:
            child = _qualify(module, f"module.{parts[1]}")
            node = _module_config(plan, child) or {}
            output = (node.get("outputs") or {}).get(parts[2]) or {}
            found |= resolve_references(
                plan, child, _expression_refs(output.get("expression") or {}), depth + 1
            )
        else:
            target = _ref_to_resource(ref)
            if target:
                found.add(_qualify(module, target))
    return found


def _expression_refs(expression: Any) -> list[str]:
    """Every reference inside an expression (blocks and lists of expressions included)."""
    refs: list[str] = []
    if isinstance(expression, dict):
        refs.extend(r for r in expression.get("references") or [] if isinstance(r, str))
        for key, value in expression.items():
            if key != "references" and isinstance(value, (dict, list)):
                refs.extend(_expression_refs(value))
    elif isinstance(expression, list):
        for item in expression:
            refs.extend(_expression_refs(item))
    return refs


def attribute_targets(plan: dict[str, Any], address: str, attribute: str) -> set[str]:
    """Resources that attribute `attribute` of resource `address` refers to."""
    module, local = _split_module(strip_index(address))
    node = _module_config(plan, module) or {}
    for resource in node.get("resources") or []:
        if isinstance(resource, dict) and resource.get("address") == local:
            expression = (resource.get("expressions") or {}).get(attribute)
            return resolve_references(plan, module, _expression_refs(expression))
    return set()


def planned_resources(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Every resource of planned_values, child modules included."""
    out: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        out.extend(r for r in node.get("resources") or [] if isinstance(r, dict))
        for child in node.get("child_modules") or []:
            if isinstance(child, dict):
                walk(child)

    walk((plan.get("planned_values") or {}).get("root_module") or {})
    return out


LOAD_BALANCER_TYPES = ("aws_lb", "aws_alb")


def load_balancer_security_groups(plan: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Security groups attached to a load balancer: (resource addresses, known IDs).

    Addresses come from the `security_groups` expression of every aws_lb/aws_alb in
    the configuration (through module variables and outputs); IDs from the planned
    `security_groups` value of load balancers whose groups already exist.
    """
    addresses: set[str] = set()
    ids: set[str] = set()
    for module, resource in config_resources(plan):
        if resource.get("type") in LOAD_BALANCER_TYPES and resource.get("mode") == "managed":
            expression = (resource.get("expressions") or {}).get("security_groups")
            addresses |= resolve_references(plan, module, _expression_refs(expression))
    for resource in planned_resources(plan):
        if resource.get("type") in LOAD_BALANCER_TYPES:
            values = resource.get("values") or {}
            ids.update(g for g in values.get("security_groups") or [] if isinstance(g, str))
    return addresses, ids


def planned_value(plan: dict[str, Any], address: str, attribute: str) -> Any:
    for resource in planned_resources(plan):
        if resource.get("address") == address:
            return (resource.get("values") or {}).get(attribute)
    return None
