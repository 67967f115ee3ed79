"""The S3 backend against a real moto server: state lands under envs/<env>/, a
second apply while the first holds the lock fails fast naming the holder, and
`invoke unlock` releases a dead lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ephemera.leases import SqliteLeaseStore
from tests.conftest import MotoServer
from tests.integration.conftest import Cli, demo_env, spawn, wait_for_file
from tests.integration.test_local_deploy import port_open

pytestmark = pytest.mark.integration
LEASE_TABLE = "ephemera-leases"
BUCKET = "ephemera-state-test"

# A stack whose apply waits (bounded) for a release file: it holds the state lock
# for exactly as long as the test wants, with no timing guesses.
WAITING_STACK = {
    "variables.tf": 'variable "release_file" {\n  type        = string\n'
    '  description = "apply finishes once this file exists"\n}\n',
    "main.tf": 'resource "terraform_data" "wait" {\n  input = var.release_file\n'
    '  provisioner "local-exec" {\n'
    '    command     = "for i in $(seq 600); do [ -e \\"$RELEASE\\" ] && exit 0; sleep 0.1; done; exit 1"\n'  # noqa: E501
    "    environment = { RELEASE = var.release_file }\n  }\n}\n",
}


@pytest.fixture
def aws_cli(cli: Cli, moto: MotoServer) -> Cli:
    from ephemera.leases.dynamodb import create_tables

    moto.client("s3").create_bucket(Bucket=BUCKET)
    create_tables(moto.client("dynamodb"), LEASE_TABLE)  # target aws keeps its leases there
    defaults = cli.root / "environments" / "_defaults.yaml"
    defaults.write_text(
        defaults.read_text()
        + f"aws:\n  state_bucket: {BUCKET}\n  s3_use_path_style: true\n"
        + f"  lease_table: {LEASE_TABLE}\n  region: us-east-1\n"
    )
    stack = cli.root / "terraform" / "stacks" / "waiting"
    stack.mkdir()
    for name, text in WAITING_STACK.items():
        (stack / name).write_text(text)
    cli.extra_env = moto.env()
    return cli


def aws_env(text: str) -> str:
    return text.replace("target: local", "target: aws\nregion: us-east-1")


def test_state_lands_in_the_bucket(aws_cli: Cli, moto: MotoServer, port: int):
    aws_cli.write_env("s3-demo", aws_env(demo_env(port, name="s3-demo")))
    refused = aws_cli.invoke("deploy", "s3-demo")  # target aws asks; no terminal: refused
    assert refused.returncode == 2, refused.stderr + refused.stdout
    assert "refusing to apply without confirmation: no terminal to ask" in refused.stderr
    assert "Plan: 1 to add" in refused.stdout  # the plan was shown before the question
    listed = moto.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="envs/s3-demo/")
    assert listed.get("KeyCount", 0) == 0 and not port_open(port)  # nothing applied
    assert SqliteLeaseStore(aws_cli.home / "leases.db").get("s3-demo") is None
    deployed = aws_cli.invoke("deploy", "--env", "s3-demo", "--yes")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    body = moto.client("s3").get_object(Bucket=BUCKET, Key="envs/s3-demo/terraform.tfstate")["Body"]
    state = json.loads(body.read())
    assert [r["type"] for r in state["resources"]] == ["terraform_data"]
    destroyed = aws_cli.invoke("destroy", "--env", "s3-demo", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr


def test_lock_contention_and_unlock(aws_cli: Cli, moto: MotoServer, tmp_path: Path):
    aws_cli.write_env(
        "locked",
        "name: locked\nstack: waiting\ntarget: aws\nregion: us-east-1\nowner: a@example.com\n"
        "ttl: 1h\nvariables:\n  release_file: release\n",  # inside the project: never there
    )
    marker = tmp_path / "applying"
    first = spawn(  # held while its terraform apply runs (and holds the state lock)
        aws_cli, "deploy", "--env", "locked", "--yes", EPHEMERA_PAUSE_AT="terraform-apply",
        EPHEMERA_PAUSE_FILE=str(marker),
    )  # fmt: skip
    try:
        wait_for_file(marker, first)
        wait_for_object(moto, "envs/locked/terraform.tfstate.tflock", first)
        second = aws_cli.invoke("deploy", "locked", "--yes")  # refused by the operation lock
        assert second.returncode == 1, second.stderr + second.stdout
        assert "another operation is running: deploy run" in second.stderr
        assert f"(pid {first.pid})" in second.stderr and "make unlock ENV=locked" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the run dies; its terraform holds the lock
        first.wait(timeout=30)
    third = aws_cli.invoke("deploy", "--env", "locked", "--yes")  # its operation lock is taken over
    assert third.returncode == 1, third.stderr + third.stdout
    assert "took over the operation lock of deploy run" in third.stdout
    assert "the state is locked by" in third.stderr and "invoke unlock" in third.stderr
    assert "Traceback" not in third.stderr

    refused = aws_cli.invoke("unlock", "--env", "locked")
    assert refused.returncode == 2 and "no terminal to ask" in refused.stderr
    unlocked = aws_cli.invoke("unlock", "--env", "locked", "--yes")
    assert unlocked.returncode == 0, unlocked.stderr
    assert "locked by" in unlocked.stdout and "released" in unlocked.stdout
    assert aws_cli.invoke("unlock", "--env", "locked").stdout.strip().endswith("not locked")


def wait_for_object(moto: MotoServer, key: str, process: subprocess.Popen) -> None:
    s3 = moto.client("s3")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [])
        if listed:
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError(f"{key} never appeared")


def test_leases_live_in_dynamodb_when_defaults_name_a_table(
    aws_cli: Cli, moto: MotoServer, port: int
):
    from ephemera.leases.dynamodb import DynamoLeaseStore

    aws_cli.write_env("shared", aws_env(demo_env(port, name="shared")))
    deployed = aws_cli.invoke("deploy", "--env", "shared", AUTO_APPROVE="1")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout

    store = DynamoLeaseStore(moto.client("dynamodb"), LEASE_TABLE)
    lease = store.get("shared")
    assert lease is not None and lease.status == "active" and lease.expires_at is not None
    assert [run.op for run in store.runs("shared")] == ["apply"]
    assert not (aws_cli.home / "leases.db").exists()

    rows = aws_cli.rows()
    assert [r["status"] for r in rows if r["env"] == "shared"] == ["active"]
    assert aws_cli.invoke("destroy", "--env", "shared", "--yes").returncode == 0
    assert store.get("shared").status == "destroyed"
