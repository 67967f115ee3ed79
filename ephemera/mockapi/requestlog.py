"""The server's log: one line per request, its start and stop, and uvicorn's warnings
(malformed requests: one line, no traceback).

Written to the log file, rotated by size (`logging.handlers.RotatingFileHandler`):
at `max_bytes` the file becomes `<log>.1` (the older ones `.2` …, `backups` kept), so
it never grows without bound. `start` also points the server's stdout and stderr at
the log file (for anything printed before logging is set up, or a crash); on
rotation they follow the new file. Without a log file (`serve` in a terminal), lines
go to stdout.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3
LOGGER = "ephemera.mockapi"
_CONTROL_CHARS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


class _RotatingLog(logging.handlers.RotatingFileHandler):
    """Rotates by size; stdout and stderr, when they are this file, follow it."""

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        before = os.fstat(self.stream.fileno()) if self.stream else None
        super().doRollover()
        if before is None or self.stream is None:
            return
        for fd in (1, 2):
            try:
                current = os.fstat(fd)
            except OSError:
                continue
            if (current.st_dev, current.st_ino) == (before.st_dev, before.st_ino):
                os.dup2(self.stream.fileno(), fd)


def setup(
    path: Path | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    stream: TextIO | None = None,
) -> logging.Logger:
    """The server's logger (and uvicorn's), writing plain lines to `path` or `stream`."""
    handler: logging.Handler
    if path is not None:
        handler = _RotatingLog(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger(LOGGER)
    for name in (LOGGER, "uvicorn.error"):
        target = logging.getLogger(name)
        for old in list(target.handlers):
            target.removeHandler(old)
            old.close()
        target.addHandler(handler)
        target.setLevel(logging.INFO if name == LOGGER else logging.WARNING)
        target.propagate = False
    return logger


class RequestLog:
    """`log(client, method, target, status, outcome, ms)`: one line per request."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def __call__(
        self, client: str, method: str, target: str, status: int, outcome: str, ms: float
    ) -> None:
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        line = f"{when} {client} {method} {target} {status} {outcome} {ms:.0f}ms"
        self._logger.info(line.translate(_CONTROL_CHARS))
