"""PUT /mockserver/verify and /mockserver/verifySequence, as MockServer's
`log/MockServerEventLog.java#verify` (paths under mockserver-core/.../org/mockserver/).

- times (`serialization/deserializers/condition/VerificationTimesDTODeserializer.java`,
  `verify/VerificationTimes.java`): absent or `{}` is exactly once; `atLeast` and
  `atMost` bound the count, a missing bound is -1 (none); the legacy `count`/`exact`;
- with `httpRequest` the recorded requests it matches are counted; with
  `expectationId` the requests that expectation answered;
- a failure is a message (sent as 406): `Request not found <times>, expected:<...> but
  was:<...>`, the requests printed as Jackson pretty-prints them; from
  `maximumNumberOfRequestToReturnInVerificationFailure` (default 10) requests on, `but
  was found N time(s) among M total requests`. MockServer's newer "closest match diff"
  appendix is not written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ephemera.errors import UsageError
from ephemera.mockapi.checkbase import is_int
from ephemera.mockapi.checker import check_request
from ephemera.mockapi.journal import Entry, Journal
from ephemera.mockapi.matching import request_matches
from ephemera.mockapi.model import RequestMatcher
from ephemera.mockapi.store import ExpectationStore
from ephemera.mockapi.wire import jackson, matcher_json, request_json

MAXIMUM_REQUESTS_IN_FAILURE = 10


@dataclass(frozen=True)
class Times:
    at_least: int = 1
    at_most: int = 1  # -1: no bound

    def passes(self, count: int) -> bool:
        return (self.at_least == -1 or count >= self.at_least) and (
            self.at_most == -1 or count <= self.at_most
        )

    def __str__(self) -> str:
        if self.at_least == self.at_most:
            return "exactly " + _count(self.at_most)
        if self.at_most == -1:
            return "at least " + _count(self.at_least)
        if self.at_least == -1:
            return "at most " + _count(self.at_most)
        return f"between {self.at_least} and {self.at_most} times"


def _count(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def times_of(value: Any, where: str) -> Times:
    if value is None or value == {}:
        return Times()
    if not isinstance(value, dict) or not all(
        is_int(v) or isinstance(v, bool) for v in value.values()
    ):
        raise UsageError(f"{where}: times: must be an object of atLeast and atMost counts")
    if "atLeast" in value or "atMost" in value:
        return Times(value.get("atLeast", -1), value.get("atMost", -1))
    if "count" in value:
        count = value["count"]
        return Times(count, count) if value.get("exact") else Times(count, -1)
    return Times()


def verify(body: Any, store: ExpectationStore, journal: Journal, where: str) -> str | None:
    """None when the verification passes, else MockServer's failure message."""
    _require_object(body, where, ("httpRequest", "expectationId"))
    times = times_of(body.get("times"), where)
    limit = _limit(body, where)
    if "expectationId" in body:
        ident = _ident(body["expectationId"], where)
        expected = _expectation_request(store, ident, where)
        found = journal.served_by(ident)
        everything = [e for e in journal.entries() if e.expectation_id is not None]
    else:
        expected = body.get("httpRequest") or {}
        found = journal.entries(_matcher(expected, where, "httpRequest"))
        everything = journal.entries()
    if times.passes(len(found)):
        return None
    message = f"Request not found {times}, expected:<{jackson(matcher_json(expected))}> but was"
    if len(everything) < limit:
        return message + f":<{_requests(everything)}>"
    count = len(found)
    return (
        message
        + f" found {count} time{'' if count == 1 else 's'} among {len(everything)} total requests"
    )


def verify_sequence(body: Any, store: ExpectationStore, journal: Journal, where: str) -> str | None:
    """A subsequence check: each matcher in turn matches a later recorded request."""
    _require_object(body, where, ("httpRequests", "expectationIds"))
    limit = _limit(body, where)
    if "expectationIds" in body:
        ids = [_ident(i, where) for i in _list(body["expectationIds"], where)]
        expected = [_expectation_request(store, i, where) for i in ids]
        everything = [e for e in journal.entries() if e.expectation_id is not None]
        steps = [lambda e, i=i: e.expectation_id == i for i in ids]
    else:
        expected = _list(body["httpRequests"], where)
        matchers = [_matcher(m, where, f"httpRequests[{n}]") for n, m in enumerate(expected)]
        everything = journal.entries()
        steps = [lambda e, m=m: _journal_matches(m, e) for m in matchers]
    cursor = 0
    for step in steps:
        while cursor < len(everything) and not step(everything[cursor]):
            cursor += 1
        if cursor == len(everything):
            printed = jackson([matcher_json(m) for m in expected])
            message = f"Request sequence not found, expected:<{printed}> but was"
            if len(everything) < limit:
                return message + f":<{_requests(everything)}>"
            return message + f" not found, found {len(everything)} other requests"
        cursor += 1
    return None


def _journal_matches(matcher: RequestMatcher, entry: Entry) -> bool:
    return request_matches(matcher, entry.request, control=True)


def _requests(entries: list[Entry]) -> str:
    if not entries:
        return "[]"
    printed = [request_json(e.request) for e in entries]
    return jackson(printed[0] if len(printed) == 1 else printed)


def _require_object(body: Any, where: str, one_of: tuple[str, str]) -> None:
    if not isinstance(body, dict) or sum(name in body for name in one_of) != 1:
        raise UsageError(f"{where}: the body must be an object with one of {', '.join(one_of)}")


def _limit(body: dict[str, Any], where: str) -> int:
    limit = body.get("maximumNumberOfRequestToReturnInVerificationFailure")
    if limit is None:
        return MAXIMUM_REQUESTS_IN_FAILURE
    if not is_int(limit):
        raise UsageError(
            f"{where}: maximumNumberOfRequestToReturnInVerificationFailure: must be an integer"
        )
    return int(limit)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise UsageError(f"{where}: must be a list")
    return value


def _ident(value: Any, where: str) -> str:
    ident = value.get("id") if isinstance(value, dict) else None
    if not isinstance(ident, str):
        raise UsageError(f'{where}: an expectation id must be {{"id": "..."}}')
    return ident


def _expectation_request(store: ExpectationStore, ident: str, where: str) -> Any:
    request = store.request_of(ident)
    if request is None:
        raise UsageError(f"No expectation found with id {ident}")
    return request


def _matcher(value: Any, where: str, at: str) -> RequestMatcher:
    return check_request(value, where, at)
