"""The typed, frozen form of MockServer expectations that the local mock API serves,
and the one error type of an expectation file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ephemera.errors import UsageError

STATUS_PATH = "/mockserver/status"
# java.util.concurrent.TimeUnit, as MockServer's `delay.timeUnit`, in seconds
TIME_UNITS = {
    "NANOSECONDS": 1e-9,
    "MICROSECONDS": 1e-6,
    "MILLISECONDS": 1e-3,
    "SECONDS": 1.0,
    "MINUTES": 60.0,
    "HOURS": 3600.0,
    "DAYS": 86400.0,
}


@dataclass(frozen=True)
class Pattern:
    """A MockServer string matcher: equal to `source`, or `source` as a full-match regex."""

    source: str
    regex: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def compile(cls, source: str) -> Pattern:
        """Raises `re.error` when `source` is not a valid regular expression."""
        return cls(source, re.compile(source, re.IGNORECASE))


@dataclass(frozen=True)
class KeyValues:
    """One expected parameter or header: the name, and the values it must have."""

    name: Pattern
    values: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class JsonBody:
    expected: Any
    strict: bool = False


@dataclass(frozen=True)
class StringBody:
    text: str
    substring: bool = False


BodyMatcher = JsonBody | StringBody


@dataclass(frozen=True)
class RequestMatcher:
    """What a request must look like; an absent field matches anything."""

    method: Pattern | None = None
    path: Pattern | None = None
    query: tuple[KeyValues, ...] = ()
    headers: tuple[KeyValues, ...] = ()
    body: BodyMatcher | None = None


@dataclass(frozen=True)
class ResponseSpec:
    """The response to send, ready to write: headers include the body's content type."""

    status: int = 200
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0  # seconds


@dataclass(frozen=True)
class Expectation:
    position: int  # index in the file: the tie-breaker after priority
    request: RequestMatcher
    response: ResponseSpec
    times: int | None = None  # None: unlimited
    priority: int = 0
    id: str | None = None

    @property
    def label(self) -> str:
        return f"[{self.position}]" + (f" {self.id}" if self.id else "")


class ExpectationsError(UsageError):
    """Every problem found in one or more expectation files, one per line (exit code 2)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def reject_constant(name: str) -> Any:
    """`parse_constant` for json.loads: NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not valid JSON")
