"""Every `--json` output against its JSON Schema in docs/json.md, from real runs: a
deployed environment, one never deployed and one destroyed."""

from __future__ import annotations

import inspect
import socket
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from ephemera.cli.tasks import namespace
from ephemera.leases import ACTIVE, Lease, SqliteLeaseStore
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
    assert JSON_TASKS == [
        "drift",
        "history",
        "outputs",
        "reconcile",
        "status",
        "token-create",
        "token-list",
        "ttl",
        "validate",
    ]
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
    assert rows["local-demo"]["healthy"] is True and rows["local-demo"]["health"] == "healthy"
    assert rows["spare"]["health"] == "not checked"
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


def test_a_silent_environment_is_unknown_within_the_deadline(cli: Cli, port: int) -> None:
    """Its lease says it is active, its host takes the connection and never answers:
    `status` says `unknown` (not checked in time), never healthy, and stays valid."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
    now = datetime.now(UTC)
    store = SqliteLeaseStore(cli.home / "leases.db")
    store.create(
        Lease(
            env="hung",
            target="local",
            stack="local-mock-api",
            owner="a@example.com",
            status=ACTIVE,
            created_at=now,
            expires_at=now + timedelta(hours=1),
            outputs={"url": silent, "health_url": f"{silent}/mockserver/status"},
        )
    )
    try:
        for args, extra in ((["--timeout", "1"], {}), ([], {"EPHEMERA_HEALTH_TIMEOUT": "0.5"})):
            done = cli.ephemera("status", "--json", *args, **extra)
            (row,) = checked("status --json", done.stdout)["environments"]
            assert (row["health"], row["healthy"]) == ("unknown", None)
    finally:
        listener.close()
    refused = cli.ephemera("status", EPHEMERA_HEALTH_TIMEOUT="soon")
    assert refused.returncode == 2
    assert "EPHEMERA_HEALTH_TIMEOUT: expected seconds, above 0" in refused.stderr
    assert cli.ephemera("status", "--timeout", "x").returncode == 2
