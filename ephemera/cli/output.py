"""How the command line speaks: to people (rich tables that fit the terminal, colour on a
terminal only, times in local time with their zone and how far away they are) and to
scripts (`--json`: one object with `format_version`, times in ISO-8601 UTC, durations in
seconds; the shapes are documented in docs/json.md).

Colour follows rich's rules (none when output is not a terminal), and `NO_COLOR` turns
off every escape code, bold too (rich alone would keep the styles); `COLUMNS` sets the
width when there is no terminal to ask.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console

from ephemera.durations import format_remaining, iso_utc
from ephemera.errors import UsageError

FORMAT_VERSION = 1
YES = ("1", "true", "yes")


def console(stderr: bool = False) -> Console:
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(
        stderr=stderr,
        highlight=False,
        soft_wrap=True,
        color_system=None if plain else "auto",
    )


def iso(moment: datetime | None) -> str | None:
    """`2026-12-01T14:57:03Z` (durations.iso_utc), or None."""
    return None if moment is None else iso_utc(moment)


def seconds(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds())


def when(moment: datetime | None, now: datetime, *, utc: bool = False) -> str:
    """`14:57 CET, in 7h 59m` (local time, or UTC); the date too when it is not today."""
    if moment is None:
        return "-"
    shown = moment.astimezone(UTC) if utc else moment.astimezone()
    today = (now.astimezone(UTC) if utc else now.astimezone()).date()
    form = "%H:%M %Z" if shown.date() == today else "%d %b %H:%M %Z"
    left = moment - now
    if left >= timedelta(0):
        return f"{shown.strftime(form)}, in {format_remaining(left)}"
    return f"{shown.strftime(form)}, {format_remaining(-left)} ago"


def print_json(payload: dict[str, Any]) -> None:
    """A `--json` document: `format_version` first, then `payload` in its own order."""
    document = {"format_version": FORMAT_VERSION, **payload}
    sys.stdout.write(json.dumps(document, indent=2, default=_encode) + "\n")


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return seconds(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def approved(yes: bool) -> bool:
    """--yes, or AUTO_APPROVE=1 (make's spelling)."""
    return yes or os.environ.get("AUTO_APPROVE", "").lower() in YES


def ask(env: str, yes: bool, action: str, question: str) -> None:
    """Confirmation by typing the env name; refused outright with no terminal to ask."""
    if approved(yes):
        return
    if not sys.stdin.isatty():
        raise UsageError(
            f"{env}: refusing to {action} without confirmation: no terminal to ask; "
            "pass --yes (make: AUTO_APPROVE=1)"
        )
    if input(f"{question}: ").strip() != env:
        raise UsageError(f"{env}: not confirmed; nothing done")
