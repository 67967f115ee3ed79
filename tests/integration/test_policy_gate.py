"""The policy gate for real: local-demo bound to 0.0.0.0 is stopped before apply
(exit 1, the table names the check and the terraform_data resource, no state, no
process); with a justified skip it deploys and shows the skip."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Cli, demo_env
from tests.integration.test_local_deploy import port_open

pytestmark = pytest.mark.integration


def test_public_bind_is_stopped_before_apply_then_deploys_with_a_skip(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port).replace("127.0.0.1", "0.0.0.0"))  # noqa: S104
    stopped = cli.invoke("deploy", "--env", "local-demo")
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    assert "CKV_EPH_6" in stopped.stdout
    assert "terraform_data.mock_api" in stopped.stdout
    assert "not applied: 1 policy check(s) failed" in stopped.stderr
    assert "terraform apply" not in stopped.stdout
    assert not (cli.home / "state" / "local-demo" / "terraform.tfstate").exists()
    assert not port_open(port)

    planned = cli.invoke("plan", "--env", "local-demo")
    assert planned.returncode == 0 and "CKV_EPH_6" in planned.stdout
    # a new plan of the same inputs: checkov's answer comes from the cache
    assert "cached" in planned.stdout

    cli.write_env(
        "local-demo",
        demo_env(port).replace("127.0.0.1", "0.0.0.0")  # noqa: S104
        + "policy:\n  skip:\n    - {id: CKV_EPH_6, reason: demo shared on the office LAN}\n",
    )
    deployed = cli.invoke("deploy", "--env", "local-demo")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "demo shared on the office LAN" in deployed.stdout
    assert port_open(port)
    assert cli.invoke("destroy", "--env", "local-demo", "--yes").returncode == 0
