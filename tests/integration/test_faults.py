"""The fault suite: a real CLI, paused at a known phase (ephemera.faults) and killed with
SIGKILL there, with Terraform and its provisioners; a mock API server it already started
lives on, as a detached server does. Then, with the clock past the lease's expiry,
within two sweeps nothing of the environment runs (its port is closed, no mock API
process is left), no lease is in a non-terminal state, and its state is empty."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ephemera.leases import CLAIMED, SqliteLeaseStore
from ephemera.lifecycle.states import local_count
from ephemera.project import Project
from tests.integration.conftest import Cli, demo_env, kill_run, spawn, wait_for_file
from tests.integration.test_local_deploy import port_open

pytestmark = pytest.mark.integration

DEPLOYED_AT = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
EXPIRED = DEPLOYED_AT + timedelta(hours=9)  # the environments live 8h


def clock(at: datetime) -> dict[str, str]:
    return {"EPHEMERA_NOW": at.isoformat()}


def killed_at(cli: Cli, tmp_path: Path, point: str, *args: str, at: datetime) -> None:
    """Run the CLI until it reaches the pause point `point`, then kill the run."""
    marker = tmp_path / f"paused-{point}"
    run = spawn(cli, *args, EPHEMERA_PAUSE_AT=point, EPHEMERA_PAUSE_FILE=str(marker), **clock(at))
    wait_for_file(marker, run)
    kill_run(run)


def sweep(cli: Cli, at: datetime) -> dict:
    swept = cli.invoke("ttl", "--json", **clock(at))
    return json.loads(swept.stdout) if swept.stdout.strip() else {"error": swept.stderr}


def assert_nothing_left(cli: Cli, name: str, port: int) -> None:
    project = Project(root=cli.root, home=cli.home)
    lease = SqliteLeaseStore(project.leases_db).get(name)
    assert lease is None or lease.status not in CLAIMED, lease
    assert not port_open(port)
    assert not local_count(project, name)
    pidfile = project.runtime_dir(name) / "mockapi.pid"
    assert not pidfile.exists(), pidfile.read_text()


@pytest.mark.parametrize(
    "point",
    ["after-lock", "terraform-plan", "mockapi-before-start", "mockapi-after-start"],
)
def test_a_deploy_killed_at_any_phase_is_collected(
    cli: Cli, tmp_path: Path, port: int, point: str
) -> None:
    cli.write_env("crash", demo_env(port, name="crash"))
    killed_at(cli, tmp_path, point, "deploy", "--env", "crash", at=DEPLOYED_AT)
    if point == "mockapi-after-start":
        assert port_open(port)  # the server outlived its run

    first, second = sweep(cli, EXPIRED), sweep(cli, EXPIRED + timedelta(minutes=5))
    assert "error" not in first and "error" not in second, (first, second)
    assert_nothing_left(cli, "crash", port)

    # The next deploy takes over whatever lock the dead run left, and works.
    later = EXPIRED + timedelta(minutes=10)
    redeployed = cli.invoke("deploy", "--env", "crash", **clock(later))
    assert redeployed.returncode == 0, redeployed.stderr + redeployed.stdout
    assert port_open(port)
    assert cli.invoke("destroy", "--env", "crash", "--yes", **clock(later)).returncode == 0
    assert not port_open(port)


def test_a_sweep_killed_during_a_destroy_is_collected(cli: Cli, tmp_path: Path, port: int) -> None:
    cli.write_env("swept", demo_env(port, name="swept"))
    deployed = cli.invoke("deploy", "--env", "swept", **clock(DEPLOYED_AT))
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    killed_at(cli, tmp_path, "terraform-destroy", "ttl", at=EXPIRED)
    store = SqliteLeaseStore(Project(root=cli.root, home=cli.home).leases_db)
    assert store.get("swept").status == "destroying"  # what the dead janitor left

    first = sweep(cli, EXPIRED + timedelta(minutes=1))
    second = sweep(cli, EXPIRED + timedelta(minutes=6))
    assert "error" not in first and "error" not in second, (first, second)
    assert "taken over" in json.dumps(first), first
    assert_nothing_left(cli, "swept", port)
    assert store.get("swept").status == "destroyed"


def test_a_deploy_killed_during_init_inits_again(cli: Cli, tmp_path: Path, port: int) -> None:
    """The init record is written only after an init finished: a run killed while init
    runs leaves none, and the next deploy inits (it never skips an unfinished init)."""
    cli.write_env("halfway", demo_env(port, name="halfway"))
    planned = cli.invoke("plan", "--env", "halfway", **clock(DEPLOYED_AT))
    assert planned.returncode == 0, planned.stderr + planned.stdout
    record = cli.home / "work" / "halfway" / "init.sha256"
    assert record.is_file()
    template = cli.root / "templates" / "backend" / "local.hcl.j2"
    template.write_text(template.read_text() + "# the backend changed: init must run\n")
    killed_at(cli, tmp_path, "terraform-init", "deploy", "--env", "halfway", at=DEPLOYED_AT)
    assert not record.exists()

    deployed = cli.invoke("deploy", "--env", "halfway", **clock(DEPLOYED_AT))
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    assert "==> halfway: terraform init\n" in deployed.stdout
    assert record.is_file()
    assert cli.invoke("destroy", "--env", "halfway", "--yes", **clock(DEPLOYED_AT)).returncode == 0
