"""Reading a Terraform state document (the JSON of a `terraform.tfstate`) without
running Terraform. Standard library only: the janitor Lambda packages it.
"""

from __future__ import annotations

from typing import Any


def count_state_resources(state: dict[str, Any]) -> int:
    """The managed resource instances in a state document (`data` sources are not
    counted): what a destroy still has to remove. ValueError when `state` is not a
    state document (not an object, or `resources` not a list)."""
    if not isinstance(state, dict):
        raise ValueError(f"a Terraform state is a JSON object, not {type(state).__name__}")
    resources = state.get("resources") or []
    if not isinstance(resources, list):
        raise ValueError("a Terraform state's resources are a list")
    return sum(
        len(resource.get("instances") or [])
        for resource in resources
        if isinstance(resource, dict) and resource.get("mode") == "managed"
    )
