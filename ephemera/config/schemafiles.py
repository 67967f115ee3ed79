"""The generated schema files: `schemas/stacks/<stack>.schema.json` (a stack's
`variables:` contract from its variables.tf) and `schemas/environment.schema.json`
(the environment schema, with a `$ref` to them per stack), and the validator of
single files as an editor sees them.

`python -m ephemera.config.schemafiles` (`invoke schema`) regenerates them; a test
fails when the committed files drift from what this writes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from ephemera.config.documents import load_defaults
from ephemera.config.schema import DEFAULTS_ONLY, ENV_ONLY, MERGED_REQUIRED, environment_schema
from ephemera.config.stackvars import (
    StackVariable,
    check_value,
    read_stack_variables,
    stack_names,
)
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


def _refined(schema: dict[str, Any], var: StackVariable) -> dict[str, Any]:
    """`schema` with what the variable's validation conditions say in JSON Schema terms
    (an enum from `contains([...], var.x)`; integer, minimum and maximum from
    `var.x >= a && var.x <= b && floor(var.x) == var.x`), and null allowed unless the
    variable says `nullable = false` or a condition would refuse it. The conditions
    themselves are evaluated by Terraform at validate time; this is what an editor can
    offer and flag."""
    refined = dict(schema)
    for condition in var.conditions:
        refined.update(_condition_schema(condition, var.name))
    null_passes = all(
        re.search(rf"var\.{re.escape(var.name)}\s*==\s*null", c) for c in var.conditions
    )
    if var.nullable and null_passes and "type" in refined:
        kinds = refined["type"] if isinstance(refined["type"], list) else [refined["type"]]
        refined["type"] = [*kinds, "null"]
        if "enum" in refined:
            refined["enum"] = [*refined["enum"], None]
    return refined


def _condition_schema(condition: str, name: str) -> dict[str, Any]:
    ref = rf"var\.{re.escape(name)}\b"
    found: dict[str, Any] = {}
    listed = re.search(rf"contains\(\s*(\[[^\]]*\])\s*,\s*{ref}\s*\)", condition)
    if listed:
        try:
            values = json.loads(listed.group(1))
        except ValueError:
            values = None
        if isinstance(values, list) and all(isinstance(v, str | int | float) for v in values):
            found["enum"] = values
    number = r"(-?[0-9]+(?:\.[0-9]+)?)"
    bounds = {
        "minimum": rf"{ref}\s*>=\s*{number}",
        "exclusiveMinimum": rf"{ref}\s*>\s*{number}",
        "maximum": rf"{ref}\s*<=\s*{number}",
        "exclusiveMaximum": rf"{ref}\s*<\s*{number}",
    }
    for keyword, pattern in bounds.items():
        match = re.search(pattern, condition)
        if match:
            found[keyword] = json.loads(match.group(1))
    if re.search(rf"floor\(\s*{ref}\s*\)\s*==\s*{ref}", condition):
        found["type"] = "integer"
    return found


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
            **_refined(type_schema(var.type), var),
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


def editor_schema(project: Project, stacks: list[str], *, defaults: bool = False) -> dict[str, Any]:
    """The schema an editor holds one file against: an environment file's, or with
    `defaults` _defaults.yaml's. An environment file must set what the merge needs and
    _defaults.yaml does not give (`required`), and may not set max_ttl; _defaults.yaml
    may not set name. Both offer the stacks of terraform/stacks/ by name."""
    schema = environment_schema(stacks)
    properties = schema["properties"]
    properties["stack"] = {**properties["stack"], "enum": list(stacks)}
    if defaults:
        schema["title"] = "Ephemera environment defaults"
        schema["description"] = (
            "environments/_defaults.yaml: merged under every environment file (mappings key "
            "by key, the environment file wins; lists are replaced)."
        )
        for key in ENV_ONLY:
            del properties[key]
        return schema
    given = load_defaults(project)
    given_keys = set(given.data) if given is not None else set()
    schema["title"] = "Ephemera environment"
    schema["description"] = (
        "An environment file, environments/<name>.yaml, merged over environments/_defaults.yaml."
    )
    for key in DEFAULTS_ONLY:
        del properties[key]
    schema["required"] = [
        key for key in MERGED_REQUIRED if key not in DEFAULTS_ONLY and key not in given_keys
    ]
    return schema


def environment_validator(project: Project) -> Draft202012Validator:
    """A validator of single environment files as an editor sees them: the editor's
    schema, its per-stack `$ref`s resolved locally to schemas generated from the
    project's stacks (the same content as schemas/stacks/*.schema.json)."""
    stacks = stack_names(project)
    schemas = {stack: stack_schema(project.stack_dir(stack)) for stack in stacks}
    schema = editor_schema(project, stacks)
    return Draft202012Validator(schema, registry=schema_registry(schemas))


def dump_json(data: Any) -> str:
    """Stable JSON text: 2-space indent, sorted keys, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_schemas(project: Project) -> dict[Path, str]:
    """The generated schema files of a project, path → text: one per stack under
    schemas/stacks/, plus schemas/environment.schema.json (environment files) and
    schemas/defaults.schema.json (_defaults.yaml), which refer to them."""
    stacks = stack_names(project)
    files: dict[Path, str] = {}
    for stack in stacks:
        schema = stack_schema(project.stack_dir(stack))
        files[project.schemas_dir / "stacks" / f"{stack}.schema.json"] = dump_json(schema)
    files[project.schemas_dir / "environment.schema.json"] = dump_json(
        editor_schema(project, stacks)
    )
    files[project.schemas_dir / "defaults.schema.json"] = dump_json(
        editor_schema(project, stacks, defaults=True)
    )
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
