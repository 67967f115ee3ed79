"""What the janitor must still clean up: an environment whose apply failed halfway
(the lease gets an expiry anyway), and one whose file became invalid after deploy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import Cli, demo_env
from tests.integration.test_local_deploy import port_open, state_resources

pytestmark = pytest.mark.integration

HALF_BROKEN = {
    "variables.tf": 'variable "environment" {\n  type        = string\n'
    '  description = "supplied by Ephemera"\n}\n',
    "main.tf": 'resource "terraform_data" "first" {\n  input = var.environment\n}\n'
    'resource "terraform_data" "second" {\n  depends_on = [terraform_data.first]\n'
    '  provisioner "local-exec" {\n    command = "exit 1"\n  }\n}\n',
}


def status_of(cli: Cli, env: str, now: datetime) -> dict:
    rows = cli.rows(EPHEMERA_NOW=now.isoformat())
    return next(row for row in rows if row["env"] == env)


def test_a_failed_apply_still_expires_and_is_destroyed(cli: Cli):
    stack = cli.root / "terraform" / "stacks" / "half-broken"
    stack.mkdir()
    for name, text in HALF_BROKEN.items():
        (stack / name).write_text(text)
    cli.write_env(
        "half", "name: half\nstack: half-broken\ntarget: local\nowner: o@example.com\nttl: 1h\n"
    )
    failed = cli.invoke("deploy", "--env", "half")
    assert failed.returncode == 1 and "apply" in failed.stderr
    assert len(state_resources(cli, "half")) >= 1  # `first` was created
    now = datetime.now(UTC)
    row = status_of(cli, "half", now)
    assert row["status"] == "failed" and row["reason"].startswith("apply failed")
    assert datetime.fromisoformat(row["expires_at"]) > now

    later = now + timedelta(hours=2)
    swept = json.loads(cli.invoke("ttl", "--json", EPHEMERA_NOW=later.isoformat()).stdout)
    assert [item["env"] for item in swept["destroyed"]] == ["half"]
    assert state_resources(cli, "half") == []


def test_an_env_file_made_invalid_after_deploy_is_still_destroyed(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port).replace("ttl: 8h", "ttl: 1h"))
    assert cli.invoke("deploy", "--env", "local-demo").returncode == 0
    cli.write_env("local-demo", demo_env(port) + "colour: blue\n")  # now invalid
    later = datetime.now(UTC) + timedelta(hours=2)
    swept = json.loads(cli.invoke("ttl", "--json", EPHEMERA_NOW=later.isoformat()).stdout)
    assert [item["env"] for item in swept["destroyed"]] == ["local-demo"]
    assert not port_open(port)
    assert state_resources(cli, "local-demo") == []
