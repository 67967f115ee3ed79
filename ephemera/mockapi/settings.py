"""The `MOCKAPI_*` environment variables, the configuration of the commands.

The Terraform stack passes them through local-exec `environment = {}`, so no value
ever reaches a shell command line. An empty value counts as unset (Terraform passes
"" for a null). Relative paths are made absolute against the current directory, since
the detached server runs elsewhere. The limits (`TUNABLES`) may also be given as
options of `start` and `serve` (`--journal-size 500`), which win over the variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ephemera.errors import UsageError

DEFAULT_BIND = "127.0.0.1"
DEFAULT_PORT = 1080  # MockServer's default
MIB = 1024 * 1024


@dataclass(frozen=True)
class Tunable:
    variable: str
    option: str
    kind: type
    minimum: float
    maximum: float
    help: str


TUNABLES = {
    "journal_size": Tunable(
        "MOCKAPI_JOURNAL_SIZE", "--journal-size", int, 1, 10_000_000,
        "requests kept for retrieve and verify (oldest dropped first)",
    ),
    "max_body": Tunable(
        "MOCKAPI_MAX_BODY", "--max-body", int, 0, 1024 * MIB,
        "largest request body in bytes; larger ones get 413",
    ),
    "header_timeout": Tunable(
        "MOCKAPI_HEADER_TIMEOUT", "--header-timeout", float, 0.1, 3600,
        "seconds a connection has to send a request's headers",
    ),
    "idle_timeout": Tunable(
        "MOCKAPI_IDLE_TIMEOUT", "--idle-timeout", int, 1, 3600,
        "seconds a kept-alive connection may stay idle between requests",
    ),
    "max_connections": Tunable(
        "MOCKAPI_MAX_CONNECTIONS", "--max-connections", int, 1, 100_000,
        "connections served at once; requests past it get 503",
    ),
    "log_max_bytes": Tunable(
        "MOCKAPI_LOG_MAX_BYTES", "--log-max-bytes", int, 1024, 1024 * MIB,
        "size at which the log is rotated",
    ),
    "log_backups": Tunable(
        "MOCKAPI_LOG_BACKUPS", "--log-backups", int, 0, 100, "rotated logs kept",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Settings:
    bind: str = DEFAULT_BIND
    port: int = DEFAULT_PORT
    expectations: Path | None = None
    pidfile: Path | None = None
    log: Path | None = None
    token_file: Path | None = None
    journal_size: int = 10_000
    max_body: int = 10 * MIB
    header_timeout: float = 10.0
    idle_timeout: int = 5
    max_connections: int = 1000
    log_max_bytes: int = 10 * MIB
    log_backups: int = 3

    def require_expectations(self, where: str) -> Path:
        return _required(self.expectations, "MOCKAPI_EXPECTATIONS", where)

    def require_pidfile(self, where: str) -> Path:
        return _required(self.pidfile, "MOCKAPI_PIDFILE", where)

    def require_log(self, where: str) -> Path:
        return _required(self.log, "MOCKAPI_LOG", where)

    def require_token_file(self, where: str) -> Path:
        """MOCKAPI_TOKEN_FILE, else `mockapi.token` beside the pidfile."""
        if self.token_file is not None:
            return self.token_file
        if self.pidfile is not None:
            return self.pidfile.with_name("mockapi.token")
        raise UsageError(f"{where}: MOCKAPI_TOKEN_FILE is not set (the control plane's token)")

    def environment(self) -> dict[str, str]:
        """These settings as `MOCKAPI_*` variables, for the spawned server (limits
        only where they differ from the defaults)."""
        values = {
            "MOCKAPI_BIND": self.bind,
            "MOCKAPI_PORT": str(self.port),
            "MOCKAPI_EXPECTATIONS": self.expectations,
            "MOCKAPI_PIDFILE": self.pidfile,
            "MOCKAPI_LOG": self.log,
            "MOCKAPI_TOKEN_FILE": self.token_file,
        }
        defaults = Settings()
        for name, tunable in TUNABLES.items():
            if getattr(self, name) != getattr(defaults, name):
                values[tunable.variable] = str(getattr(self, name))
        return {name: str(value) for name, value in values.items() if value is not None}


HELP = f"""\
environment variables:
  MOCKAPI_BIND          address to listen on (default {DEFAULT_BIND})
  MOCKAPI_PORT          port to listen on (default {DEFAULT_PORT})
  MOCKAPI_EXPECTATIONS  the expectation file (start, serve)
  MOCKAPI_PIDFILE       the pidfile (start, stop)
  MOCKAPI_LOG           the server's log, rotated by size (start; serve: else stdout)
  MOCKAPI_TOKEN_FILE    the control plane's bearer token, created if missing
                        (default: mockapi.token beside the pidfile)
""" + "".join(
    f"  {t.variable:<24}{t.option}: {t.help} (default {getattr(Settings(), n)})\n"
    for n, t in TUNABLES.items()
)


def from_environ(
    environ: Mapping[str, str],
    where: str,
    cwd: Path | None = None,
    options: Mapping[str, str | None] | None = None,
) -> Settings:
    """Read and check the variables; `where` starts every message (`mockapi start`).
    `options` are the command's `--journal-size`-style options, by field name."""
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
    settings = Settings(
        bind=bind,
        port=port,
        expectations=path("MOCKAPI_EXPECTATIONS"),
        pidfile=path("MOCKAPI_PIDFILE"),
        log=path("MOCKAPI_LOG"),
        token_file=path("MOCKAPI_TOKEN_FILE"),
    )
    limits = {}
    for name, tunable in TUNABLES.items():
        option = (options or {}).get(name)
        text, label = (
            (option, tunable.option)
            if option
            else (environ.get(tunable.variable, ""), tunable.variable)
        )
        if text:
            limits[name] = _number(text, tunable, f"{where}: {label}")
    return replace(settings, **limits)


def _number(text: str, tunable: Tunable, where: str) -> float:
    kind = "a whole number" if tunable.kind is int else "a number"
    try:
        value = tunable.kind(text)
    except ValueError:
        value = None
    if value is None or not tunable.minimum <= value <= tunable.maximum:
        raise UsageError(
            f"{where}: must be {kind} from {tunable.minimum:g} to {tunable.maximum:g}: {text!r}"
        )
    return value


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
