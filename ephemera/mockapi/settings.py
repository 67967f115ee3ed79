"""The `MOCKAPI_*` environment variables, the only configuration of the commands.

The Terraform stack passes them through local-exec `environment = {}`, so no value
ever reaches a shell command line. An empty value counts as unset (Terraform passes
"" for a null). Relative paths are made absolute against the current directory, since
the detached server runs elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ephemera.errors import UsageError

DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 1080  # MockServer's default

HELP = f"""\
environment variables:
  MOCKAPI_BIND          address to listen on (default {DEFAULT_BIND})
  MOCKAPI_PORT          port to listen on (default {DEFAULT_PORT})
  MOCKAPI_EXPECTATIONS  the expectation file (start, serve)
  MOCKAPI_PIDFILE       the pidfile (start, stop)
  MOCKAPI_LOG           the server's log, appended to (start)
"""


@dataclass(frozen=True)
class Settings:
    bind: str = DEFAULT_BIND
    port: int = DEFAULT_PORT
    expectations: Path | None = None
    pidfile: Path | None = None
    log: Path | None = None

    def require_expectations(self, where: str) -> Path:
        return _required(self.expectations, "MOCKAPI_EXPECTATIONS", where)

    def require_pidfile(self, where: str) -> Path:
        return _required(self.pidfile, "MOCKAPI_PIDFILE", where)

    def require_log(self, where: str) -> Path:
        return _required(self.log, "MOCKAPI_LOG", where)

    def environment(self) -> dict[str, str]:
        """These settings as `MOCKAPI_*` variables, for the spawned server."""
        values = {
            "MOCKAPI_BIND": self.bind,
            "MOCKAPI_PORT": str(self.port),
            "MOCKAPI_EXPECTATIONS": self.expectations,
            "MOCKAPI_PIDFILE": self.pidfile,
            "MOCKAPI_LOG": self.log,
        }
        return {name: str(value) for name, value in values.items() if value is not None}


def from_environ(environ: Mapping[str, str], where: str, cwd: Path | None = None) -> Settings:
    """Read and check the variables; `where` starts every message (`mockapi start`)."""
    base = cwd or Path.cwd()

    def path(name: str) -> Path | None:
        value = environ.get(name, "")
        return (base / value).absolute() if value else None

    bind = environ.get("MOCKAPI_BIND", "") or DEFAULT_BIND
    if bind != bind.strip() or any(c.isspace() for c in bind):
        raise UsageError(f"{where}: MOCKAPI_BIND: not an address: {bind!r}")
    port_text = environ.get("MOCKAPI_PORT", "") or str(DEFAULT_PORT)
    try:
        port = int(port_text, 10)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise UsageError(f"{where}: MOCKAPI_PORT: must be a port number (1-65535): {port_text!r}")
    return Settings(
        bind=bind,
        port=port,
        expectations=path("MOCKAPI_EXPECTATIONS"),
        pidfile=path("MOCKAPI_PIDFILE"),
        log=path("MOCKAPI_LOG"),
    )


def _required(value: Path | None, name: str, where: str) -> Path:
    if value is None:
        raise UsageError(f"{where}: {name} is not set")
    return value


def pidfile_from_environ(environ: Mapping[str, str], where: str, cwd: Path | None = None) -> Path:
    """Only MOCKAPI_PIDFILE: `stop` must not fail on a variable it does not use."""
    value = environ.get("MOCKAPI_PIDFILE", "")
    if not value:
        raise UsageError(f"{where}: MOCKAPI_PIDFILE is not set")
    return ((cwd or Path.cwd()) / value).absolute()
