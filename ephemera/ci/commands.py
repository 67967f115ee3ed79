"""`/ephemera …` commands in a pull-request comment, parsed.

    /ephemera plan [env]              re-plan the pull request
    /ephemera extend <env> <duration> push the expiry back (4h, 30m, 2d: as in the YAML)
    /ephemera destroy <env>           destroy it now
    /ephemera unlock <env>            clear a dead run's operation and state locks

The command is the comment's first non-empty line; whatever follows is free text.
Names are checked against the environment-name pattern and durations against the
YAML's, so nothing else ever reaches a command. A comment that does not start with
`/ephemera` is not a command (None); one that does but is malformed is a
CommandUsage naming what is wrong and the usage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from ephemera.config.schema import NAME_PATTERN
from ephemera.durations import parse_duration
from ephemera.errors import UsageError

PREFIX = "/ephemera"
USAGE = (
    "`/ephemera plan [env]`, `/ephemera extend <env> <duration>` (e.g. 4h), "
    "`/ephemera destroy <env>`, `/ephemera unlock <env>`"
)
ARGUMENTS = {"plan": (0, 1), "extend": (2, 2), "destroy": (1, 1), "unlock": (1, 1)}
MAX_LINE = 200


class CommandUsage(UsageError):
    """A malformed `/ephemera` command."""


@dataclass(frozen=True)
class Command:
    name: str  # plan | extend | destroy | unlock
    env: str = ""
    duration: timedelta | None = None
    duration_text: str = ""

    def __str__(self) -> str:
        return " ".join(p for p in (PREFIX, self.name, self.env, self.duration_text) if p)


def parse(body: str) -> Command | None:
    """The command in a comment's body; None when it holds none."""
    line = next((line.strip() for line in (body or "").splitlines() if line.strip()), "")
    words = line.split()
    if not words or words[0] != PREFIX:
        return None
    if len(line) > MAX_LINE:
        raise CommandUsage(f"the command line is longer than {MAX_LINE} characters")
    if len(words) == 1:
        raise CommandUsage(f"which command? {USAGE}")
    name, arguments = words[1], words[2:]
    if name not in ARGUMENTS:
        raise CommandUsage(f"unknown command {_shown(name)}; {USAGE}")
    low, high = ARGUMENTS[name]
    if not low <= len(arguments) <= high:
        raise CommandUsage(f"{name}: wrong number of arguments; {USAGE}")
    env = arguments[0] if arguments else ""
    if env and not re.match(NAME_PATTERN, env):
        raise CommandUsage(f"{name}: {_shown(env)} is not an environment name")
    if name != "extend":
        return Command(name, env)
    try:
        duration = parse_duration(arguments[1])
    except ValueError:
        raise CommandUsage(
            f"extend: {_shown(arguments[1])} is not a duration like 30m, 4h or 2d"
        ) from None
    if duration <= timedelta(0):
        raise CommandUsage("extend: the duration must be longer than 0")
    return Command(name, env, duration, arguments[1])


def _shown(text: str) -> str:
    """User text quoted for a reply: short, printable, no markdown."""
    clean = "".join(c for c in text[:40] if c.isprintable() and c not in "`|<>")
    return f"`{clean}`"
