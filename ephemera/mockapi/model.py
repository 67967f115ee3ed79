"""The typed, frozen form of MockServer expectations that the local mock API serves,
and the one error type of an expectation file.

Each class mirrors a MockServer model class (`org.mockserver.model.*`); the checker
(`checker`, `checkbodies`, `checkresponse`) builds them from JSON, the matchers
(`matching`, `bodies`) read them.
"""

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
# MockServer compiles every string matcher with DOTALL | CASE_INSENSITIVE | UNICODE_CASE
# (org/mockserver/model/NottableString.java); Python's re is Unicode-aware already.
REGEX_FLAGS = re.IGNORECASE | re.DOTALL


@dataclass(frozen=True)
class Pattern:
    """A MockServer string matcher (`NottableString`): equal to `source` (also ignoring
    case), or `source` as a regex matching the whole value. `negated` is the `!` prefix
    or `"not": true`; `optional` the `?` prefix of a key; `schema` a JSON-schema
    validator used instead of the string (`{"schema": {...}}`)."""

    source: str
    regex: re.Pattern[str] | None = field(compare=False, repr=False)
    negated: bool = False
    optional: bool = False
    schema: Any = field(default=None, compare=False, repr=False)
    folded: str = field(default="", compare=False, repr=False)
    blank: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def compile(cls, source: str, *, negated: bool = False, optional: bool = False) -> Pattern:
        """Raises `re.error` when `source` is not a valid regular expression."""
        return cls(
            source,
            re.compile(source, REGEX_FLAGS),
            negated=negated,
            optional=optional,
            folded=source.casefold(),
            blank=not source.strip(),
        )

    @classmethod
    def literal(cls, value: str, *, negated: bool = False) -> Pattern:
        """A value to be matched (control plane: another expectation's matcher)."""
        try:
            regex = re.compile(value, REGEX_FLAGS)
        except re.error:
            regex = None
        return cls(value, regex, negated=negated, folded=value.casefold(), blank=not value.strip())


ANY_VALUE = Pattern.compile(".*")  # a key listed with no values only has to be present


@dataclass(frozen=True)
class KeyValues:
    """One expected parameter or header: the name, and the values it must have."""

    name: Pattern
    values: tuple[Pattern, ...] = ()


@dataclass(frozen=True)
class MultiMap:
    """Expected headers, query or path parameters (`KeysToMultiValues`).

    `matching_key` is MockServer's `keyMatchStyle: MATCHING_KEY`; the default SUB_SET
    compares the flattened (name, value) pairs (`collections/SubSetMatcher.java`)."""

    entries: tuple[KeyValues, ...] = ()
    matching_key: bool = False

    def __bool__(self) -> bool:
        return bool(self.entries)

    def pairs(self) -> list[tuple[Pattern, Pattern]]:
        return [(e.name, v) for e in self.entries for v in (e.values or (ANY_VALUE,))]


@dataclass(frozen=True, kw_only=True)
class Body:
    """What every body matcher has: `"not": true` and `"optional": true`."""

    negated: bool = False
    optional: bool = False


@dataclass(frozen=True)
class StringBody(Body):
    text: str
    substring: bool = False


@dataclass(frozen=True)
class JsonBody(Body):
    expected: Any
    strict: bool = False


@dataclass(frozen=True)
class RegexBody(Body):
    pattern: Pattern


@dataclass(frozen=True)
class JsonSchemaBody(Body):
    schema: Any
    validator: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class JsonPathBody(Body):
    path: str
    compiled: Any = field(compare=False, repr=False)
    definite: bool = True  # Jayway: a definite path yields a value, others a list


@dataclass(frozen=True)
class XPathBody(Body):
    xpath: str
    compiled: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class XmlBody(Body):
    xml: str
    tree: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class ParametersBody(Body):
    parameters: MultiMap


@dataclass(frozen=True)
class BinaryBody(Body):
    data: bytes


BodyMatcher = (
    StringBody
    | JsonBody
    | RegexBody
    | JsonSchemaBody
    | JsonPathBody
    | XPathBody
    | XmlBody
    | ParametersBody
    | BinaryBody
)


@dataclass(frozen=True)
class RequestMatcher:
    """What a request must look like; an absent field matches anything."""

    method: Pattern | None = None
    path: Pattern | None = None
    query: MultiMap = MultiMap()
    headers: MultiMap = MultiMap()
    body: BodyMatcher | None = None
    cookies: tuple[tuple[Pattern, Pattern], ...] = ()
    path_parameters: MultiMap = MultiMap()
    negated: bool = False  # "httpRequest": {"not": true, ...}


@dataclass(frozen=True)
class ResponseSpec:
    """The response to send, ready to write: headers include the body's content type
    and a Set-Cookie per response cookie."""

    status: int = 200
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    delay: float = 0.0  # seconds


@dataclass(frozen=True)
class TemplateSpec:
    """`httpResponseTemplate`: rendered per request into an httpResponse."""

    engine: str  # MUSTACHE or VELOCITY
    template: str
    compiled: Any = field(compare=False, repr=False)
    delay: float = 0.0


@dataclass(frozen=True)
class ErrorSpec:
    """`httpError`: raw bytes written past HTTP, then maybe a dropped connection."""

    drop_connection: bool = False
    data: bytes = b""
    delay: float = 0.0


Action = ResponseSpec | TemplateSpec | ErrorSpec


@dataclass(frozen=True)
class Expectation:
    position: int  # index in its file or request body: the tie-breaker after priority
    request: RequestMatcher
    response: Action
    times: int | None = None  # None: unlimited
    priority: int = 0
    id: str | None = None
    time_to_live: float | None = None  # seconds from creation; None: unlimited
    source: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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
