"""The acceptance path as a user types it: `make deploy`, `make status`, `make destroy`
(Make → Invoke → ephemera), on a throw-away project."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.integration.conftest import Cli, demo_env, make
from tests.integration.test_local_deploy import port_open, state_resources

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def installed(cli: Cli) -> None:
    """`make` would (re)install .venv first if its stamp were stale: not in a test."""
    stale = make(cli, "-q", ".venv/.installed", ".venv-checkov/.installed").returncode
    if stale:
        pytest.skip("run `make setup` first: the virtualenvs are not installed")


def test_make_deploy_status_destroy(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port))
    deployed = make(cli, "deploy", "ENV=local-demo")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/pets", timeout=5) as response:  # noqa: S310
        assert response.status == 200 and json.loads(response.read())

    status = make(cli, "status")
    (line,) = [row for row in status.stdout.splitlines() if row.startswith("local-demo")]
    assert " active " in line and "healthy" in line and "7h 5" in line

    refused = make(cli, "destroy", "ENV=local-demo")
    assert refused.returncode != 0 and "no terminal to ask" in refused.stderr

    destroyed = make(cli, "destroy", "ENV=local-demo", "AUTO_APPROVE=1")
    assert destroyed.returncode == 0, destroyed.stderr
    assert not port_open(port)
    assert state_resources(cli, "local-demo") == []


def test_make_passes_values_literally(cli: Cli, tmp_path):
    marker = tmp_path / "made"
    result = make(cli, "validate", f"ENV=$(shell touch {marker})x")
    assert result.returncode != 0 and "invalid environment name" in result.stderr
    assert not marker.exists()
