"""The local janitor for real: with the clock past expiry, `invoke ttl` destroys
the expired environment (process gone, port closed, state empty, lease
destroyed); protected and unexpired ones stay; a dry run changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import free_port
from tests.integration.conftest import Cli, demo_env
from tests.integration.test_local_deploy import port_open, state_resources

pytestmark = pytest.mark.integration


def leases(cli: Cli) -> dict[str, dict]:
    return {row["env"]: row for row in cli.rows()}


def test_sweep_destroys_only_the_expired_unprotected_env(cli: Cli):
    ports = {"short": free_port(), "guarded": free_port(), "long": free_port()}
    cli.write_env("short", demo_env(ports["short"], name="short").replace("ttl: 8h", "ttl: 1h"))
    cli.write_env(
        "guarded",
        demo_env(ports["guarded"], name="guarded").replace("ttl: 8h", "ttl: 1h\nprotected: true"),
    )
    cli.write_env("long", demo_env(ports["long"], name="long").replace("ttl: 8h", "ttl: 3d"))
    for name in ports:
        deployed = cli.invoke("deploy", "--env", name)
        assert deployed.returncode == 0, deployed.stderr + deployed.stdout

    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    dry = cli.invoke("ttl", "--dry-run", "--json", EPHEMERA_NOW=later)
    assert dry.returncode == 0, dry.stderr
    planned = json.loads(dry.stdout)
    assert [item["env"] for item in planned["claimed"]] == ["short"]
    assert all(port_open(port) for port in ports.values())
    assert leases(cli)["short"]["status"] == "active"

    swept = cli.invoke("ttl", "--json", EPHEMERA_NOW=later)
    assert swept.returncode == 0, swept.stderr + swept.stdout
    summary = json.loads(swept.stdout)
    assert [item["env"] for item in summary["destroyed"]] == ["short"]
    assert "guarded" in [item["env"] for item in summary["skipped"]]

    assert not port_open(ports["short"])
    assert state_resources(cli, "short") == []
    assert port_open(ports["guarded"]) and port_open(ports["long"])
    rows = leases(cli)
    assert rows["short"]["status"] == "destroyed" and "expired" in rows["short"]["reason"]
    assert rows["guarded"]["status"] == rows["long"]["status"] == "active"

    again = json.loads(cli.invoke("ttl", "--json", EPHEMERA_NOW=later).stdout)
    assert again["destroyed"] == [] and again["claimed"] == []

    for name in ("guarded", "long"):
        assert cli.invoke("destroy", "--env", name, "--yes").returncode == 0


def test_extend_ttl_moves_expiry_and_refuses_past_max_ttl(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port))
    assert cli.invoke("deploy", "--env", "local-demo").returncode == 0
    before = datetime.fromisoformat(leases(cli)["local-demo"]["expires_at"])
    extended = cli.invoke("extend-ttl", "local-demo", "3h", "--reason", "demo")
    assert extended.returncode == 0, extended.stderr
    after = datetime.fromisoformat(leases(cli)["local-demo"]["expires_at"])
    assert after - before == timedelta(hours=3)
    assert "expires" in extended.stdout

    too_far = cli.invoke("extend-ttl", "local-demo", "1000")
    assert too_far.returncode == 2 and "longer than max_ttl (7d)" in too_far.stderr
    unknown = cli.invoke("extend-ttl", "lcoal-demo", "1h")
    assert unknown.returncode == 2 and "did you mean 'local-demo'" in unknown.stderr

    history = cli.runs("local-demo")
    assert history[0]["op"] == "extend" and "demo" in history[0]["detail"]
    assert cli.invoke("destroy", "--env", "local-demo", "--yes").returncode == 0
    refused = cli.invoke("extend-ttl", "--env", "local-demo", "--duration", "1")
    assert refused.returncode == 2 and "destroyed" in refused.stderr
