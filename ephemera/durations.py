"""Durations, expiry arithmetic, times as text and the clock: standard library only
(the config stage, the lifecycle and the janitor Lambda all use them)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

DURATION_PATTERN = r"^[1-9][0-9]{0,5}[mhd]$"
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def parse_duration(text: str) -> timedelta:
    """`<n>m`, `<n>h` or `<n>d` as a timedelta; ValueError otherwise."""
    if not isinstance(text, str) or not re.match(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration like 30m, 8h or 2d")
    return timedelta(**{_UNITS[text[-1]]: int(text[:-1])})


def iso_utc(moment: datetime) -> str:
    """`2026-12-01T14:57:03Z`: the one form of a time in JSON and in records."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_when(moment: datetime) -> str:
    """A moment as people read it in messages: `2026-12-01 09:04 UTC`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_remaining(delta: timedelta) -> str:
    """A short human form: `7h 59m`, `2d 3h`, `expired 5m ago`."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return f"expired {format_remaining(-delta)} ago"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def duration_text(delta: timedelta) -> str:
    """A duration as the YAML writes it: `7d`, `8h`, `90m` (the largest exact unit)."""
    minutes = int(delta.total_seconds()) // 60
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes and minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def renewed_expiry(current: datetime | None, ttl: timedelta, now: datetime) -> datetime:
    """A successful apply never shortens a lease: max(current, now + ttl)."""
    fresh = now + ttl
    return fresh if current is None else max(current, fresh)


def seconds_setting(name: str, default: float, *, zero: str = "") -> float:
    """The seconds the environment variable `name` gives (`default` when unset); above 0,
    or 0 too when `zero` says what 0 means. A UsageError names the variable otherwise."""
    from ephemera.errors import UsageError

    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and (value > 0 or (zero and value == 0)):
        return value
    least = f"0 or more (0: {zero})" if zero else "above 0"
    raise UsageError(f"{name}: expected seconds, {least}, e.g. 3 or 0.5; got {text!r}")
