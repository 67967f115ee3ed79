"""Reading a Terraform state document (the JSON of a `terraform.tfstate`) without
running Terraform. Standard library only: the janitor Lambda packages it.
"""

from __future__ import annotations

import json
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


STATE_KEY = "envs/{env}/terraform.tfstate"  # the s3 backend's key (templates/backend/s3.hcl.j2)


def count_state_data(data: bytes) -> int | None:
    """`count_state_resources` of a state file's bytes; None when they hold no state (an
    empty file, not JSON, not a state document)."""
    try:
        return count_state_resources(json.loads(data))
    except ValueError:
        return None


def read_s3_state(s3: Any, bucket: str, env: str) -> bytes | None:
    """The bytes of `env`'s state object in `bucket` (`s3`: a boto3 S3 client); None when
    there is no object or it cannot be read."""
    try:
        return s3.get_object(Bucket=bucket, Key=STATE_KEY.format(env=env))["Body"].read()
    except Exception:  # noqa: BLE001 - missing, forbidden, unreachable: unknown either way
        return None


def count_s3_state(s3: Any, bucket: str, env: str) -> int | None:
    """`count_state_data` of `env`'s state object in `bucket`; None without one."""
    body = read_s3_state(s3, bucket, env)
    return None if body is None else count_state_data(body)


def state_addresses(data: bytes) -> list[dict[str, str]] | None:
    """Each resource instance of a state file as {address, mode, type}, as `terraform
    state list` names them (`module.m.aws_s3_bucket.b["k"]`), and nothing of their
    attributes; None when the bytes hold no state."""
    try:
        state = json.loads(data)
        count_state_resources(state)  # the same checks
    except ValueError:
        return None
    found = []
    for resource in state.get("resources") or []:
        if not isinstance(resource, dict) or resource.get("mode") not in ("managed", "data"):
            continue
        prefix = f"{resource['module']}." if resource.get("module") else ""
        prefix += "data." if resource["mode"] == "data" else ""
        base = f"{prefix}{resource.get('type')}.{resource.get('name')}"
        for instance in resource.get("instances") or []:
            key = instance.get("index_key") if isinstance(instance, dict) else None
            index = "" if key is None else f"[{json.dumps(key)}]"
            found.append(
                {
                    "address": base + index,
                    "mode": resource["mode"],
                    "type": resource.get("type", ""),
                }
            )
    return found
