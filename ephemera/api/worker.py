"""The bounded pool that runs the API's runs, and the local launcher.

A few worker threads take runs off one queue; none of them, and no request thread,
runs Terraform: the local launcher starts the CLI itself (`ephemera deploy X --yes`, as
a person would) in a child process of its own session, with the run id the API handed
out (EPHEMERA_RUN_ID), the token's name as the actor and a pipe for the lifecycle's
events (EPHEMERA_EVENTS_FD). So a run takes the same operation lock and writes the same
run record as the CLI. Its output goes to the run's console log.

Cancel sends the child one SIGINT, as Ctrl-C would: the CLI forwards it to Terraform,
which stops gracefully and releases its locks. A child still running `grace` seconds
later is killed with its process group (SIGKILL).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ephemera.api.jobs import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    BadTransition,
    Job,
    JobBook,
)
from ephemera.errors import tail
from ephemera.project import Project


@dataclass(frozen=True)
class Outcome:
    state: str  # succeeded | failed | canceled
    exit_code: int | None = None
    error: str | None = None


class Launcher(Protocol):
    def run(self, job: Job, book: JobBook) -> Outcome:
        """Run `job` to its end, noting its phase, counts and gate on `book`, and
        stopping it once `book` says its cancel was requested."""


def open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


def append_log(path: Path, text: str) -> None:
    descriptor = open_log(path)
    try:
        os.write(descriptor, text.encode())
    finally:
        os.close(descriptor)


def cli_argv(*args: str) -> list[str]:
    """The command line of `ephemera <args>`, on this interpreter."""
    return [sys.executable, "-m", "ephemera.cli", *args]


def cli_env(project: Project, **extra: str) -> dict[str, str]:
    """The CLI child's environment: ours, on this project, never auto-approving."""
    env = {key: value for key, value in os.environ.items() if key != "AUTO_APPROVE"}
    env.update(EPHEMERA_ROOT=str(project.root), EPHEMERA_HOME=str(project.home), **extra)
    return env


class LocalLauncher:
    """Runs the CLI in a child process on this machine."""

    def __init__(self, project: Project, *, grace: float = 60.0, poll: float = 0.2) -> None:
        self.project = project
        self.grace = grace
        self.poll = poll

    def argv(self, job: Job) -> list[str]:
        """`ephemera <op> <env>`; a deploy or destroy with --yes: the request of a token
        with that scope is the confirmation a terminal would ask for."""
        confirm = [] if job.op == "plan" else ["--yes"]
        return cli_argv(job.op, job.env, *confirm)

    def environment(self, job: Job, events_fd: int) -> dict[str, str]:
        return cli_env(
            self.project,
            EPHEMERA_ACTOR=f"api:{job.actor}",
            EPHEMERA_RUN_ID=job.id,
            EPHEMERA_EVENTS_FD=str(events_fd),
            PYTHONUNBUFFERED="1",
        )

    def run(self, job: Job, book: JobBook) -> Outcome:
        read_end, write_end = os.pipe()
        log = open_log(job.log_path)
        try:
            process = subprocess.Popen(
                self.argv(job),
                cwd=self.project.root,
                env=self.environment(job, write_end),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(write_end,),
                start_new_session=True,
            )
        finally:
            os.close(write_end)
            os.close(log)
        reader = threading.Thread(target=_read_events, args=(read_end, book, job.id), daemon=True)
        reader.start()
        code = self._wait(process, book, job.id)
        reader.join(timeout=10)
        if code == 0:
            return Outcome(SUCCEEDED, code)
        if book.get(job.id).cancel_requested:
            return Outcome(CANCELED, code, "canceled")
        last = tail(job.log_path.read_text(errors="replace"), lines=8)
        return Outcome(FAILED, code, textwrap.dedent(last).strip() or f"exit code {code}")

    def _wait(self, process: subprocess.Popen[bytes], book: JobBook, job_id: str) -> int:
        interrupted_at: float | None = None
        while True:
            try:
                return process.wait(timeout=self.poll)
            except subprocess.TimeoutExpired:
                pass
            if interrupted_at is None and book.get(job_id).cancel_requested:
                interrupted_at = time.monotonic()
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGINT)
            elif interrupted_at is not None and time.monotonic() - interrupted_at > self.grace:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)


def _read_events(descriptor: int, book: JobBook, job_id: str) -> None:
    """The child's lifecycle events (JSON lines) → the run's phase, counts and gate."""
    with os.fdopen(descriptor, "rb") as stream:
        for line in stream:
            try:
                event = json.loads(line)
                kind = event.pop("event")
            except (ValueError, KeyError, AttributeError):
                continue
            if kind == "phase":
                book.note(job_id, phase=str(event.get("phase")))
            elif kind in ("counts", "gate"):
                book.note(job_id, **{kind: event})


class Pool:
    """`workers` threads running booked runs, one launcher per dispatch kind."""

    def __init__(self, book: JobBook, launchers: dict[str, Launcher], workers: int = 2) -> None:
        self.book = book
        self.launchers = launchers
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, name=f"api-worker-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Job) -> None:
        self._queue.put(job.id)

    def cancel(self, job_id: str) -> Job:
        """A queued run is canceled at once; a running one is asked to stop."""
        job = self.book.get(job_id)
        assert job is not None
        if job.state == QUEUED:
            try:
                moved = self.book.move(job_id, CANCELED, cancel_requested=True, error="canceled")
            except BadTransition:
                pass  # it has just started: ask it to stop
            else:
                append_log(job.log_path, f"==> run {job_id}: canceled before it started\n")
                return moved
        return self.book.note(job_id, cancel_requested=True)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel what is active, then stop the workers (at most `timeout` seconds)."""
        for job in self.book.list():
            if not job.done:
                self.cancel(job.id)
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0))

    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                job = self.book.move(job_id, RUNNING)
            except (BadTransition, KeyError):
                continue  # canceled while queued
            try:
                outcome = self.launchers[job.dispatch].run(job, self.book)
            except Exception as exc:  # noqa: BLE001 - a run that cannot start fails, the pool goes on
                outcome = Outcome(FAILED, None, f"the run could not start: {exc}")
            append_log(job.log_path, f"==> run {job_id}: {outcome.state}\n")
            self.book.move(job_id, outcome.state, exit_code=outcome.exit_code, error=outcome.error)
