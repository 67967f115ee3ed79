"""The one top-level handler: an EphemeraError becomes its message and exit code;
anything else is unexpected (exit 3): one line on screen, the traceback in
`.ephemera/logs/`."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from ephemera.errors import EXIT_UNEXPECTED, EphemeraError
from ephemera.project import Project

T = TypeVar("T")


class CommandExit(Exception):
    """Carries a message and exit code to the CLI layer (Invoke's Exit)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def run(action: Callable[[], T]) -> T:
    """Call `action`; map every error to a CommandExit with its message and exit code.

    Files the CLI and its Terraform children create are private (`private_files`)."""
    private_files()
    try:
        return action()
    except EphemeraError as exc:
        raise CommandExit(exc.message, exc.exit_code) from None
    except KeyboardInterrupt:
        raise CommandExit("interrupted", 130) from None
    except Exception as exc:  # noqa: BLE001 - the top-level handler
        raise CommandExit(_report_unexpected(exc), EXIT_UNEXPECTED) from None


def private_files() -> None:
    """umask 077, for this process and the children it starts: state, plans, run logs
    and leases can hold values nobody else should read."""
    os.umask(0o077)


def _report_unexpected(exc: Exception) -> str:
    try:
        logs = Project.discover().logs_dir
    except EphemeraError:
        logs = None
    if logs is None:
        return f"unexpected error: {exc!r}"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"crash-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.log"
    path.write_text("".join(traceback.format_exception(exc)))
    return f"unexpected error: {exc!r} (traceback in {path})"
