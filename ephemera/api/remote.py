"""Runs dispatched to AWS instead of the local pool: a CodeBuild build per run.

The seam is the pool's `Launcher`: `CodeBuildLauncher.run` starts a build of a
project whose buildspec runs `make "$OP" ENV="$ENV" AUTO_APPROVE=1` (the variables come
from `ephemera.janitor.dispatch.CodeBuildDispatcher.environment`, as the janitor's
destroys do, plus OP, the run id and the actor), then follows the build until it ends:
SUCCEEDED → succeeded, STOPPED → canceled, anything else terminal → failed. Cancel
stops the build. The build's own log stays in CloudWatch; the run's console log names
the build and links to it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ephemera.api.jobs import CANCELED, FAILED, SUCCEEDED, Job, JobBook
from ephemera.api.worker import Outcome, append_log
from ephemera.janitor.dispatch import CodeBuildDispatcher

_ENDED = {"SUCCEEDED": SUCCEEDED, "STOPPED": CANCELED}
_FAILED = ("FAILED", "FAULT", "TIMED_OUT")


class CodeBuildLauncher:
    """One build of `project_name` per run; `client` is a boto3 codebuild client."""

    def __init__(
        self,
        client: Any,
        project_name: str,
        *,
        poll: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.project_name = project_name
        self.poll = poll
        self.sleep = sleep

    def overrides(self, job: Job) -> list[dict[str, str]]:
        extra = {"OP": job.op, "EPHEMERA_RUN_ID": job.id, "EPHEMERA_ACTOR": f"api:{job.actor}"}
        return CodeBuildDispatcher(self.client, self.project_name, extra).environment(job.env)

    def run(self, job: Job, book: JobBook) -> Outcome:
        build = self.client.start_build(
            projectName=self.project_name, environmentVariablesOverride=self.overrides(job)
        )["build"]
        book.note(job.id, remote_id=build["id"])
        append_log(job.log_path, f"==> {job.env}: codebuild build {build['id']} started\n")
        link = (build.get("logs") or {}).get("deepLink")
        if link:
            append_log(job.log_path, f"==> its log: {link}\n")
        stopping = False
        while True:
            if not stopping and book.get(job.id).cancel_requested:
                stopping = True
                build = self.client.stop_build(id=build["id"])["build"]
            status = build.get("buildStatus", "IN_PROGRESS")
            if status in _ENDED or status in _FAILED:
                return self._outcome(job, build, status)
            self.sleep(self.poll)
            build = self.client.batch_get_builds(ids=[build["id"]])["builds"][0]

    def _outcome(self, job: Job, build: dict[str, Any], status: str) -> Outcome:
        append_log(job.log_path, f"==> {job.env}: codebuild build {build['id']}: {status}\n")
        state = _ENDED.get(status, FAILED)
        error = None if state == SUCCEEDED else f"codebuild build {build['id']}: {status}"
        return Outcome(state, None, error)
