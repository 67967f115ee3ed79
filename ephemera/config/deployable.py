"""What validate checks beyond the files themselves, so that passing it means the
environment will deploy (run by validate, plan and deploy before anything is rendered):

- the stack's own variable `validation` blocks, evaluated by Terraform (`tfcheck`);
  then, with values the stack accepts,
- each file the stack's manifest names (`files:`) exists inside the project and passes
  its format's check (JSON; the local mock API's own check of expectations);
- the local address the environment would listen on (`listen:`) is held neither by
  another environment's live lease nor by another program.

Each problem is placed at the YAML line of the key it is about.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ephemera.config.documents import SourceFiles
from ephemera.config.stackmanifest import StackManifest, load_manifest
from ephemera.config.stackvars import stack_variables
from ephemera.config.tfcheck import validation_failures
from ephemera.environment import Environment
from ephemera.errors import Problem
from ephemera.files import code_digest, keep_json, read_json
from ephemera.health import endpoint
from ephemera.leases import DESTROYED, LeaseStore
from ephemera.project import Project

# A provided variable Terraform refuses is the YAML key Ephemera took it from.
PROVIDED_KEYS: dict[str, tuple[str, ...]] = {
    "environment": ("name",),
    "owner": ("owner",),
    "tags": ("tags",),
    "region": ("region",),
    "permissions_boundary_arn": ("aws", "permissions_boundary_arn"),
}
StoreFactory = Callable[[], LeaseStore]


def deployable_problems(
    project: Project, env: Environment, files: SourceFiles, store: StoreFactory | None
) -> list[Problem]:
    refused = [
        files.problem(_key_of(name, env), message)
        for name, message in validation_failures(project, env)
    ]
    if refused:  # the stack's own rules first: the checks below assume values it accepts
        return refused
    manifest = load_manifest(project.stack_dir(env.stack), cache_dir=project.cache_dir)
    values = _values(project, env)
    problems = _file_problems(project, manifest, values, files)
    if env.target == "local" and store is not None:
        problems += _port_problems(env, manifest, values, files, store)
    return problems


def _values(project: Project, env: Environment) -> dict[str, Any]:
    """The stack variables' values: the environment's, else the stack's defaults."""
    declared = stack_variables(project, env.stack)
    return {name: env.variables.get(name, var.default) for name, var in declared.items()}


def _key_of(variable: str | None, env: Environment) -> tuple[str, ...]:
    if variable is None:
        return ("variables",)
    if variable in env.variables:
        return ("variables", variable)
    return PROVIDED_KEYS.get(variable, ("variables", variable))


def _file_problems(
    project: Project, manifest: StackManifest, values: dict[str, Any], files: SourceFiles
) -> list[Problem]:
    problems = []
    for variable, form in manifest.files.items():
        value = values.get(variable)
        if not isinstance(value, str):
            continue
        key = ("variables", variable)
        path = project.root / value
        if not path.resolve().is_relative_to(project.root):
            continue  # the static stage said so already
        if not path.is_file():
            problems.append(files.problem(key, f"{value}: no such file in the project"))
        elif form == "json":
            problems += [files.problem(key, m) for m in _json_problems(path, value)]
        elif form == "mockapi":
            problems += [files.problem(key, m) for m in _mockapi_problems(project, path, value)]
    return problems


def _mockapi_problems(project: Project, path: Path, shown: str) -> list[str]:
    """The local mock API's own check of an expectations file. Its answer is kept by the
    file's content and the checker's code (`.ephemera/cache/expectations/`): loading the
    checker costs more than a deploy's other checks together."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        return [f"{shown}: cannot read: {exc.strerror}"]
    key = hashlib.sha256(
        b"\0".join([content, shown.encode(), code_digest("ephemera.mockapi").encode()])
    ).hexdigest()
    entry = project.cache_dir / "expectations" / f"{key}.json"
    kept = read_json(entry)
    if isinstance(kept, list) and all(isinstance(m, str) for m in kept):
        return kept
    from ephemera.mockapi.expectations import load_file
    from ephemera.mockapi.model import ExpectationsError

    try:
        load_file(path, shown)
        found: list[str] = []
    except ExpectationsError as exc:
        found = list(exc.problems)
    keep_json(entry, found)
    return found


def _json_problems(path: Any, shown: str) -> list[str]:
    try:
        json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        return [f"{shown}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"]
    except (OSError, UnicodeDecodeError) as exc:
        return [f"{shown}: cannot read: {exc}"]
    return []


def _port_problems(
    env: Environment,
    manifest: StackManifest,
    values: dict[str, Any],
    files: SourceFiles,
    store: StoreFactory,
) -> list[Problem]:
    port_variable = manifest.listen.get("port")
    port = values.get(port_variable) if port_variable else None
    if not isinstance(port, int) or isinstance(port, bool):
        return []
    address = values.get(manifest.listen.get("address", "")) or "127.0.0.1"
    key = ("variables", port_variable) if port_variable in env.variables else ("variables",)
    leases = store().list()
    mine = None
    for lease in leases:
        if lease.status == DESTROYED or lease.target != "local":
            continue
        held = endpoint(lease.outputs.get("url"))
        if held is None or held[1] != port:
            continue
        if lease.env == env.name:
            mine = held
            continue
        return [
            files.problem(
                key, f"port {port} is held by environment {lease.env} (its lease is {lease.status})"
            )
        ]
    if mine is None and _in_use(str(address), port):
        return [files.problem(key, f"port {port} on {address} is in use by another program")]
    return []


def _in_use(address: str, port: int) -> bool:
    """Whether binding `address:port` fails because something holds it."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError:
            return True
    return False
