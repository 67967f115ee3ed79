"""A destroy that fails for real (a stack whose destroy provisioner exits 1): the
lease ends failed with a next attempt time and one notification; a sweep before
that time does not retry; one after it does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.conftest import Cli

pytestmark = pytest.mark.integration

STACK = {
    "variables.tf": 'variable "environment" {\n  type        = string\n'
    '  description = "supplied by Ephemera"\n}\n',
    "main.tf": 'resource "terraform_data" "stubborn" {\n  input = var.environment\n'
    '  provisioner "local-exec" {\n    when    = destroy\n'
    '    command = "echo refusing to go >&2; exit 1"\n  }\n}\n',
}


def sweep(cli: Cli, at: datetime) -> dict:
    result = cli.invoke("ttl", "--json", EPHEMERA_NOW=at.isoformat())
    return json.loads(result.stdout)


def lease(cli: Cli, now: datetime) -> dict:
    rows = cli.rows(EPHEMERA_NOW=now.isoformat())
    return next(row for row in rows if row["env"] == "stubborn")


def notifications(cli: Cli) -> list[dict]:
    log = cli.home / "notifications.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_failed_destroy_backs_off_then_retries(cli: Cli):
    stack = cli.root / "terraform" / "stacks" / "stubborn"
    stack.mkdir()
    for name, text in STACK.items():
        (stack / name).write_text(text)
    cli.write_env(
        "stubborn",
        "name: stubborn\nstack: stubborn\ntarget: local\nowner: o@example.com\nttl: 1m\n",
    )
    assert cli.invoke("deploy", "--env", "stubborn").returncode == 0

    expired = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)  # as JSON has it
    first = sweep(cli, expired)
    assert [item["env"] for item in first["failed"]] == ["stubborn"]
    row = lease(cli, expired)
    assert row["status"] == "failed" and "destroy failed" in row["reason"]
    next_attempt = datetime.fromisoformat(row["next_attempt_at"])
    assert next_attempt - expired == timedelta(minutes=5)
    failures = [n for n in notifications(cli) if n["kind"] == "failed"]
    assert len(failures) == 1

    too_early = sweep(cli, expired + timedelta(minutes=2))
    assert too_early["claimed"] == [] and too_early["failed"] == []
    assert len([n for n in notifications(cli) if n["kind"] == "failed"]) == 1

    retried = sweep(cli, expired + timedelta(minutes=6))
    assert [item["env"] for item in retried["claimed"]] == ["stubborn"]
    assert [item["env"] for item in retried["failed"]] == ["stubborn"]
    assert len([n for n in notifications(cli) if n["kind"] == "failed"]) == 2
