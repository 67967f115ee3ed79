"""The generated schema files: `schemas/stacks/<stack>.schema.json` (a stack's
`variables:` contract from its variables.tf) and `schemas/environment.schema.json`
(the environment schema, with a `$ref` to them per stack), and the validator of
single files as an editor sees them.

`python -m ephemera.config.schemafiles` (`invoke schema`) regenerates them; a test
fails when the committed files drift from what this writes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from ephemera.config.schema import environment_schema
from ephemera.config.stackvars import check_value, read_stack_variables, stack_names
from ephemera.environment import PROVIDED_VARIABLES
from ephemera.terraform.types import ANY, TfType

if TYPE_CHECKING:
    from ephemera.project import Project

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def type_schema(tf_type: TfType) -> dict[str, Any]:
    """The JSON Schema of values of a Terraform type (as written in YAML)."""
    kind = tf_type.kind
    if kind == "any":
        return {}
    if kind == "string":
        return {"type": "string"}
    if kind == "number":
        return {"type": "number"}
    if kind == "bool":
        return {"type": "boolean"}
    if kind in ("list", "set"):
        return {"type": "array", "items": type_schema(tf_type.element or ANY)}
    if kind == "map":
        return {"type": "object", "additionalProperties": type_schema(tf_type.element or ANY)}
    if kind == "tuple":
        return {
            "type": "array",
            "prefixItems": [type_schema(e) for e in tf_type.elements],
            "items": False,
            "minItems": len(tf_type.elements),
            "maxItems": len(tf_type.elements),
        }
    properties = {}
    for name, attr_type in tf_type.attributes:
        optional = " (optional)" if name in tf_type.optional else ""
        properties[name] = {
            "description": f"{name}: {attr_type}{optional}",
            **type_schema(attr_type),
        }
    return {
        "type": "object",
        "properties": properties,
        "required": [n for n, _ in tf_type.attributes if n not in tf_type.optional],
        "additionalProperties": False,
    }


def _json_safe(value: Any) -> bool:
    if isinstance(value, str):
        return "${" not in value
    if value is None or isinstance(value, bool | int | float):
        return True
    if isinstance(value, list):
        return all(_json_safe(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v) for k, v in value.items())
    return False


def stack_schema(stack_dir: Path) -> dict[str, Any]:
    """A JSON Schema of the `variables:` map an environment may give this stack:
    the user-settable variables with their descriptions, the required ones
    listed, nothing else allowed."""
    stack_dir = Path(stack_dir)
    declared = read_stack_variables(stack_dir)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name in sorted(declared):
        var = declared[name]
        if var.provided:
            continue
        prop: dict[str, Any] = {
            "description": var.description or f"{name} ({var.type_text})",
            **type_schema(var.type),
        }
        if (
            not var.required
            and var.default is not None
            and _json_safe(var.default)
            and not check_value(var.default, var.type)
        ):
            prop["default"] = var.default
        properties[name] = prop
        if var.required:
            required.append(name)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$comment": (
            f"Generated from terraform/stacks/{stack_dir.name}/variables.tf by "
            "ephemera.config.schemafiles; do not edit."
        ),
        "title": f"Variables of stack {stack_dir.name}",
        "description": (
            f"The variables: map of an environment using stack {stack_dir.name}. "
            "Variables Ephemera supplies itself (" + ", ".join(PROVIDED_VARIABLES) + ") "
            "are not set here."
        ),
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _refuse_remote(uri: str) -> Resource:
    # Every schema is registered locally; nothing is ever fetched over the network.
    raise NoSuchResource(ref=uri)


def schema_registry(stack_schemas: dict[str, dict[str, Any]]) -> Registry:
    """A registry serving `stacks/<stack>.schema.json` from memory; any other
    reference fails rather than being fetched."""
    resources = [
        (f"stacks/{stack}.schema.json", Resource.from_contents(schema))
        for stack, schema in stack_schemas.items()
    ]
    return Registry(retrieve=_refuse_remote).with_resources(resources)  # type: ignore[call-arg]


def environment_validator(project: Project) -> Draft202012Validator:
    """A validator of single files as an editor sees them: the full environment
    schema, its per-stack `$ref`s resolved locally to schemas generated from the
    project's stacks (the same content as schemas/stacks/*.schema.json)."""
    stacks = stack_names(project)
    schemas = {stack: stack_schema(project.stack_dir(stack)) for stack in stacks}
    return Draft202012Validator(environment_schema(stacks), registry=schema_registry(schemas))


def dump_json(data: Any) -> str:
    """Stable JSON text: 2-space indent, sorted keys, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schemas(project: Project) -> dict[Path, str]:
    """The generated schema files of a project, path → text: one per stack under
    schemas/stacks/ plus schemas/environment.schema.json, which refers to them."""
    stacks = stack_names(project)
    files: dict[Path, str] = {}
    for stack in stacks:
        schema = stack_schema(project.stack_dir(stack))
        files[project.schemas_dir / "stacks" / f"{stack}.schema.json"] = dump_json(schema)
    files[project.schemas_dir / "environment.schema.json"] = dump_json(environment_schema(stacks))
    return files


def write_stack_schemas(project: Project) -> list[Path]:
    """Write schemas/stacks/<stack>.schema.json for every stack and regenerate
    schemas/environment.schema.json; stale stack schemas are removed. Returns the
    generated paths (files already up to date are left untouched)."""
    files = render_schemas(project)
    stacks_schema_dir = project.schemas_dir / "stacks"
    stacks_schema_dir.mkdir(parents=True, exist_ok=True)
    for stale in stacks_schema_dir.glob("*.schema.json"):
        if stale not in files:
            stale.unlink()
    written = []
    for path, text in files.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # python -m ephemera.config.schemafiles: regenerate the schemas
    from ephemera.project import Project

    for written in write_stack_schemas(Project.discover()):
        print(written)
