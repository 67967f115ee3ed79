from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from ephemera.config import schemafiles, stackvars, yamlload
from ephemera.config.stackvars import StackVariablesError, VariableIssue
from ephemera.errors import EXIT_INVALID, UsageError
from ephemera.project import Project
from ephemera.terraform.types import TfType, TypeSyntaxError, parse_type
from tests.conftest import REPO_ROOT

FIXTURE_ROOT = REPO_ROOT / "tests" / "fixtures" / "config"
FIXTURE_STACK = FIXTURE_ROOT / "terraform" / "stacks" / "mock-api"


def repo_project(tmp_path: Path) -> Project:
    return Project(root=REPO_ROOT, home=tmp_path / ".ephemera")


def write_tf(tmp_path: Path, text: str, stack: str = "s") -> Path:
    stack_dir = tmp_path / "terraform" / "stacks" / stack
    stack_dir.mkdir(parents=True, exist_ok=True)
    (stack_dir / "variables.tf").write_text(text)
    return stack_dir


# ------------------------------------------------------------------ type expressions


@pytest.mark.parametrize(
    ("expression", "shown"),
    [
        ("string", "string"),
        ("number", "number"),
        ("bool", "bool"),
        ("any", "any"),
        ('"string"', "string"),
        ("${list(string)}", "list(string)"),
        ("${set(number)}", "set(number)"),
        ("${map(list(bool))}", "map(list(bool))"),
        ("${tuple([string, number])}", "tuple([string, number])"),
        ("${object({a = string, b = number})}", "object({a = string, b = number})"),
        (
            "${list(object({name = string, port = optional(number, 8080), "
            'tags = optional(map(string), {"a" = "b)"})}))}',
            "list(object({name = string, port = optional(number), tags = optional(map(string))}))",
        ),
        ("${object({})}", "object({})"),
    ],
)
def test_parse_type(expression: str, shown: str) -> None:
    assert str(parse_type(expression)) == shown


def test_parse_type_structure() -> None:
    parsed = parse_type("${object({name = string, port = optional(number)})}")
    assert parsed == TfType(
        "object",
        attributes=(("name", TfType("string")), ("port", TfType("number"))),
        optional=frozenset({"port"}),
    )
    assert parse_type(None) == TfType("any")


@pytest.mark.parametrize(
    "expression", ["strng", "${list(string}", "${list()}", "${map(string) extra}", "${foo(x)}"]
)
def test_parse_type_rejects_nonsense(expression: str) -> None:
    with pytest.raises(TypeSyntaxError):
        parse_type(expression)


# -------------------------------------------------------------------- variables.tf


def test_read_the_local_mock_api_stack() -> None:
    variables = stackvars.read_stack_variables(REPO_ROOT / "terraform/stacks/local-mock-api")
    assert set(variables) == {
        "environment",
        "owner",
        "tags",
        "project_root",
        "runtime_dir",
        "bind_address",
        "port",
        "expectations_file",
    }
    port = variables["port"]
    assert (port.type, port.required, port.default) == (TfType("number"), False, 8080)
    assert port.description == "TCP port the mock API listens on."
    assert variables["bind_address"].default == "127.0.0.1"  # quotes stripped
    assert variables["expectations_file"].required
    assert variables["tags"].type_text == "map(string)"
    assert variables["tags"].provided and not variables["port"].provided
    text = (REPO_ROOT / "terraform/stacks/local-mock-api/variables.tf").read_text()
    assert variables["port"].line == text.splitlines().index('variable "port" {') + 1


def test_read_the_fixture_stack_types() -> None:
    variables = stackvars.read_stack_variables(FIXTURE_STACK)
    shown = {name: str(var.type) for name, var in variables.items()}
    assert shown == {
        "environment": "string",
        "tags": "map(string)",
        "port": "number",
        "expectations_file": "string",
        "debug": "bool",
        "allowed_cidrs": "list(string)",
        "limits": "map(number)",
        "listeners": "list(object({name = string, port = number, tls = optional(bool)}))",
        "pair": "tuple([string, number])",
        "labels": "set(string)",
        "extra": "any",
    }
    assert variables["extra"].required is False  # default = null is still a default
    assert variables["pair"].default == ["a", 1]


def test_a_stack_without_variables_tf_declares_nothing(tmp_path: Path) -> None:
    assert stackvars.read_stack_variables(tmp_path) == {}


def test_descriptions_with_escapes_and_heredocs(tmp_path: Path) -> None:
    stack = write_tf(
        tmp_path,
        'variable "a" {\n  description = "say \\"hi\\""\n}\n'
        'variable "b" {\n  type = string\n  description = <<-EOT\n    two\n    lines\n  EOT\n}\n',
    )
    variables = stackvars.read_stack_variables(stack)
    assert variables["a"].description == 'say "hi"'
    assert variables["a"].type == TfType("any") and variables["a"].required
    assert variables["b"].description == "two\nlines"


def test_parsed_once_per_file_version(tmp_path: Path) -> None:
    stack = write_tf(tmp_path, 'variable "a" {\n  type = string\n}\n')
    first = stackvars.read_stack_variables(stack)
    assert stackvars.read_stack_variables(stack) == first
    path = stack / "variables.tf"
    path.write_text('variable "a" {\n  type = number\n  default = 1\n}\n')
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10_000_000))
    assert stackvars.read_stack_variables(stack)["a"].type == TfType("number")


def test_invalid_hcl_names_the_file_and_line(tmp_path: Path) -> None:
    stack = write_tf(tmp_path, 'variable "a" {\n  type = \n}\n', stack="broken")
    with pytest.raises(StackVariablesError) as caught:
        stackvars.read_stack_variables(stack)
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == EXIT_INVALID
    assert caught.value.message.startswith(
        "terraform/stacks/broken/variables.tf:2: not valid HCL: "
    )


def test_an_unknown_type_names_the_variable(tmp_path: Path) -> None:
    stack = write_tf(tmp_path, '\nvariable "a" {\n  type = strin\n}\n', stack="typo")
    with pytest.raises(StackVariablesError) as caught:
        stackvars.read_stack_variables(stack)
    assert caught.value.message == (
        "terraform/stacks/typo/variables.tf:2: variable 'a': in type 'strin': unknown type 'strin'"
    )


def test_a_variable_declared_twice(tmp_path: Path) -> None:
    stack = write_tf(tmp_path, 'variable "a" {}\nvariable "a" {}\n', stack="twice")
    with pytest.raises(StackVariablesError, match="variable 'a' is declared twice"):
        stackvars.read_stack_variables(stack)


# ------------------------------------------------------------------------ checking


def check(values: dict[str, Any]) -> list[tuple[str, str]]:
    declared = stackvars.read_stack_variables(FIXTURE_STACK)
    issues = stackvars.check_variables(values, declared, "mock-api")
    return [(yamlload.format_path(i.path), i.message) for i in issues]


def test_valid_variables_pass() -> None:
    assert (
        check(
            {
                "expectations_file": "e.json",
                "port": 9000,
                "debug": False,
                "allowed_cidrs": ["10.0.0.0/8"],
                "limits": {"a": 1.5},
                "listeners": [{"name": "a", "port": 1}, {"name": "b", "port": 2, "tls": None}],
                "pair": ["x", 2],
                "labels": [],
                "extra": {"anything": [None]},
            }
        )
        == []
    )


def test_unknown_variable_suggests_the_closest_name() -> None:
    assert check({"expectations_file": "e", "prot": 1}) == [
        (
            "prot",
            "unknown variable of stack 'mock-api' (did you mean 'port'?); known: allowed_cidrs, "
            "debug, expectations_file, extra, labels, limits, listeners, pair, port",
        )
    ]


def test_missing_required_variable() -> None:
    assert check({}) == [
        (
            "expectations_file",
            "required variable of stack 'mock-api' missing (type string, no default)",
        )
    ]


def test_provided_variables_are_refused_and_never_required() -> None:
    # environment and tags are declared without a default: Ephemera supplies them.
    assert check({"expectations_file": "e", "environment": "x", "owner": "y"}) == [
        ("environment", "set by Ephemera, not the environment file"),
        ("owner", "set by Ephemera, not the environment file"),
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"port": "8080"}, [("port", "expected number, got string '8080'")]),
        ({"port": True}, [("port", "expected number, got bool True")]),
        ({"debug": "yes"}, [("debug", "expected bool, got string 'yes'")]),
        (
            {"allowed_cidrs": "10.0.0.0/8"},
            [("allowed_cidrs", "expected list(string), got string '10.0.0.0/8'")],
        ),
        ({"allowed_cidrs": ["a", 1]}, [("allowed_cidrs[1]", "expected string, got number 1")]),
        ({"limits": {"a": "x"}}, [("limits.a", "expected number, got string 'x'")]),
        ({"limits": [1]}, [("limits", "expected map(number), got list")]),
        (
            {"listeners": [{"name": "a", "port": "p", "colour": "red"}, {"port": 2}]},
            [
                ("listeners[0].port", "expected number, got string 'p'"),
                ("listeners[0].colour", "unknown attribute; known: name, port, tls"),
                ("listeners[1].name", "required attribute missing (type string)"),
            ],
        ),
        ({"pair": ["a"]}, [("pair", "expected tuple([string, number]) (2 items), got 1 item")]),
        ({"pair": [1, 2]}, [("pair[0]", "expected string, got number 1")]),
        ({"labels": {"a": 1}}, [("labels", "expected set(string), got mapping")]),
        (
            {"port": None},
            [("port", "expected number, got null (remove the key to use the stack's default)")],
        ),
    ],
)
def test_type_mismatches(values: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert check({"expectations_file": "e", **values}) == expected


def test_check_value_object_with_suggestion() -> None:
    tf_type = parse_type("${object({name = string})}")
    assert stackvars.check_value({"nmae": "x"}, tf_type) == [
        VariableIssue(("nmae",), "unknown attribute (did you mean 'name'?); known: name"),
        VariableIssue(("name",), "required attribute missing (type string)"),
    ]


# ------------------------------------------------------------------------- schemas


def test_stack_schema_of_the_local_stack() -> None:
    schema = schemafiles.stack_schema(REPO_ROOT / "terraform/stacks/local-mock-api")
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["expectations_file"]
    assert set(schema["properties"]) == {"bind_address", "port", "expectations_file"}
    assert schema["properties"]["port"] == {  # from its validation block
        "description": "TCP port the mock API listens on.",
        "type": "integer",
        "minimum": 1024,
        "maximum": 65535,
        "default": 8080,
    }
    Draft202012Validator.check_schema(schema)


def test_stack_schema_of_nested_types() -> None:
    schema = schemafiles.stack_schema(FIXTURE_STACK)
    listeners = schema["properties"]["listeners"]
    assert listeners["items"] == {
        "type": "object",
        "properties": {
            "name": {"description": "name: string", "type": "string"},
            "port": {"description": "port: number", "type": "number"},
            "tls": {"description": "tls: bool (optional)", "type": "boolean"},
        },
        "required": ["name", "port"],
        "additionalProperties": False,
    }
    assert schema["properties"]["pair"]["prefixItems"] == [{"type": "string"}, {"type": "number"}]
    assert schema["properties"]["limits"]["additionalProperties"] == {"type": "number"}
    assert "default" not in schema["properties"]["extra"]  # null default: not shown
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"expectations_file": "e", "listeners": [{"name": "a", "port": 1}]})
    assert not validator.is_valid({"expectations_file": "e", "pair": ["a", 1, 2]})
    assert not validator.is_valid({"expectations_file": "e", "tags": {}})


def test_write_stack_schemas(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE_ROOT / "terraform", tmp_path / "terraform")
    (tmp_path / "environments").mkdir()
    stale = tmp_path / "schemas" / "stacks" / "gone.schema.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}\n")
    project = Project(root=tmp_path, home=tmp_path / ".ephemera")

    written = schemafiles.write_stack_schemas(project)

    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "schemas/defaults.schema.json",
        "schemas/environment.schema.json",
        "schemas/stacks/mock-api.schema.json",
        "schemas/stacks/static-site.schema.json",
    ]
    assert not stale.exists()
    text = (tmp_path / "schemas/stacks/static-site.schema.json").read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"
    env_schema = json.loads((tmp_path / "schemas/environment.schema.json").read_text())
    assert env_schema["allOf"][1] == {
        "if": {"properties": {"stack": {"const": "static-site"}}, "required": ["stack"]},
        "then": {"properties": {"variables": {"$ref": "stacks/static-site.schema.json"}}},
    }
    before = {p: p.stat().st_mtime_ns for p in written}
    assert schemafiles.write_stack_schemas(project) == written
    assert {p: p.stat().st_mtime_ns for p in written} == before  # unchanged: not rewritten


def test_committed_schemas_match_the_generated_ones(tmp_path: Path) -> None:
    project = repo_project(tmp_path)
    expected = schemafiles.render_schemas(project)
    committed = {
        *project.schemas_dir.glob("*.schema.json"),
        *(project.schemas_dir / "stacks").glob("*.schema.json"),
    }
    assert committed == set(expected), "run: invoke schema"
    for path, text in expected.items():
        assert path.read_text() == text, f"{path} is stale; run: invoke schema"


def walk_properties(schema: Any, where: str = "#") -> list[str]:
    """Locations of objects with properties lacking additionalProperties: false,
    and of properties without a description."""
    found: list[str] = []
    if isinstance(schema, dict):
        if "properties" in schema and "if" not in where.rsplit("/", 1)[-1]:
            if schema.get("additionalProperties") is not False:
                found.append(f"{where}: additionalProperties")
            for name, prop in schema["properties"].items():
                if isinstance(prop, dict) and "description" not in prop and "$ref" not in prop:
                    found.append(f"{where}/properties/{name}: description")
        for key, value in schema.items():
            if key in ("if", "then"):
                continue  # the per-stack rules only select and refer
            found += walk_properties(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for index, item in enumerate(schema):
            found += walk_properties(item, f"{where}/{index}")
    return found


def test_committed_schemas_are_closed_and_described(tmp_path: Path) -> None:
    project = repo_project(tmp_path)
    for path in [
        project.schemas_dir / "environment.schema.json",
        *(project.schemas_dir / "stacks").glob("*.schema.json"),
    ]:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
        assert walk_properties(schema) == [], path


def committed_validator(project: Project, schema: str = "environment") -> Draft202012Validator:
    """The committed schema files, validated as an editor would: refs served locally."""
    env_schema = json.loads((project.schemas_dir / f"{schema}.schema.json").read_text())
    resources = [
        (f"stacks/{p.name}", Resource.from_contents(json.loads(p.read_text())))
        for p in (project.schemas_dir / "stacks").glob("*.schema.json")
    ]
    return Draft202012Validator(env_schema, registry=Registry().with_resources(resources))


def test_committed_schema_checks_stack_variables_like_an_editor(tmp_path: Path) -> None:
    project = repo_project(tmp_path)
    validator = committed_validator(project)
    for name, schema in (("_defaults", "defaults"), ("local-demo", "environment")):
        data = yamlload.load(project.environment_file(name)).data
        assert list(committed_validator(project, schema).iter_errors(data)) == [], name
    data = yamlload.load(project.environment_file("local-demo")).data
    data["variables"]["port"] = "8765"
    data["variables"]["prot"] = 1
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["variables"], "additionalProperties"),
        (["variables", "port"], "type"),
    ]


def test_environment_validator_resolves_refs_locally(tmp_path: Path) -> None:
    project = repo_project(tmp_path)
    validator = schemafiles.environment_validator(project)
    data = yamlload.load(project.environment_file("local-demo")).data
    assert validator.is_valid(data)
    data["variables"]["bind_address"] = 1
    assert [list(e.absolute_path) for e in validator.iter_errors(data)] == [
        ["variables", "bind_address"]
    ]


def test_nan_and_inf_are_refused_wherever_they_are() -> None:
    from ephemera.config.stackvars import check_value
    from ephemera.terraform.types import parse_type

    assert [i.message for i in check_value(float("nan"), parse_type("number"), ("port",))] == [
        "nan is not a finite number"
    ]
    nested = check_value({"a": [1, float("-inf")]}, parse_type("any"), ("extra",))
    assert [(i.path, i.message) for i in nested] == [
        (("extra", "a", 1), "-inf is not a finite number")
    ]
