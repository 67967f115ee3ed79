"""What a team meets every week, with the real CLI, real Terraform and real processes: an
edit is what runs, a dead process is repaired, two deploys at once, a tainted resource,
a lost or damaged lease database, files outside the project, counts that are not
digits, what a destroy removed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import REPO_ROOT, free_port
from tests.integration.conftest import Cli, demo_env, kill_run, spawn, wait_for_file
from tests.integration.test_local_deploy import port_open
from tests.support.jsondocs import checked

pytestmark = pytest.mark.integration
NOW = datetime(2030, 5, 1, 9, 0, tzinfo=UTC)


def at(moment: datetime) -> dict[str, str]:
    return {"EPHEMERA_NOW": moment.isoformat()}


def deploy(cli: Cli, name: str, moment: datetime = NOW) -> None:
    done = cli.invoke("deploy", "--env", name, **at(moment))
    assert done.returncode == 0, done.stderr + done.stdout


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - loopback
        return answer.status, answer.read().decode()


def store(cli: Cli) -> SqliteLeaseStore:
    return SqliteLeaseStore(Project(root=cli.root, home=cli.home).leases_db)


def server_pid(cli: Cli, name: str) -> int:
    return int((cli.home / "run" / name / "mockapi.pid").read_text())


def test_an_edit_is_what_runs(cli: Cli, port: int) -> None:
    cli.write_env("edit", demo_env(port, name="edit"))
    deploy(cli, "edit")
    new_port = free_port()
    cli.write_env("edit", demo_env(new_port, name="edit"))
    deploy(cli, "edit")
    assert not port_open(port) and get(f"http://127.0.0.1:{new_port}/pets")[0] == 200

    expectations = cli.root / "expectations" / "local-demo.json"
    expectations.write_text(
        '[{"httpRequest": {"path": "/pets"}, "httpResponse": {"body": "edited"}}]'
    )
    deploy(cli, "edit")
    assert get(f"http://127.0.0.1:{new_port}/pets") == (200, "edited")
    assert cli.invoke("destroy", "--env", "edit", "--yes").returncode == 0


def test_a_dead_process_is_replaced_keeping_the_expiry(cli: Cli, port: int) -> None:
    cli.write_env("repair", demo_env(port, name="repair"))
    deploy(cli, "repair")
    extended = cli.invoke("extend-ttl", "repair", "4h", **at(NOW))
    assert extended.returncode == 0, extended.stderr
    before = store(cli).get("repair")
    os.kill(server_pid(cli, "repair"), signal.SIGKILL)  # as a reboot would

    assert cli.rows(**at(NOW))[0]["healthy"] is False
    repaired = cli.invoke("deploy", "--env", "repair", **at(NOW + timedelta(hours=1)))
    assert repaired.returncode == 0, repaired.stderr + repaired.stdout
    assert "does not answer: replacing terraform_data.mock_api" in repaired.stdout
    assert get(f"http://127.0.0.1:{port}/pets")[0] == 200
    after = store(cli).get("repair")
    assert after.status == "active" and after.expires_at == before.expires_at
    assert after.warnings_sent == before.warnings_sent
    assert cli.invoke("destroy", "--env", "repair", "--yes").returncode == 0


def test_a_second_deploy_is_refused_naming_the_first(cli: Cli, port: int, tmp_path) -> None:
    cli.write_env("twice", demo_env(port, name="twice"))
    marker = tmp_path / "hold"
    first = spawn(
        cli, "deploy", "--env", "twice", EPHEMERA_PAUSE_AT="after-lock",
        EPHEMERA_PAUSE_FILE=str(marker),
    )  # fmt: skip
    try:
        wait_for_file(marker, first)
        second = cli.invoke("deploy", "--env", "twice")
        assert first.poll() is None  # refused while the first still holds the lock
        assert second.returncode == 1, second.stderr + second.stdout
        assert "another operation is running: deploy run" in second.stderr
        assert f"(pid {first.pid})" in second.stderr and "make unlock ENV=twice" in second.stderr
        assert store(cli).get("twice") is None  # the refused run wrote no lease
        assert "terraform" not in second.stdout
        marker.unlink()  # the first goes on
        out, err = first.communicate(timeout=240)
    finally:
        if first.poll() is None:
            kill_run(first)
    assert first.returncode == 0, out + err
    assert store(cli).get("twice").status == "active"
    assert get(f"http://127.0.0.1:{port}/pets")[0] == 200
    assert cli.invoke("destroy", "--env", "twice", "--yes").returncode == 0


def test_destroy_stops_the_process_of_a_tainted_resource(cli: Cli, port: int, tmp_path) -> None:
    cli.write_env("tainted", demo_env(port, name="tainted"))
    marker = tmp_path / "started"
    run = spawn(
        cli, "deploy", "--env", "tainted", EPHEMERA_PAUSE_AT="mockapi-after-start",
        EPHEMERA_PAUSE_FILE=str(marker),
    )  # fmt: skip
    wait_for_file(marker, run)
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the start step dies, its server up
    out, err = run.communicate(timeout=240)
    assert run.returncode == 1, out + err
    state = json.loads((cli.home / "state" / "tainted" / "terraform.tfstate").read_text())
    assert state["resources"][0]["instances"][0]["status"] == "tainted"
    assert port_open(port)

    destroyed = cli.invoke("destroy", "--env", "tainted", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr + destroyed.stdout
    assert "mock API stopped" in destroyed.stdout
    assert not port_open(port) and store(cli).get("tainted").status == "destroyed"
    history = cli.runs("tainted")
    assert history[0]["op"] == "destroy" and history[0]["destroyed"] == 1  # −1, not −0


def test_an_emptied_lease_database_is_reconciled_and_collected(cli: Cli, port: int) -> None:
    cli.write_env("lost", demo_env(port, name="lost"))
    deploy(cli, "lost")
    (cli.home / "leases.db").write_bytes(b"")  # truncated to 0 bytes
    for extra in ("-wal", "-shm"):
        (cli.home / f"leases.db{extra}").unlink(missing_ok=True)

    assert [(r["env"], r["status"]) for r in cli.rows(**at(NOW))] == [("lost", "untracked")]
    dry = cli.invoke("reconcile", "--dry-run", "--json", **at(NOW))
    assert dry.returncode == 0, dry.stderr
    planned = checked("reconcile --json", dry.stdout)
    assert [(f["env"], f["kind"], f["applied"]) for f in planned["findings"]] == [
        ("lost", "untracked", False)
    ]
    assert store(cli).get("lost") is None  # a dry run changes nothing

    assert cli.invoke("reconcile", **at(NOW)).returncode == 0
    lease = store(cli).get("lost")
    assert lease.status == "untracked" and lease.expires_at == NOW + timedelta(hours=8)
    swept = json.loads(cli.invoke("ttl", "--json", **at(NOW + timedelta(hours=9))).stdout)
    assert [item["env"] for item in swept["destroyed"]] == ["lost"]
    assert not port_open(port)


def test_a_damaged_lease_database_is_reported_not_a_crash(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    (cli.home / "leases.db").write_bytes(b"this is not a database" * 100)
    status = cli.invoke("status")
    assert status.returncode == 2, status.stderr
    assert str(cli.home / "leases.db") in status.stderr
    assert "invoke reconcile" in status.stderr and "Traceback" not in status.stderr
    with pytest.raises(sqlite3.DatabaseError):  # untouched
        sqlite3.connect(cli.home / "leases.db").execute("SELECT * FROM leases")


def test_files_outside_the_project_are_refused(cli: Cli, port: int) -> None:
    text = demo_env(port, name="escape").replace(
        "expectations/local-demo.json", "../../../../etc/passwd"
    )
    path = cli.write_env("escape", text)
    line = text.splitlines().index("  expectations_file: ../../../../etc/passwd") + 1
    for command in ("validate", "deploy"):
        refused = cli.invoke(command, "--env", "escape")
        assert refused.returncode == 2, refused.stderr
        assert (
            f"environments/escape.yaml:{line}: variables.expectations_file: "
            "'../../../../etc/passwd' is outside the project"
        ) in refused.stderr
    assert not (cli.home / "work" / "escape").exists()
    assert path.exists()


def test_counts_take_ascii_digits_only(cli: Cli, port: int) -> None:
    cli.write_env("digits", demo_env(port, name="digits"))
    refused = cli.invoke("extend-ttl", "digits", "²")
    assert refused.returncode == 2 and "'²' is not a positive duration" in refused.stderr
    for count in ("²", "٣"):  # a superscript two, an Arabic-Indic three: not whole numbers
        swept = cli.ephemera("ttl", "--max-destroys", count)
        assert swept.returncode == 2 and "Traceback" not in swept.stderr
    assert "Traceback" not in refused.stderr


def test_destroying_what_was_never_deployed_runs_nothing(cli: Cli, port: int) -> None:
    cli.write_env("never", demo_env(port, name="never"))
    said = cli.invoke("destroy", "--env", "never", "--yes")
    assert said.returncode == 0, said.stderr
    assert "not deployed" in said.stdout and "terraform" not in said.stdout
    assert cli.runs("never") == []


def test_drift_reports_health_and_terraform_drift(cli: Cli, port: int) -> None:
    cli.write_env("drifty", demo_env(port, name="drifty"))
    deploy(cli, "drifty")
    clean = cli.invoke("drift", "--json")
    assert clean.returncode == 0, clean.stderr + clean.stdout
    report = checked("drift --json", clean.stdout)
    assert report["environments"][0] == {
        "env": "drifty",
        "drifted": False,
        "changes": [],
        "healthy": True,
        "error": None,
    }
    os.kill(server_pid(cli, "drifty"), signal.SIGKILL)
    drifted = cli.invoke("drift", "--env", "drifty", "--json")
    assert drifted.returncode == 2, drifted.stderr
    assert json.loads(drifted.stdout)["environments"][0]["healthy"] is False
    table = cli.invoke("drift")
    assert table.returncode == 2 and "UNHEALTHY" in table.stdout
    assert cli.invoke("destroy", "--env", "drifty", "--yes").returncode == 0


def test_the_local_stack_refuses_files_outside_the_project(tmp_path: Path) -> None:
    """Terraform's own check, for whoever plans the stack without Ephemera's validate."""
    from ephemera.terraform.runner import Terraform

    stack = tmp_path / "stack"
    shutil.copytree(REPO_ROOT / "terraform" / "stacks" / "local-mock-api", stack)
    terraform = Terraform(data_dir=tmp_path / "tfdata", plugin_cache=tmp_path / "cache")
    terraform.run(["init", "-input=false", "-no-color"], cwd=stack, quiet=True)
    values = {
        "environment": "x",
        "owner": "o@example.com",
        "tags": "{}",
        "project_root": str(REPO_ROOT),
        "runtime_dir": str(tmp_path / "run"),
    }
    args = [f"-var={key}={value}" for key, value in values.items()]
    for path, refused in (("../../../../etc/passwd", True), ("/etc/passwd", True)):
        planned = terraform.run(
            ["plan", "-input=false", "-no-color", *args, f"-var=expectations_file={path}"],
            cwd=stack,
            check=False,
            quiet=True,
        )
        assert (planned.returncode != 0) is refused
        assert "expectations_file must be a path inside the project" in planned.stderr
