"""Cancel stops a real run: the CLI child held inside `terraform apply` (the fault
suite's pause point) gets SIGINT through the API, Terraform is interrupted, the lease
and the lock are left as a Ctrl-C leaves them; a child that ignores SIGINT is killed."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ephemera.api.jobs import CANCELED, RUNNING, Job, JobBook
from ephemera.api.worker import LocalLauncher
from ephemera.leases import FAILED, SqliteLeaseStore
from ephemera.project import Project
from tests.api.conftest import ALL_SCOPES, held_pid, pid_alive, serving
from tests.conftest import free_port
from tests.integration.conftest import demo_env

pytestmark = pytest.mark.integration


def test_cancel_interrupts_a_running_deploy(tmp_path: Path) -> None:
    marker = tmp_path / "paused"
    pause = {"EPHEMERA_PAUSE_AT": "terraform-apply", "EPHEMERA_PAUSE_FILE": str(marker)}
    with serving(tmp_path / "project", **pause) as served:
        port = free_port()
        served.cli.write_env("local-demo", demo_env(port))
        admin = served.token("admin", ALL_SCOPES)
        run_id = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "deploy"}).json()[
            "id"
        ]
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline, served.call("GET", f"/v1/runs/{run_id}", admin).text
            time.sleep(0.05)
        child = held_pid(marker)
        running = served.call("GET", f"/v1/runs/{run_id}", admin).json()
        assert (running["state"], running["phase"]) == ("running", "apply")

        asked = served.call("POST", f"/v1/runs/{run_id}/cancel", admin)
        assert asked.status == 202 and asked.json()["cancel_requested"] is True
        run = served.wait_run(run_id, admin, timeout=60)
        assert run["state"] == "canceled" and run["exit_code"] == 130, run
        assert not pid_alive(child)
        assert served.call("POST", f"/v1/runs/{run_id}/cancel", admin).status == 409

        store = SqliteLeaseStore(served.cli.home / "leases.db")
        assert store.get_lock("local-demo") is None  # released, as after a Ctrl-C
        lease = store.get("local-demo")
        assert lease.status == FAILED and lease.status_reason == "apply failed: interrupted"
        (record,) = [r for r in store.runs("local-demo") if r.id == run_id]
        assert record.result == "interrupted"
        log = served.call("GET", f"/v1/runs/{run_id}/log", admin).text
        assert log.rstrip().endswith(f"==> run {run_id}: canceled")

        # what the interrupted apply may have started, a destroy run collects
        destroy = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "destroy"}).json()
        assert served.wait_run(destroy["id"], admin)["state"] == "succeeded"


class _Stubborn(LocalLauncher):
    """A child that ignores SIGINT, as a wedged run might."""

    def argv(self, job: Job) -> list[str]:
        code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
        return [sys.executable, "-c", code]


def test_a_child_that_ignores_sigint_is_killed_after_the_grace(tmp_path: Path) -> None:
    project = Project(root=Path(__file__).resolve().parents[2], home=tmp_path / "home")
    book = JobBook(clock=lambda: datetime.now(UTC))
    job = Job(
        "20260101T000000Z-apply-0000000001", "dev", "deploy", "t", book.clock(), tmp_path / "log"
    )
    book.add(job, None, "")
    book.move(job.id, RUNNING)
    book.note(job.id, cancel_requested=True)
    started = time.monotonic()
    outcome = _Stubborn(project, grace=0.5, poll=0.05).run(job, book)
    assert outcome.state == CANCELED and outcome.exit_code == -9
    assert 0.5 <= time.monotonic() - started < 10
