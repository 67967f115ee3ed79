"""`deploy`, `status`, `outputs`, `history` and `destroy` of the local stack, for real:
embedded Terraform, the mock API process, HTTP, SQLite leases."""

from __future__ import annotations

import json
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


def state_resources(cli: Cli, env: str) -> list:
    state = json.loads((cli.home / "state" / env / "terraform.tfstate").read_text())
    return state["resources"]


def test_deploy_status_redeploy_destroy(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port))

    deployed = cli.invoke("deploy", "--env", "local-demo")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    url = f"http://127.0.0.1:{port}"
    assert f"url:      {url}" in deployed.stdout
    assert "expires:" in deployed.stdout and "make extend-ttl ENV=local-demo" in deployed.stdout
    status_code, pets = get_json(f"{url}/pets")
    assert status_code == 200 and isinstance(pets, list) and pets

    status = cli.invoke("status", "--json")
    assert status.returncode == 0, status.stderr
    (row,) = [r for r in json.loads(status.stdout) if r["env"] == "local-demo"]
    assert row["status"] == "active" and row["healthy"] is True and row["url"] == url
    assert row["expires_at"] is not None

    outputs = cli.invoke("outputs", "--env", "local-demo", "--json")
    assert json.loads(outputs.stdout)["url"] == url

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

    final = json.loads(cli.invoke("status", "--json").stdout)
    (row,) = [r for r in final if r["env"] == "local-demo"]
    assert row["status"] == "destroyed" and row["url"] is None

    history = cli.invoke("history", "--env", "local-demo", "--json")
    ops = [(r["op"], r["result"]) for r in json.loads(history.stdout)]
    assert ops == [("destroy", "ok"), ("apply", "ok"), ("apply", "ok")]
    first_apply = json.loads(history.stdout)[-1]
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
    assert outputs["message"] == hostile
    assert not marker.exists()
    tfvars = cli.home / "work" / "echo-test" / "terraform.tfvars"
    assert oct(tfvars.stat().st_mode & 0o777) == "0o600"
