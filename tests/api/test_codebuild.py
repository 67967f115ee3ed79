"""Runs dispatched to CodeBuild (the API's seam to AWS), against a real moto server:
the build is started with the op, env, run id and actor, followed to its end, and a
cancel stops it. (moto ends a build at its first BatchGetBuilds.)"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ephemera.api import server
from ephemera.api.auth import Principal
from ephemera.api.jobs import CANCELED, RUNNING, SUCCEEDED, Job, JobBook
from ephemera.api.remote import CodeBuildLauncher
from ephemera.api.tokens import TokenStore
from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import REPO_ROOT

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
PROJECT = "ephemera-runs"


@pytest.fixture
def codebuild(moto):  # noqa: ANN201 - a boto3 client
    return moto.codebuild_project(PROJECT)


def running(tmp_path: Path, op: str) -> tuple[JobBook, Job]:
    book = JobBook(lambda: NOW)
    job = Job("20300101T120000Z-apply-00000000aa", "qa-api", op, "ci-bot", NOW, tmp_path / "r.log")
    book.add(job, None, "")
    return book, book.move(job.id, RUNNING)


def test_a_dispatched_deploy_is_a_build_followed_to_its_end(codebuild, tmp_path: Path) -> None:
    sent = []
    codebuild.meta.events.register(
        "before-send.codebuild.StartBuild", lambda request, **_: sent.append(request.body)
    )
    book, job = running(tmp_path, "deploy")
    waits = []
    outcome = CodeBuildLauncher(codebuild, PROJECT, sleep=waits.append).run(job, book)

    assert outcome.state == SUCCEEDED and waits == [10.0]  # one poll, then SUCCEEDED
    build_id = book.get(job.id).remote_id
    assert build_id.startswith(f"{PROJECT}:")
    assert codebuild.list_builds_for_project(projectName=PROJECT)["ids"] == [build_id]
    variables = {v["name"]: v["value"] for v in json.loads(sent[0])["environmentVariablesOverride"]}
    assert variables == {
        "OP": "deploy",
        "ENV": "qa-api",
        "AUTO_APPROVE": "1",
        "EPHEMERA_RUN_ID": job.id,
        "EPHEMERA_ACTOR": "api:ci-bot",
    }
    log = job.log_path.read_text()
    assert f"codebuild build {build_id} started" in log and f"{build_id}: SUCCEEDED" in log


def test_cancel_stops_the_build(codebuild, tmp_path: Path) -> None:
    book, job = running(tmp_path, "destroy")
    stopped = []
    codebuild.meta.events.register(
        "before-send.codebuild.StopBuild", lambda request, **_: stopped.append(request.body)
    )
    book.note(job.id, cancel_requested=True)
    outcome = CodeBuildLauncher(codebuild, PROJECT, sleep=lambda s: None).run(job, book)
    assert outcome.state == CANCELED and "STOPPED" in outcome.error
    assert json.loads(stopped[0]) == {"id": book.get(job.id).remote_id}


def test_serve_with_dispatch_codebuild_sends_runs_to_builds(codebuild, tmp_path: Path) -> None:
    """The wiring of `ephemera serve --dispatch codebuild`: a booked run goes through the
    pool to CodeBuild, not to a local child, and is audited like any other."""
    project = Project(root=REPO_ROOT, home=tmp_path / "home")
    settings = server.Settings(dispatch="codebuild", codebuild_project=PROJECT, workers=1)
    store = SqliteLeaseStore(tmp_path / "leases.db")
    api = server.build(project, store, lambda: datetime.now(UTC), settings, codebuild)
    token, _ = TokenStore(tmp_path / "t.json").create("ci-bot", ("deploy",), now=NOW, by="x")
    api.pool.launchers["codebuild"].poll = 0.01
    job, new = api.book_run(Principal(token, "10.0.0.7"), "qa-api", "deploy", None)
    assert new and job.dispatch == "codebuild"
    deadline = time.monotonic() + 30
    while not api.book.get(job.id).done:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    api.pool.shutdown()
    done = api.book.get(job.id)
    assert done.state == SUCCEEDED and done.remote_id.startswith(f"{PROJECT}:")
    (audit,) = store.runs("qa-api")
    assert (audit.op, audit.actor, audit.client) == ("audit:deploy", "ci-bot", "10.0.0.7")
