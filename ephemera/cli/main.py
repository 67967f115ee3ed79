"""The `ephemera` command: Invoke's Program over the tasks of `ephemera.cli.tasks`.

`ephemera deploy local-demo`, `ephemera --version`, `ephemera <task> -h`. Two habits
Invoke does not have are added here, before Invoke parses the command line: `-h` and
`--help` after a task name ask for that task's help (Invoke would read them as the
value of a positional argument), a task whose environment is optional (`validate`,
`drift`) takes it positionally too, and a hyphenated task may be typed as two words
(`ephemera token create`). A command line Invoke cannot parse
exits 2 (usage), as every other usage error does.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Sequence

from invoke import Program
from invoke.exceptions import ParseError

from ephemera.cli.tasks import namespace
from ephemera.errors import EXIT_INVALID

OPTIONAL_ENV = ("validate", "drift")  # tasks whose environment may be left out


def normalized(argv: Sequence[str]) -> list[str]:
    """`argv` with a task's `-h` as `--help <task>`, an optional environment given
    positionally as `--env <name>`, and a task's name in two words (`token create`) as
    the one it is (`token-create`)."""
    args = list(argv)
    tasks = set(namespace.task_names) | {
        a for names in namespace.task_names.values() for a in names
    }
    first = next((i for i, arg in enumerate(args[1:], 1) if not arg.startswith("-")), None)
    if first is not None and first + 1 < len(args) and args[first] not in tasks:
        joined = f"{args[first]}-{args[first + 1]}"
        if joined in tasks:
            args[first : first + 2] = [joined]
    where = next((i for i, arg in enumerate(args[1:], 1) if arg in tasks), None)
    if where is None:
        return args
    task, rest = args[where], args[where + 1 :]
    if "-h" in rest or "--help" in rest:
        return [*args[:where], "--help", task]
    if task in OPTIONAL_ENV and rest and not rest[0].startswith("-"):
        return [*args[: where + 1], "--env", *rest]
    return args


class EphemeraProgram(Program):
    """Invoke's Program with the command-line habits above; the version is read from the
    package metadata only when `--version` asks for it (importlib.metadata is slow to
    load, and every other command would pay for it)."""

    @property
    def version(self) -> str:
        return _version()

    @version.setter
    def version(self, _: str) -> None:
        pass  # Program.__init__ assigns it; the property above answers

    def run(self, argv: Sequence[str] | str | None = None, exit: bool = True) -> None:  # noqa: A002
        if argv is None or not isinstance(argv, str):
            argv = normalized(sys.argv if argv is None else argv)
        super().run(argv, exit=exit)

    def parse_core(self, argv: list[str] | None) -> None:
        _usage(super().parse_core, argv)

    def parse_tasks(self) -> None:
        _usage(super().parse_tasks)


def _usage(parse: object, *args: object) -> None:
    """Run an Invoke parse step; a command line it cannot parse exits 2."""
    try:
        parse(*args)  # type: ignore[operator]
    except ParseError as exc:
        print(f"ephemera: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_INVALID) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ephemera")
    except PackageNotFoundError:
        return "unknown"


program = EphemeraProgram(namespace=namespace, name="Ephemera", binary="ephemera")


def main() -> None:
    """Run the command line; the process then ends without the interpreter's teardown.

    Two costs of a short-lived process are left out, together a sixth of a no-change
    deploy: the garbage collector is off while the command's modules load (they create
    no garbage worth a collection; `tasks._run` turns it back on, with those objects
    frozen out of later collections), and the teardown that frees every module and
    object one by one (30-50 ms) is skipped: by then every file, database connection
    and child the command opened is closed or ended by its own code, and the output is
    flushed here."""
    gc.disable()
    try:
        program.run()
        code: object = 0
    except SystemExit as done:
        code = done.code
    except BrokenPipeError:
        code = _reader_gone()
    if isinstance(code, str):  # sys.exit("message"): printed, exit 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        code = _reader_gone()
    os._exit(code if isinstance(code, int) else 0)


def _reader_gone() -> int:
    """The reader went away (`ephemera status | head`): stop quietly, as cat does."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE
