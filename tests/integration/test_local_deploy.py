"""`deploy`, `status`, `outputs`, `history` and `destroy` of the local stack, for real:
embedded Terraform, the mock API process, HTTP, SQLite leases."""

from __future__ import annotations

import json
import shutil
import socket
import urllib.request

import pytest

from tests.integration.conftest import Cli, demo_env

pytestmark = pytest.mark.integration


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return response.status, json.loads(response.read() or b"null")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def mode(path) -> int:
    return path.stat().st_mode & 0o777


def state_resources(cli: Cli, env: str) -> list:
    state = json.loads((cli.home / "state" / env / "terraform.tfstate").read_text())
    return state["resources"]


def test_deploy_status_redeploy_destroy(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port))

    deployed = cli.invoke("deploy", "--env", "local-demo")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    url = f"http://127.0.0.1:{port}"
    assert f"url:      {url}" in deployed.stdout
    assert "expires:" in deployed.stdout and "ephemera extend-ttl local-demo 4h" in deployed.stdout
    status_code, pets = get_json(f"{url}/pets")
    assert status_code == 200 and isinstance(pets, list) and pets

    (row,) = [r for r in cli.rows() if r["env"] == "local-demo"]
    assert row["status"] == "active" and row["healthy"] is True and row["url"] == url
    assert row["expires_at"] is not None

    outputs = cli.invoke("outputs", "--env", "local-demo", "--json")
    assert json.loads(outputs.stdout)["outputs"]["url"] == url

    assert mode(cli.home) == 0o700
    private = [cli.home / "leases.db", cli.home / "state" / "local-demo" / "terraform.tfstate"]
    private += list((cli.home / "runs" / "local-demo").glob("*.log"))
    private += [cli.home / "work" / "local-demo" / name for name in ("plan.bin", "plan.json")]
    assert {path.name: mode(path) for path in private} == {path.name: 0o600 for path in private}

    again = cli.invoke("deploy", "--env", "local-demo")
    assert again.returncode == 0, again.stderr
    assert "no changes, nothing to apply" in again.stdout
    assert "terraform apply" not in again.stdout

    refused = cli.invoke("destroy", "--env", "local-demo")
    assert refused.returncode == 2
    assert "no terminal to ask" in refused.stderr
    assert port_open(port)

    destroyed = cli.invoke("destroy", "--env", "local-demo", AUTO_APPROVE="1")
    assert destroyed.returncode == 0, destroyed.stderr + destroyed.stdout
    assert not port_open(port)
    assert state_resources(cli, "local-demo") == []

    (row,) = [r for r in cli.rows() if r["env"] == "local-demo"]
    assert row["status"] == "destroyed" and row["url"] is None

    runs = cli.runs("local-demo")
    ops = [(r["op"], r["result"]) for r in runs]
    assert ops == [("destroy", "ok"), ("apply", "ok"), ("apply", "ok")]
    first_apply = runs[-1]
    assert (first_apply["added"], first_apply["actor"]) == (1, "tester")


def test_yaml_values_reach_terraform_as_literal_strings(cli: Cli, tmp_path):
    marker = tmp_path / "pwned"
    stack = cli.root / "terraform" / "stacks" / "echo"
    stack.mkdir()
    (stack / "variables.tf").write_text(
        'variable "message" {\n  type        = string\n  description = "echoed"\n}\n'
    )
    (stack / "main.tf").write_text(
        'resource "terraform_data" "echo" {\n  input = var.message\n}\n'
        'output "message" {\n  description = "the message"\n'
        "  value       = terraform_data.echo.output\n}\n"
    )
    hostile = (
        f'$(touch {marker}) `touch {marker}` ${{file("/etc/passwd")}} %{{ if true }}x%{{ endif }}'
    )
    cli.write_env(
        "echo-test",
        "name: echo-test\nstack: echo\ntarget: local\nowner: a@example.com\nttl: 1h\n"
        f"variables:\n  message: {json.dumps(hostile)}\n",
    )
    deployed = cli.invoke("deploy", "--env", "echo-test")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    outputs = json.loads(cli.invoke("outputs", "--env", "echo-test", "--json").stdout)
    assert outputs["outputs"]["message"] == hostile
    assert not marker.exists()
    tfvars = cli.home / "work" / "echo-test" / "terraform.tfvars"
    assert oct(tfvars.stat().st_mode & 0o777) == "0o600"


def test_hostile_values_pass_through_local_exec_unexecuted(cli: Cli, port: int, tmp_path):
    """A value that reaches the local stack's shell command (through `environment`)
    is data: the expectations file is named `$(touch …)` and nothing runs it."""
    hostile = "$(touch executed-marker) `touch executed-marker` ${HOME}.json"
    shutil.copy(cli.root / "expectations" / "local-demo.json", cli.root / "expectations" / hostile)
    cli.write_env(
        "local-demo",
        demo_env(port).replace(
            "expectations_file: expectations/local-demo.json",
            f"expectations_file: {json.dumps('expectations/' + hostile)}",
        ),
    )
    deployed = cli.invoke("deploy", "--env", "local-demo")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    status_code, pets = get_json(f"http://127.0.0.1:{port}/pets")
    assert status_code == 200 and pets
    assert cli.invoke("destroy", "--env", "local-demo", "--yes").returncode == 0
    # wherever a shell would have run it (the stack snapshot, the project, here)
    assert not list(tmp_path.rglob("executed-marker"))
