"""What an environment's Terraform state holds, read without running Terraform: the
local state file (target local) or the object in the state bucket (target aws)."""

from __future__ import annotations

from typing import Any

from ephemera.environment import Environment
from ephemera.janitor.tfstate import count_state_data, read_s3_state, state_addresses
from ephemera.project import Project


def local_count(project: Project, env: str) -> int | None:
    """Managed resource instances in the local state; None when there is no state (no
    file, an empty file or one that is not a state)."""
    data = _local_state(project, env)
    return None if data is None else count_state_data(data)


def count(project: Project, env: Environment, session: Any = None) -> int | None:
    """Resources in `env`'s state, wherever its target keeps it (None: no state found)."""
    data = _state(project, env, session)
    return None if data is None else count_state_data(data)


def local_addresses(project: Project, env: str) -> list[dict] | None:
    """`addresses` of the local state file."""
    data = _local_state(project, env)
    return None if data is None else state_addresses(data)


def addresses(project: Project, env: Environment, session: Any = None) -> list[dict] | None:
    """Each resource instance in `env`'s state, {address, mode, type}, never a value;
    None when no state is found."""
    data = _state(project, env, session)
    return None if data is None else state_addresses(data)


def _local_state(project: Project, env: str) -> bytes | None:
    try:
        return (project.state_dir(env) / "terraform.tfstate").read_bytes()
    except OSError:
        return None


def _state(project: Project, env: Environment, session: Any) -> bytes | None:
    """The bytes of `env`'s state: the local file, or the object in its state bucket."""
    if env.target == "local":
        return _local_state(project, env.name)
    bucket = env.aws.get("state_bucket")
    if not bucket:
        return None
    import boto3  # only the aws target needs it

    session = session or boto3.Session(region_name=env.aws.get("region") or env.region)
    return read_s3_state(session.client("s3"), bucket, env.name)


def local_names(project: Project) -> set[str]:
    """Environments with a local state file."""
    root = project.home / "state"
    if not root.is_dir():
        return set()
    return {p.name for p in root.iterdir() if (p / "terraform.tfstate").is_file()}


def s3_names(bucket: str, session: Any) -> set[str]:
    """Environments with a state object in `bucket` (keys envs/<env>/terraform.tfstate)."""
    pages = (
        session.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=bucket, Prefix="envs/")
    )
    names = set()
    for page in pages:
        for item in page.get("Contents") or []:
            parts = item["Key"].split("/")
            if len(parts) == 3 and parts[2] == "terraform.tfstate":
                names.add(parts[1])
    return names
