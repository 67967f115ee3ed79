"""`python -m ephemera.mockapi start|stop|serve|check`: the command line.

Configured only through `MOCKAPI_*` environment variables (see `settings`), except
`check`, which takes the files to validate as arguments. Exit codes as everywhere in
Ephemera: 0 ok, 1 failed, 2 invalid input, 3 unexpected (traceback to a file).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from ephemera.errors import EXIT_OK, EXIT_UNEXPECTED, EphemeraError
from ephemera.faults import pause_point
from ephemera.mockapi import expectations, process, server, settings
from ephemera.mockapi.settings import TUNABLES


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    where = f"mockapi {args.command}"
    try:
        _run(args, env, where)
    except EphemeraError as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"{where}: unexpected error: {exc!r} ({_save_traceback()})", file=sys.stderr)
        return EXIT_UNEXPECTED
    return EXIT_OK


def _run(args: argparse.Namespace, env: Mapping[str, str], where: str) -> None:
    if args.command == "check":
        loaded = expectations.check_files(Path(name) for name in args.files)
        for path, items in loaded.items():
            print(f"{path}: {len(items)} expectation(s), ok")
    elif args.command == "stop":
        process.stop(settings.pidfile_from_environ(env, where))
    else:
        options = {name: getattr(args, name) for name in TUNABLES}
        config = settings.from_environ(env, where, options=options)
        if args.command == "start":
            pause_point("mockapi-before-start")  # the fault suite kills a deploy here …
            process.start(config)
            pause_point("mockapi-after-start")  # … and here, its server running
        else:
            server.serve(config)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ephemera.mockapi",
        description="A local, MockServer-compatible mock HTTP API.",
        epilog=settings.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    start = commands.add_parser(
        "start",
        help="validate, then start the server detached (replacing a running one)",
        epilog=settings.HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands.add_parser("stop", help="stop the server named by MOCKAPI_PIDFILE (idempotent)")
    serve = commands.add_parser(
        "serve", help="run the server in the foreground (what start spawns)"
    )
    for command in (start, serve):
        for name, tunable in TUNABLES.items():
            command.add_argument(tunable.option, dest=name, metavar="N", help=tunable.help)
    check = commands.add_parser("check", help="validate expectation files")
    check.add_argument("files", nargs="+", metavar="FILE")
    return parser


def _save_traceback() -> str:
    """Writes the current traceback to a file; says where (or prints it if it cannot)."""
    text = traceback.format_exc()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        from ephemera.project import Project

        directory = Project.discover().logs_dir
    except EphemeraError:
        directory = Path(tempfile.gettempdir())
    path = directory / f"mockapi-{stamp}-{os.getpid()}.traceback"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError:
        print(text, file=sys.stderr)
        return "traceback above"
    return f"traceback in {path}"


if __name__ == "__main__":
    sys.exit(main())
