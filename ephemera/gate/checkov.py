"""checkov as a subprocess: finding it, its offline environment, running it, its JSON.

The one place that starts checkov. `ephemera.gate.policy` builds on it (plan scans,
the static scan of `invoke policy-scan`, with the custom checks of `policies/`),
and the tests of `terraform/` read the static scan through `policy`.

- `checkov_path`: `EPHEMERA_CHECKOV`, else `.venv-checkov/bin/checkov` of the project
  or of the checkout Ephemera runs from, else `checkov` on PATH. (checkov has its own
  virtualenv: its bc-python-hcl2 would shadow python-hcl2.)
- `environment`: fully offline, no platform: every `BC_*`, `CKV_*`, `PRISMA_*` and
  `CHECKOV_*` variable of the caller is dropped, `CKV_SKIP_PACKAGE_UPDATE_CHECK=true`,
  and HOME (and the working directory, see `run`) is an empty temporary directory, so
  no `.checkov.yaml` is read.
- `run`: `--skip-download --output json`; exit 0 (nothing failed) and 1 (a check
  failed) are results, anything else is checkov's own failure (`CommandError`).
- `parse_output`: checkov prints one report as an object, several as a list, and a
  bare summary when it found nothing to check; always a list of reports here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ephemera.durations import seconds_setting
from ephemera.errors import CommandError, EphemeraError
from ephemera.files import read_json, stat_stamp, write_json
from ephemera.gate import checkovd

INSTALL_ROOT = Path(__file__).resolve().parents[2]
VENV_SCRIPT = Path(".venv-checkov") / "bin" / "checkov"
TIMEOUT_SECONDS = 900
VERSION_TIMEOUT_SECONDS = 120
# The caller's variables that could point checkov at a platform, an API key, a
# config or a different check selection.
DROPPED_ENV_PREFIXES = ("BC_", "CKV_", "PRISMA_", "CHECKOV_")
OFFLINE_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "BC_SKIP_MAPPING": "TRUE",
    "PYTHONDONTWRITEBYTECODE": "1",
}
# checkov's exit codes that carry a report: 0 nothing failed, 1 some check failed.
RESULT_CODES = (0, 1)
RESIDENT_IDLE_SECONDS = 600.0
_RESIDENTS: dict[tuple[str, str, str, float, str], checkovd.Resident] = {}


# --- finding checkov ------------------------------------------------------------------


def checkov_path(root: Path) -> str:
    """`EPHEMERA_CHECKOV`, else `.venv-checkov/bin/checkov` of the project at `root` (or
    of the checkout Ephemera runs from), else `checkov` on PATH."""
    configured = os.environ.get("EPHEMERA_CHECKOV")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise EphemeraError(
                f"policy: EPHEMERA_CHECKOV={configured} is not an executable file; "
                "fix it, or unset it to use .venv-checkov (run make setup)"
            )
        return found
    for candidate in (root / VENV_SCRIPT, INSTALL_ROOT / VENV_SCRIPT):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("checkov")
    if on_path:
        return on_path
    raise EphemeraError(
        f"policy: checkov not found (not in {VENV_SCRIPT}, not on PATH, "
        "EPHEMERA_CHECKOV not set); run make setup"
    )


def version(executable: str, memo_file: Path) -> str:
    """The checkov version, without starting checkov when it can be read from its install.

    The interpreter of the script's shebang (or the script's own virtualenv) is looked
    up for a `checkov-<version>.dist-info`; failing that (a wrapper script, say),
    `checkov --version` runs once and is remembered in `memo_file` per executable
    path, size and mtime.
    """
    installed = _installed_version(executable)
    if installed:
        return installed
    resolved = Path(executable).resolve()
    ident = f"{resolved}:{stat_stamp(resolved)}"
    memo = read_json(memo_file)
    memo = memo if isinstance(memo, dict) else {}
    if isinstance(memo.get(ident), str):
        return str(memo[ident])
    argv = [executable, "--version"]
    done = _run(argv, where="policy", timeout=VERSION_TIMEOUT_SECONDS)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise CommandError("policy", argv, done.returncode, done.stdout, done.stderr)
    found = lines[-1].strip()
    memo[ident] = found
    write_json(memo_file, memo)
    return found


def _installed_version(executable: str) -> str | None:
    return _install(executable)[1]


def _install(executable: str) -> tuple[str | None, str | None]:
    """(the Python interpreter of the script's shebang when checkov is installed for it,
    checkov's version), each None when it cannot be read from the install."""
    script = Path(executable).resolve()
    candidates: list[tuple[str | None, Path]] = [(None, script.parent.parent)]
    try:
        with script.open("rb") as handle:
            shebang = handle.readline(512).decode("utf-8", "replace")
    except OSError:
        shebang = ""
    if shebang.startswith("#!"):
        interpreter = shebang[2:].strip().split(" ")[0]
        if interpreter and not interpreter.endswith("/env"):
            candidates.insert(0, (interpreter, Path(interpreter).parent.parent))
    for interpreter, prefix in candidates:
        for dist in sorted(prefix.glob("lib/python3*/site-packages/checkov-*.dist-info")):
            match = re.fullmatch(r"checkov-(.+)\.dist-info", dist.name)
            if match:
                return interpreter, match.group(1)
    return None, None


# --- the resident checker --------------------------------------------------------------


def resident(executable: str) -> checkovd.Resident | None:
    """The resident checker (`ephemera.gate.checkovd`) of this checkov install, when it
    can have one: `executable` is the `checkov` script of an install (beside its Python,
    which has checkov: a wrapper script runs as itself, every time), there is a private
    runtime directory, and `EPHEMERA_CHECKOV_IDLE` (seconds it waits for the next scan,
    default 600) is not 0. The checker answers only callers whose `PYTHON*` variables
    (what shapes the interpreter it loaded) are those it was started with."""
    idle = seconds_setting("EPHEMERA_CHECKOV_IDLE", RESIDENT_IDLE_SECONDS, zero="no checker")
    interpreter, installed = _install(executable)
    directory = _runtime_dir()
    if idle <= 0 or interpreter is None or installed is None or directory is None:
        return None
    if Path(executable).resolve().parent != Path(interpreter).parent.resolve():
        return None
    shaping = sorted((k, v) for k, v in os.environ.items() if k.startswith("PYTHON"))
    key = (interpreter, installed, str(directory), idle, repr(shaping))
    if key not in _RESIDENTS:
        identity = f"checkov {installed}, {shaping}, {_site_packages_stamp(interpreter)}"
        _RESIDENTS[key] = checkovd.Resident(interpreter, identity, directory, idle)
    return _RESIDENTS[key]


def _site_packages_stamp(interpreter: str) -> str:
    """When checkov's interpreter and its packages last changed: a reinstall (pip
    replaces a package's dist-info) or a new interpreter means a new checker."""
    prefix = Path(interpreter).parent.parent
    places = (Path(interpreter), *sorted(prefix.glob("lib/python3*/site-packages")))
    return ",".join(stat_stamp(path) for path in places)


def prestart(executable: str) -> None:
    """Start the resident checker now (if none answers), so that checkov has loaded by
    the time the plan is ready."""
    checker = resident(executable)
    if checker is not None:
        checker.start(environment(checker.directory))


def _runtime_dir() -> Path | None:
    """`$XDG_RUNTIME_DIR/ephemera`, else `<tmp>/ephemera-<uid>`: created 0700; None when
    it is not a directory of ours that only we can enter (someone else made it)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) / "ephemera" if runtime and Path(runtime).is_dir() else None
    path = base or Path(tempfile.gettempdir()) / f"ephemera-{os.getuid()}"
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        stat = path.lstat()
    except OSError:
        return None
    private = (stat.st_mode & 0o777) == 0o700 and stat.st_uid == os.getuid()
    return path if private and path.is_dir() and not path.is_symlink() else None


# --- running it -----------------------------------------------------------------------


def environment(home: Path) -> dict[str, str]:
    """The caller's environment minus checkov/platform settings, plus the offline switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV_PREFIXES)}
    env.update(OFFLINE_ENV)
    env["HOME"] = str(home)  # no ~/.checkov.yaml
    return env


def argv(executable: str, args: Sequence[str]) -> list[str]:
    """The command line `run` uses: `args`, then no download and JSON on stdout."""
    return [executable, *args, "--skip-download", "--output", "json"]


def run(
    executable: str, args: Sequence[str], *, where: str, timeout: float = TIMEOUT_SECONDS
) -> list[dict[str, Any]]:
    """Run checkov offline (see `environment`) with JSON output; its reports (maybe none).

    `where` starts every error message. Exit codes other than 0 and 1, and output that
    is not checkov's JSON, are `CommandError`s naming the command, the exit code and the
    tail of stderr; a missing executable or a timeout is an `EphemeraError`.
    """
    command = argv(executable, args)
    done = _run(command, where=where, timeout=timeout)
    if done.returncode not in RESULT_CODES:
        raise CommandError(where, command, done.returncode, done.stdout, done.stderr)
    try:
        return parse_output(done.stdout)
    except ValueError as exc:
        problem = (
            "checkov's output is not JSON"
            if isinstance(exc, json.JSONDecodeError)
            else f"unexpected checkov output ({exc})"
        )
        raise CommandError(
            f"{where}: {problem}", command, done.returncode, done.stdout, done.stderr
        ) from None


def _run(command: list[str], *, where: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`command` with HOME and the working directory an empty scratch directory: asked of
    the resident checker when the install has one, else run as a process of its own."""
    with tempfile.TemporaryDirectory(prefix="ephemera-checkov-") as scratch:
        home = Path(scratch).resolve()
        checker = resident(command[0])
        try:
            answer = None
            if checker is not None:
                answer = checker.scan(command[1:], environment(home), home, timeout)
            if answer is not None:
                return subprocess.CompletedProcess(command, *answer)
            return subprocess.run(
                command,
                cwd=home,
                env=environment(home),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        except (subprocess.TimeoutExpired, TimeoutError) as exc:
            raise EphemeraError(
                f"{where}: checkov did not finish in {timeout:g}s: {' '.join(command)}"
            ) from exc
        except OSError as exc:
            raise EphemeraError(
                f"{where}: cannot run {command[0]}: {exc.strerror or exc}; run make setup"
            ) from exc


def parse_output(stdout: str) -> list[dict[str, Any]]:
    """checkov's JSON as a list of reports (each with `results` and `summary`).

    One report comes as an object, several as a list; a scan that found nothing to
    check prints only a summary object, returned as a report with empty results.
    Raises ValueError (json.JSONDecodeError when it is not JSON at all).
    """
    document = json.loads(stdout)
    items = document if isinstance(document, list) else [document]
    reports = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("results"), dict):
            reports.append(item)
        elif isinstance(item, dict) and "resource_count" in item and "passed" in item:
            reports.append({"check_type": None, "results": {}, "summary": item})
        else:
            raise ValueError(f"not a checkov report: {json.dumps(item)[:200]}")
    return reports
