"""What Ephemera knows about a stack beyond its variables.tf:
`terraform/stacks/<stack>/stack.yaml`, the one documented place a stack declares

    runtime: terraform_data.mock_api        # the resource that *is* the running
                                            # environment (replaced when it is unhealthy)
    pre_destroy:                            # steps run before `terraform destroy`
      - action: ecs_scale_to_zero           # one of ACTIONS, with its parameters
        cluster_output: cluster
        service_output: service
        timeout: 10m
    files:                                  # variables that name a file of the project,
      expectations_file: mockapi            # and how validate checks it (FILE_FORMATS)
    listen:                                 # target local: the variables of the address
      port: port                            # the environment listens on (validate checks
      address: bind_address                 # no other environment or program holds it)

The file is optional (no runtime, no steps). It is loaded strictly (yamlload) and
checked against a JSON Schema with `additionalProperties: false`; every problem is
`terraform/stacks/<stack>/stack.yaml:<line>: <key>: <message>` (exit 2). Actions are
names of Python functions Ephemera runs (`ephemera.lifecycle`), never commands: no
value of this file reaches a shell.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ephemera.config import yamlload
from ephemera.config.schema import remembered_errors
from ephemera.durations import DURATION_PATTERN
from ephemera.errors import ValidationError
from ephemera.files import FileMemo

MANIFEST = "stack.yaml"
ADDRESS_PATTERN = (
    r"^(module\.[A-Za-z_][A-Za-z0-9_-]*\.)*[A-Za-z_][A-Za-z0-9_-]*\.[A-Za-z_][A-Za-z0-9_-]*$"
)
OUTPUT_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$"}

# action name → the JSON Schema of its parameters (beside `action`)
ACTIONS: dict[str, dict[str, Any]] = {
    "ecs_scale_to_zero": {
        "description": "Set the ECS service's desired count to 0 and wait (bounded) until "
        "its running tasks have drained.",
        "properties": {
            "cluster_output": {**OUTPUT_NAME, "description": "Stack output naming the cluster."},
            "service_output": {**OUTPUT_NAME, "description": "Stack output naming the service."},
            "timeout": {
                "type": "string",
                "pattern": DURATION_PATTERN,
                "description": "How long to wait for the tasks to drain (default 10m).",
            },
        },
        "required": ["cluster_output", "service_output"],
    },
}

# How validate checks a file a variable names, beyond "it exists inside the project".
FILE_FORMATS = {
    "file": "any file",
    "json": "a JSON document",
    "mockapi": "an expectations file the local mock API serves (its own check)",
}
VARIABLE_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$"}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Ephemera stack manifest",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "runtime": {
            "type": "string",
            "pattern": ADDRESS_PATTERN,
            "description": "Address of the resource that is the running environment.",
        },
        "files": {
            "type": "object",
            "description": "Variables naming a file of the project, and its format.",
            "propertyNames": VARIABLE_NAME,
            "additionalProperties": {"enum": sorted(FILE_FORMATS)},
        },
        "listen": {
            "type": "object",
            "description": "The variables of the local address the environment listens on.",
            "additionalProperties": False,
            "required": ["port"],
            "properties": {"port": VARIABLE_NAME, "address": VARIABLE_NAME},
        },
        "pre_destroy": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["action"],
                "properties": {"action": {"enum": sorted(ACTIONS)}},
                "allOf": [
                    {
                        "if": {"properties": {"action": {"const": name}}},
                        "then": {
                            "properties": {"action": True, **spec["properties"]},
                            "required": spec["required"],
                            "additionalProperties": False,
                        },
                    }
                    for name, spec in ACTIONS.items()
                ],
            },
        },
    },
}


def _schema() -> dict[str, Any]:
    return SCHEMA


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # slow to load: only when needed

    return Draft202012Validator(SCHEMA)


@dataclass(frozen=True)
class Step:
    """One pre-destroy step: an action of ACTIONS and its parameters."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StackManifest:
    runtime: str | None = None
    pre_destroy: tuple[Step, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # variable → FILE_FORMATS key
    listen: dict[str, str] = field(default_factory=dict)  # "port"/"address" → variable


_CACHE: FileMemo[StackManifest] = FileMemo()


def load_manifest(
    stack_dir: Path, display: str | None = None, cache_dir: Path | None = None
) -> StackManifest:
    """The manifest of the stack in `stack_dir` (an empty one when it has none);
    ValidationError with every problem of the file. A valid one is read once per file
    version (cached by path, mtime and size): validating 1,000 environments of a stack
    reads its manifest once; with `cache_dir`, its validity is remembered by content
    (`schema.remembered_errors`)."""
    path = Path(stack_dir) / MANIFEST
    return _CACHE.get(path, lambda: _read(path, display, cache_dir), StackManifest())


def _read(path: Path, display: str | None, cache_dir: Path | None) -> StackManifest:
    if not path.is_file():
        return StackManifest()
    doc = yamlload.load(path, display or f"terraform/stacks/{path.parent.name}/{MANIFEST}")
    problems = {
        doc.problem(path, message)
        for error in remembered_errors(_schema, _validator, doc.data, cache_dir)
        for path, message in _messages(error)
    }
    if problems:
        raise ValidationError(sorted(problems))
    steps = tuple(
        Step(item["action"], {k: v for k, v in item.items() if k != "action"})
        for item in doc.data.get("pre_destroy") or []
    )
    return StackManifest(
        runtime=doc.data.get("runtime"),
        pre_destroy=steps,
        files=dict(doc.data.get("files") or {}),
        listen=dict(doc.data.get("listen") or {}),
    )


def _messages(error: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """(key path, message) pairs for one schema error."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        extra = [key for key in error.instance if key not in error.schema.get("properties", {})]
        return [((*path, key), f"unknown key; allowed: {known}") for key in extra]
    if error.validator == "enum" and path and path[0] == "files":
        return [(path, f"unknown format {error.instance!r}; known: {', '.join(FILE_FORMATS)}")]
    if error.validator == "enum":
        return [(path, f"unknown action {error.instance!r}; known: {', '.join(sorted(ACTIONS))}")]
    if error.validator == "pattern" and error.validator_value == ADDRESS_PATTERN:
        return [(path, f"{error.instance!r} is not a resource address like terraform_data.x")]
    if error.validator == "pattern" and error.validator_value == DURATION_PATTERN:
        return [(path, f"{error.instance!r} is not a duration like 30m, 8h or 2d")]
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return [((*path, key), "required key missing") for key in missing]
    return [(path, error.message)]
