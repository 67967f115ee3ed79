"""The checker of parsed expectations: every field of MockServer's format the local
mock API supports becomes a typed object (`ephemera.mockapi.model`); anything else is
a problem `file: json.path: message`, all collected before one error.

The fields and their defaults are MockServer's
(mockserver-core/.../serialization/model/ExpectationDTO.java, TimesDTO.java,
TimeToLiveDTO.java); `checkbodies` and `checkresponse` hold the bodies and actions.
"""

from __future__ import annotations

from typing import Any

from ephemera.mockapi.checkbase import UNSUPPORTED, index, is_int, key
from ephemera.mockapi.checkresponse import ResponseChecks
from ephemera.mockapi.model import (
    Action,
    Expectation,
    ExpectationsError,
    RequestMatcher,
)

ACTIONS = ("httpResponse", "httpResponseTemplate", "httpError")
FORWARDS = (
    "httpForward",
    "httpForwardTemplate",
    "httpOverrideForwardedRequest",
    "httpForwardClassCallback",
    "httpForwardObjectCallback",
)
CALLBACKS = ("httpResponseClassCallback", "httpResponseObjectCallback")
EXPECTATION_FIELDS = ("id", "priority", "httpRequest", "times", "timeToLive", *ACTIONS)
REQUEST_FIELDS = (
    "not",
    "method",
    "path",
    "pathParameters",
    "queryStringParameters",
    "headers",
    "cookies",
    "body",
)
FORWARD_REFUSED = (
    "forwarding is not supported by the local mock API: it would make the mock a proxy "
    "that sends requests to other hosts"
)
CALLBACK_REFUSED = (
    "callbacks are not supported by the local mock API: they run Java classes or a "
    "client's websocket code inside MockServer"
)
MISSING_ACTION = (
    "missing: an expectation needs one of httpResponse, httpResponseTemplate, httpError"
)


class Checker(ResponseChecks):
    """Walks parsed expectations, collecting problems as `file: json.path: message`."""

    def document(self, document: Any, *, unique_ids: bool = True) -> list[Expectation]:
        """A list of expectations or a single one; `unique_ids`: refuse an id used twice
        (an expectation file), else the later one replaces the earlier (the API)."""
        self.duplicates(document, "")
        if isinstance(document, dict):
            items = [("", document)]
        elif isinstance(document, list):
            items = [(index("", i), item) for i, item in enumerate(document)]
        else:
            self.problem("", "must be a list of expectations or a single expectation object")
            items = []
        expectations = [self.expectation(item, where, i) for i, (where, item) in enumerate(items)]
        if unique_ids:
            self.duplicate_ids(expectations)
        self.raise_problems()
        return [e for e in expectations if e is not None]

    def raise_problems(self) -> None:
        if self.problems:
            raise ExpectationsError(self.problems)

    def duplicates(self, value: Any, where: str) -> None:
        if isinstance(value, dict):
            for name in getattr(value, "duplicate_keys", ()):
                self.problem(key(where, name), "duplicate key (JSON keeps only the last one)")
            for name, item in value.items():
                self.duplicates(item, key(where, name))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                self.duplicates(item, index(where, i))

    def duplicate_ids(self, expectations: list[Expectation | None]) -> None:
        first: dict[str, Expectation] = {}
        for e in expectations:
            if e is None or e.id is None:
                continue
            if e.id in first:
                self.problem(
                    key(f"[{e.position}]", "id"),
                    f"duplicate id {e.id!r}, also used by [{first[e.id].position}] "
                    "(MockServer would replace the earlier expectation)",
                )
            else:
                first[e.id] = e

    # expectation ---------------------------------------------------------------------

    def expectation(self, obj: Any, where: str, position: int) -> Expectation | None:
        if not isinstance(obj, dict):
            self.problem(where, "must be an expectation object")
            return None
        before = len(self.problems)
        self.refused_fields(obj, where)
        ident = obj.get("id")
        if ident is not None and not isinstance(ident, str):
            self.problem(key(where, "id"), "must be a string")
        priority = obj.get("priority", 0)
        if not is_int(priority):
            self.problem(key(where, "priority"), "must be an integer")
        request = RequestMatcher()
        if "httpRequest" in obj:
            request = self.request(obj["httpRequest"], key(where, "httpRequest"))
        action = self.action(obj, where)
        times = self.times(obj["times"], key(where, "times")) if "times" in obj else None
        ttl = self.time_to_live(obj.get("timeToLive"), key(where, "timeToLive"))
        if len(self.problems) > before or action is None:
            return None
        return Expectation(position, request, action, times, priority, ident, ttl, dict(obj))

    def refused_fields(self, obj: dict[str, Any], where: str) -> None:
        for name in obj:
            at = key(where, name)
            if name in FORWARDS:
                self.problem(at, FORWARD_REFUSED)
            elif name in CALLBACKS:
                self.problem(at, CALLBACK_REFUSED)
            elif name not in EXPECTATION_FIELDS:
                self.problem(at, UNSUPPORTED)

    def action(self, obj: dict[str, Any], where: str) -> Action | None:
        given = [name for name in ACTIONS if name in obj]
        if len(given) > 1:
            self.problem(key(where, given[1]), f"an expectation has one action, not {given}")
            return None
        if not given:
            if not any(name in obj for name in FORWARDS + CALLBACKS):
                self.problem(key(where, "httpResponse"), MISSING_ACTION)
            return None
        at = key(where, given[0])
        if given[0] == "httpResponse":
            return self.response(obj["httpResponse"], at)
        if given[0] == "httpResponseTemplate":
            return self.template(obj["httpResponseTemplate"], at)
        return self.error(obj["httpError"], at)

    def times(self, obj: Any, where: str) -> int | None:
        """None for unlimited; `{}` is 0 (never matches), as MockServer's TimesDTO."""
        if not isinstance(obj, dict):
            self.problem(where, "must be an object with remainingTimes and/or unlimited")
            return None
        self.unsupported(obj, where, ("remainingTimes", "unlimited"))
        unlimited = self.flag(obj, "unlimited", where)
        remaining = obj.get("remainingTimes", 0)
        if not is_int(remaining) or remaining < 0:
            self.problem(key(where, "remainingTimes"), "must be an integer of at least 0")
            return None
        return None if unlimited else remaining

    def time_to_live(self, obj: Any, where: str) -> float | None:
        """Seconds, or None: absent, `{}`, unlimited or no timeUnit all mean unlimited."""
        if obj is None:
            return None
        if not isinstance(obj, dict):
            self.problem(where, "must be an object with timeUnit and timeToLive")
            return None
        self.unsupported(obj, where, ("timeUnit", "timeToLive", "unlimited"))
        if self.flag(obj, "unlimited", where) or "timeUnit" not in obj:
            return None
        return self.duration(obj, "timeToLive", where)

    # request ---------------------------------------------------------------------------

    def request(self, obj: Any, where: str) -> RequestMatcher:
        if not isinstance(obj, dict):
            self.problem(where, "must be an object")
            return RequestMatcher()
        self.unsupported(obj, where, REQUEST_FIELDS)
        method = self.pattern(obj["method"], key(where, "method")) if "method" in obj else None
        path = self.pattern(obj["path"], key(where, "path")) if "path" in obj else None
        parts: dict[str, Any] = {}
        for field, name in (
            ("query", "queryStringParameters"),
            ("headers", "headers"),
            ("path_parameters", "pathParameters"),
        ):
            if name in obj:
                parts[field] = self.key_values(obj[name], key(where, name))
        if "cookies" in obj:
            parts["cookies"] = self.cookies(obj["cookies"], key(where, "cookies"))
        if "body" in obj:
            parts["body"] = self.request_body(obj["body"], key(where, "body"))
        negated = self.flag(obj, "not", where)
        return RequestMatcher(method=method, path=path, negated=negated, **parts)


def check_request(obj: Any, file: str, where: str = "") -> RequestMatcher:
    """One request matcher (a control-plane filter), or ExpectationsError."""
    checker = Checker(file)
    matcher = checker.request(obj, where)
    checker.raise_problems()
    return matcher


def check_response(obj: Any, file: str) -> Any:
    """One httpResponse (a rendered template), or ExpectationsError."""
    checker = Checker(file)
    response = checker.response(obj, "")
    checker.raise_problems()
    return response
