"""Every `--json` output against its JSON Schema in docs/json.md, from real runs: a
deployed environment, one never deployed and one destroyed."""

from __future__ import annotations

import inspect

import jsonschema
import pytest

from ephemera.cli.tasks import namespace
from tests.conftest import free_port
from tests.integration.conftest import Cli, demo_env
from tests.support.jsondocs import checked, documented

pytestmark = pytest.mark.integration

JSON_TASKS = sorted(
    name
    for name, task in namespace.tasks.items()
    if "json" in inspect.signature(task.body).parameters
)


def test_every_json_task_is_documented_and_its_example_is_valid() -> None:
    assert JSON_TASKS == ["drift", "history", "outputs", "reconcile", "status", "ttl"]
    for name in JSON_TASKS:
        example, schema = documented(f"{name} --json")
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(example, schema)


def test_the_schemas_refuse_human_times() -> None:
    _, schema = documented("status --json")
    example, _ = documented("status --json")
    example["environments"][0]["expires_at"] = "2026-12-01 15:02:40+00:00"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, schema)


def test_every_json_output_validates(cli: Cli, port: int) -> None:
    cli.write_env("local-demo", demo_env(port))
    cli.write_env("spare", demo_env(free_port(), name="spare"))
    cli.write_env("gone", demo_env(free_port(), name="gone"))
    for name in ("local-demo", "gone"):
        assert cli.ephemera("deploy", name).returncode == 0
    assert cli.ephemera("destroy", "gone", "--yes").returncode == 0

    status = checked("status --json", cli.ephemera("status", "--json").stdout)
    rows = {row["env"]: row for row in status["environments"]}
    assert set(rows) == {"local-demo", "spare"}  # destroyed: only with --all
    assert rows["local-demo"]["healthy"] is True
    assert 0 < rows["local-demo"]["expires_in_seconds"] <= 8 * 3600
    every = checked("status --json", cli.ephemera("status", "--json", "--all").stdout)
    assert {row["env"]: row["status"] for row in every["environments"]}["gone"] == "destroyed"

    outputs = checked("outputs --json", cli.ephemera("outputs", "local-demo", "--json").stdout)
    assert outputs["outputs"]["url"] == f"http://127.0.0.1:{port}"
    assert cli.ephemera("extend-ttl", "local-demo", "30m").returncode == 0
    history = checked("history --json", cli.ephemera("history", "local-demo", "--json").stdout)
    assert [run["op"] for run in history["runs"]] == ["extend", "apply"]

    sweep = checked("ttl --json", cli.ephemera("ttl", "--dry-run", "--json").stdout)
    assert sweep["dry_run"] is True and sweep["ok"] is True
    drift = cli.ephemera("drift", "--json")
    assert drift.returncode == 0, drift.stderr
    assert checked("drift --json", drift.stdout)["environments"][0]["drifted"] is False
    findings = checked("reconcile --json", cli.ephemera("reconcile", "--dry-run", "--json").stdout)
    assert findings == {"format_version": 1, "dry_run": True, "findings": []}
