"""What validation keeps by content so that the next command does not redo it: the
parsed variables.tf (no python-hcl2 in a command whose stacks did not change), the
stack's validation blocks as Terraform evaluated them, and the mock API's check of an
expectations file. Each answers again from disk in a fresh state, is redone when the
content changes, and never keeps what is not a function of that content."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ephemera import config
from ephemera.config import deployable, schema, stackvars, tfcheck
from ephemera.errors import ValidationError
from ephemera.files import FileMemo
from ephemera.project import Project

LOCAL = (
    "name: {name}\nstack: local-mock-api\nowner: a@example.com\nvariables:\n"
    "  port: {port}\n  expectations_file: expectations/local-demo.json\n"
)


@pytest.fixture(autouse=True)
def _no_process_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts as a new process would: nothing kept in memory."""
    monkeypatch.setattr(stackvars, "_CACHE", FileMemo())
    monkeypatch.setattr(tfcheck, "_RESULTS", {})


def _refuse(*_: object, **__: object) -> None:
    raise AssertionError("computed again, though its answer was kept")


# ------------------------------------------------------------------ variables.tf


@pytest.mark.parametrize("stack", ["local-mock-api", "mock-api"])
def test_parsed_variables_come_back_from_disk_as_they_were_parsed(
    project: Project, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    parsed = stackvars.stack_variables(project, stack)
    assert list((project.cache_dir / "stackvars").glob("*.json"))
    monkeypatch.setattr(stackvars, "_CACHE", FileMemo())
    monkeypatch.setattr(stackvars, "_parse_variables_file", _refuse)
    assert stackvars.stack_variables(project, stack) == parsed


def test_a_changed_variables_tf_is_parsed_again(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    stackvars.stack_variables(project, "local-mock-api")
    source = project.stack_dir("local-mock-api") / "variables.tf"
    source.write_text(
        source.read_text()
        + '\nvariable "extra" {\n  type        = string\n  description = "x"\n}\n'
    )
    monkeypatch.setattr(stackvars, "_CACHE", FileMemo())
    assert "extra" in stackvars.stack_variables(project, "local-mock-api")


def test_an_unreadable_cache_entry_is_parsed_again(project: Project) -> None:
    parsed = stackvars.stack_variables(project, "local-mock-api")
    for entry in (project.cache_dir / "stackvars").glob("*.json"):
        entry.write_text('[{"name": "port"}]')  # a torn or foreign entry
    stackvars._CACHE.clear()
    assert stackvars.stack_variables(project, "local-mock-api") == parsed


def test_a_variables_tf_that_does_not_parse_is_never_kept(project: Project) -> None:
    (project.stack_dir("local-mock-api") / "variables.tf").write_text('variable "x" {\n')
    with pytest.raises(stackvars.StackVariablesError):
        stackvars.stack_variables(project, "local-mock-api")
    assert not list((project.cache_dir / "stackvars").glob("*.json"))


def test_validating_with_a_warm_cache_loads_no_parser_nor_validator(project: Project) -> None:
    """A real second process: validate twice; the second never imports python-hcl2 (the
    variables.tf parser), jsonschema (the schema and stack.yaml validators), nor the mock
    API's checker."""
    (project.environments_dir / "qa-env.yaml").write_text(LOCAL.format(name="qa-env", port=18080))
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ephemera import config\n"
        "from ephemera.project import Project\n"
        f"project = Project(root=Path({str(project.root)!r}), home=Path({str(project.home)!r}))\n"
        "config.load_environment(project, 'qa-env', deployable=True)\n"
        "slow = ('hcl2', 'lark', 'jsonschema', 'ephemera.mockapi.checker')\n"
        "print(sorted(m for m in sys.modules if m.startswith(slow)))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert runs[0] != "[]"  # the first one parsed
    assert runs[1] == "[]"


def test_a_valid_document_is_remembered_an_invalid_one_never(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = {"name": "qa-env"}
    assert schema.remembered_errors(
        schema.merged_schema, schema.merged_validator, document, project.cache_dir
    )
    assert not list((project.cache_dir / "valid").glob("*"))  # invalid: required keys missing
    valid = {**yaml_document(project), "name": "qa-env"}
    args = (schema.merged_schema, schema.merged_validator)
    assert schema.remembered_errors(*args, valid, project.cache_dir) == []
    monkeypatch.setattr(schema, "merged_validator", _refuse)
    assert schema.remembered_errors(schema.merged_schema, _refuse, valid, project.cache_dir) == []
    changed = {**valid, "ttl": "forever"}
    with pytest.raises(AssertionError, match="computed again"):
        schema.remembered_errors(schema.merged_schema, _refuse, changed, project.cache_dir)


def yaml_document(project: Project) -> dict:
    (project.environments_dir / "qa-env.yaml").write_text(LOCAL.format(name="qa-env", port=18083))
    return config.merged_document(project, "qa-env")


# ------------------------------------------------------------------ validation blocks


@pytest.mark.integration
def test_terraforms_verdict_on_the_values_is_kept_on_disk(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project.environments_dir / "qa-env.yaml").write_text(LOCAL.format(name="qa-env", port=80))
    with pytest.raises(ValidationError, match="port must be a whole number between 1024"):
        config.load_environment(project, "qa-env", deployable=True)
    monkeypatch.setattr(tfcheck, "_RESULTS", {})
    monkeypatch.setattr(tfcheck, "_plan", _refuse)
    with pytest.raises(ValidationError, match="port must be a whole number between 1024"):
        config.load_environment(project, "qa-env", deployable=True)


def test_a_run_that_could_not_check_the_values_is_not_kept(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _environment(project, port=18081)
    calls = []

    def crashed(*args: object) -> tuple[list, bool]:
        calls.append(args)
        return [(None, "terraform crashed")], False

    monkeypatch.setattr(tfcheck, "_plan", crashed)
    assert tfcheck.validation_failures(project, env) == [(None, "terraform crashed")]
    monkeypatch.setattr(tfcheck, "_RESULTS", {})
    tfcheck.validation_failures(project, env)
    assert len(calls) == 2
    assert not list((project.cache_dir / "tfcheck").glob("*.json"))


def test_conditions_that_read_files_are_never_kept_on_disk(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = project.stack_dir("local-mock-api") / "variables.tf"
    source.write_text(
        source.read_text().replace(
            '!startswith(var.expectations_file, "/")',
            'fileexists("${path.root}/x") || !startswith(var.expectations_file, "/")',
        )
    )
    env = _environment(project, port=18082)
    monkeypatch.setattr(tfcheck, "_plan", lambda *args: ([], True))
    assert tfcheck.validation_failures(project, env) == []
    assert not list((project.cache_dir / "tfcheck").glob("*.json"))


def _environment(project: Project, port: int):  # noqa: ANN202
    (project.environments_dir / "qa-env.yaml").write_text(LOCAL.format(name="qa-env", port=port))
    return config.load_environment(project, "qa-env")


# ------------------------------------------------------------------ expectations files


def test_the_mock_apis_check_is_kept_by_the_files_content(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project.root / "expectations" / "local-demo.json"
    assert deployable._mockapi_problems(project, path, "expectations/local-demo.json") == []
    import ephemera.mockapi.expectations as expectations

    monkeypatch.setattr(expectations, "load_file", _refuse)
    assert deployable._mockapi_problems(project, path, "expectations/local-demo.json") == []

    path.write_text(json.dumps([{"httpRequest": {"path": "/a"}, "httpResponse": {"bogus": 1}}]))
    monkeypatch.undo()
    problems = deployable._mockapi_problems(project, path, "expectations/local-demo.json")
    assert problems and all("expectations/local-demo.json" in p for p in problems)


def test_the_kept_check_is_of_this_checkers_code(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project.root / "expectations" / "local-demo.json"
    deployable._mockapi_problems(project, path, "expectations/local-demo.json")
    monkeypatch.setattr(deployable, "code_digest", lambda *modules: "another checker")
    calls = []
    import ephemera.mockapi.expectations as expectations

    monkeypatch.setattr(expectations, "load_file", lambda *args: calls.append(args))
    deployable._mockapi_problems(project, path, "expectations/local-demo.json")
    assert len(calls) == 1


def test_a_document_holding_a_non_json_value_is_never_remembered(project: Project) -> None:
    """A YAML date has no JSON text of its own: whatever text stood for it could be a
    string's, valid where the date is not."""
    import datetime

    document = {**yaml_document(project), "name": "qa-env"}
    args = (schema.merged_schema, schema.merged_validator)
    as_text = {**document, "tags": {"since": "<date>2026-01-01"}}
    assert schema.remembered_errors(*args, as_text, project.cache_dir) == []
    dated = {**document, "tags": {"since": datetime.date(2026, 1, 1)}}
    assert schema.remembered_errors(*args, dated, project.cache_dir)  # a date is no tag value
