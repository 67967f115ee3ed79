"""The wiring a command runs with: the project, its lease store, the clock and the
notifiers, chosen from the project's configuration and the process environment.

One place, used by the CLI's commands and by CI's entry points, so both open the
same store (DynamoDB when `_defaults.yaml` names `aws.lease_table`, else SQLite)
and honour the same `EPHEMERA_NOW` (and `EPHEMERA_HEALTH_TIMEOUT`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from datetime import datetime
from typing import Any

from ephemera import config, lifecycle
from ephemera.durations import Clock, seconds_setting, system_clock
from ephemera.errors import EphemeraError, UsageError
from ephemera.health import DEFAULT_DEADLINE
from ephemera.janitor.notify import Notifier, notifier_for
from ephemera.leases import LeaseStore, SqliteLeaseStore
from ephemera.project import Project
from ephemera.terraform.runner import echo_stderr, echo_stdout


def context(progress_to_stderr: bool = False) -> lifecycle.Context:
    """Progress (Terraform's output, `==>` steps) goes to stdout, or to stderr when
    stdout carries JSON for a script. A run the provisioning API started also gets the
    id it handed out (EPHEMERA_RUN_ID) and sends its events to EPHEMERA_EVENTS_FD."""
    project = Project.discover()
    project.ensure_home()
    echo = echo_stderr if progress_to_stderr else echo_stdout
    return lifecycle.Context(
        project=project,
        store=open_store(project),
        clock=cli_clock(),
        echo=echo,
        events=events_to_fd(),
        run_id=given_run_id(),
    )


RUN_ID = re.compile(r"^[0-9]{8}T[0-9]{6}Z-[a-z]+-[0-9a-f]{10}$")  # leases.new_run_id


def given_run_id() -> str | None:
    """EPHEMERA_RUN_ID: the run id the API chose for this command's operation."""
    text = os.environ.get("EPHEMERA_RUN_ID")
    if not text:
        return None
    if not RUN_ID.match(text):
        raise UsageError(f"EPHEMERA_RUN_ID: {text!r} is not a run id")
    return text


def events_to_fd() -> lifecycle.Events:
    """The lifecycle's events as JSON lines on EPHEMERA_EVENTS_FD (a pipe the API opened
    for this process), or nowhere."""
    text = os.environ.get("EPHEMERA_EVENTS_FD")
    if not text:
        return lifecycle.no_events
    if not text.isdigit():
        raise UsageError(f"EPHEMERA_EVENTS_FD: expected a file descriptor, got {text!r}")
    descriptor = int(text)

    def send(kind: str, data: dict[str, Any]) -> None:
        line = json.dumps({"event": kind, **data}, default=str) + "\n"
        with contextlib.suppress(OSError):  # the API went away: the run goes on
            os.write(descriptor, line.encode())

    return send


def cli_clock() -> Clock:
    """The system clock, or the fixed moment EPHEMERA_NOW names (rehearsals, tests)."""
    fixed = os.environ.get("EPHEMERA_NOW")
    if not fixed:
        return system_clock
    try:
        moment = datetime.fromisoformat(fixed)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise UsageError(f"EPHEMERA_NOW: {fixed!r} is not an ISO-8601 time with a UTC offset")
    return lambda: moment


def health_deadline(seconds: int = 0) -> float:
    """The seconds all health checks of a command may take together: `seconds` (a
    `--timeout`), else EPHEMERA_HEALTH_TIMEOUT, else health.DEFAULT_DEADLINE."""
    if seconds < 0:
        raise UsageError(f"--timeout: seconds for the health checks, at least 1, got {seconds}")
    if seconds:
        return float(seconds)
    return seconds_setting("EPHEMERA_HEALTH_TIMEOUT", DEFAULT_DEADLINE)


def open_store(project: Project) -> LeaseStore:
    """DynamoDB when `_defaults.yaml` names `aws.lease_table` (leases shared by CI, the
    janitor Lambda and every machine), else SQLite in `.ephemera/leases.db`."""
    defaults = config.load_defaults(project)
    aws = (defaults.data.get("aws") if defaults else None) or {}
    table = aws.get("lease_table") if isinstance(aws, dict) else None
    if not table:
        return SqliteLeaseStore(project.leases_db)
    import boto3  # only the shared store needs it

    from ephemera.leases.dynamodb import DynamoLeaseStore

    session = boto3.Session(region_name=aws.get("region") or None)
    if session.region_name is None:
        raise UsageError(
            f"{project.relative(project.defaults_file)}: aws.region: needed to reach the "
            f"lease table {table} (or set AWS_REGION)"
        )
    return DynamoLeaseStore.from_session(session, table)


def notifier(project: Project, name: str) -> Notifier:
    """The env's notify block; for an orphan (file deleted), the console."""
    log_path = project.home / "notifications.log"
    try:
        settings = config.load_environment(project, name).notify
    except EphemeraError:
        settings = {"console": True}
    return notifier_for(settings, log_path=log_path, where=f"{name}: notify")
