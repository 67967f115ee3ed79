"""The server's log: one line per request, its start and stop, and uvicorn's warnings
(malformed requests: one line, no traceback).

`LogFile` owns the log file and rotates it by size: past `max_bytes` the file
becomes `<log>.1` (the older ones `.2` …, `backups` kept), so it never grows without
bound. Request lines are buffered and flushed within `FLUSH_AFTER` seconds (a write
per request would cost more than the request); warnings are flushed at once. `start`
also points the server's stdout and stderr at the log file (for anything printed
before logging is set up, or a crash); on rotation they follow the new file. Without
a log file (`serve` in a terminal), lines go to stdout.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path
from typing import TextIO

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3
FLUSH_AFTER = 0.2  # seconds
LOGGER = "ephemera.mockapi"
_CONTROL_CHARS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F]}


class LogFile(logging.Handler):
    """A log file rotated by size, or a stream; also the handler of the loggers."""

    def __init__(
        self, path: Path | None, max_bytes: int, backups: int, stream: TextIO | None = None
    ) -> None:
        super().__init__()
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._stream: TextIO = stream or sys.stdout
        self._size = 0
        self._flush_pending = False
        if path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        self._stream = self.path.open("a", encoding="utf-8")
        self._size = self._stream.tell()

    def write(self, line: str, *, now: bool = False) -> None:
        size = len(line) + 1
        if self.path is not None and self._size and self._size + size > self.max_bytes:
            self._rotate()
        self._stream.write(line + "\n")
        self._size += size
        if now:
            self.flush()
        elif not self._flush_pending:
            self._flush_pending = True
            try:
                asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)
            except RuntimeError:  # not on the server's loop
                self.flush()

    def flush(self) -> None:
        self._flush_pending = False
        self._stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        self.write(self.format(record), now=True)

    def close(self) -> None:
        self.flush()
        if self.path is not None:
            self._stream.close()
        super().close()

    def _rotate(self) -> None:
        """`<log>` → `<log>.1` → … → `<log>.<backups>`; stdout and stderr, when they
        are the log file, follow to the new file."""
        assert self.path is not None
        self._stream.flush()
        before = os.fstat(self._stream.fileno())
        self._stream.close()
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.backups > 0:
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink()
        self._open()
        for fd in (1, 2):
            try:
                current = os.fstat(fd)
            except OSError:
                continue
            if (current.st_dev, current.st_ino) == (before.st_dev, before.st_ino):
                os.dup2(self._stream.fileno(), fd)


def setup(
    path: Path | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    backups: int = DEFAULT_BACKUPS,
    stream: TextIO | None = None,
) -> LogFile:
    """The server's log file, also the handler of its logger and uvicorn's."""
    log = LogFile(path, max_bytes, backups, stream)
    log.setFormatter(logging.Formatter("%(message)s"))
    for name, level in ((LOGGER, logging.INFO), ("uvicorn.error", logging.WARNING)):
        target = logging.getLogger(name)
        for old in list(target.handlers):
            target.removeHandler(old)
            old.close()
        target.addHandler(log)
        target.setLevel(level)
        target.propagate = False
    return log


class RequestLog:
    """`log(client, method, target, status, outcome, ms)`: one line per request."""

    def __init__(self, log: LogFile) -> None:
        self._log = log
        self._second = -1
        self._stamp = ""

    def __call__(
        self, client: str, method: str, target: str, status: int, outcome: str, ms: float
    ) -> None:
        now = time.time()
        second = int(now)
        if second != self._second:  # strftime once a second, not once a request
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        when = f"{self._stamp}.{int(now * 1000) % 1000:03d}Z"
        line = f"{when} {client} {method} {target} {status} {outcome} {ms:.0f}ms"
        self._log.write(line.translate(_CONTROL_CHARS) if not line.isprintable() else line)
