"""What every Invoke task of `ephemera` shares: how it calls its command (through the
one top-level handler), the kind of its whole-number options, and the head start of
an environment's embedded Terraform."""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from typing import Any

from invoke import Exit
from invoke.exceptions import ParseError


class Whole(int):
    """The kind of an integer option (Invoke takes it from the default's type). Invoke
    would cast with int(), whose ValueError ends in a traceback and which takes other
    scripts' digits ('٣'); this refuses anything but ASCII digits with a ParseError,
    which `invoke` and `ephemera` print as a usage error."""

    def __new__(cls, value: object = 0) -> Whole:
        text = str(value).strip()
        if not re.fullmatch(r"-?[0-9]{1,9}", text):
            raise ParseError(f"expected a whole number (digits 0-9), got {value!r}")
        return super().__new__(cls, int(text))


def run_command(command: Callable[..., Any], *args: Any) -> None:
    """Call `command(*args)` through the one top-level handler; a returned int is the
    exit code."""
    from ephemera.cli.handler import CommandExit, run

    gc.freeze()  # what the imports made stays out of the collections (cli/main.py)
    gc.enable()
    try:
        code = run(lambda: command(*args))
    except CommandExit as exc:
        raise Exit(exc.message, code=exc.code) from None
    if isinstance(code, int) and code:
        raise Exit(code=code)


def prestart_terraform(env: str) -> None:
    """Start the environment's embedded Terraform before the command loads its modules,
    so that the library loads meanwhile (ephemera.terraform.runner.prestart); nothing
    for a name that is not an environment file (the command says what is wrong)."""
    import re

    from ephemera.cli.handler import private_files
    from ephemera.environment import NAME_PATTERN
    from ephemera.errors import EphemeraError
    from ephemera.project import Project
    from ephemera.terraform.runner import prestart

    if not re.fullmatch(NAME_PATTERN, env):
        return  # not a name: nothing is started, and the command says so
    try:
        project = Project.discover()
        if project.environment_file(env).is_file():
            private_files()  # before the child starts: it inherits the umask
            prestart(project, env)
    except (EphemeraError, OSError):
        return  # the command itself reports what is wrong
