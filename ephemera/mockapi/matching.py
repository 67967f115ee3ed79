"""Pure functions: does a request match an expectation's request matcher?

The rules are MockServer's, read from its source (paths below are under
mockserver-core/src/main/java/org/mockserver/):

- strings, headers, query parameters and cookies: `ephemera.mockapi.textmatch`;
- `{name}` path segments (`codec/PathParametersDecoder.java`), only when the matcher
  has `pathParameters`;
- bodies: `ephemera.mockapi.bodies`.

Nothing here has state, so each rule is tested on its own in tests/mockapi.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from starlette.requests import cookie_parser

from ephemera.mockapi.bodies import body_matches
from ephemera.mockapi.model import Pattern, RequestMatcher
from ephemera.mockapi.textmatch import multimap_matches, string_matches, subset_matches

Pairs = tuple[tuple[str, str], ...]


@dataclass
class Request:
    """The parts of an HTTP request that matching looks at, independent of the server.
    (Not frozen: one is made per request, and a frozen dataclass is slower to make.)"""

    method: str
    path: str
    query: Pairs = ()
    headers: Pairs = ()
    body: bytes = b""
    keep_alive: bool = True
    secure: bool = False

    @cached_property
    def cookies(self) -> Pairs:
        """Every Cookie header, parsed leniently (MockServer: Netty's LAX decoder)."""
        pairs: list[tuple[str, str]] = []
        for name, value in self.headers:
            if name.lower() == "cookie":
                pairs.extend(cookie_parser(value).items())
        return tuple(pairs)


def request_matches(matcher: RequestMatcher, request: Request, *, control: bool = False) -> bool:
    """Whether `request` matches; `control` is MockServer's control-plane matching."""
    result = _fields_match(matcher, request, control)
    return result != matcher.negated


def _fields_match(matcher: RequestMatcher, request: Request, control: bool) -> bool:
    if matcher.method is not None and not string_matches(matcher.method, request.method, control):
        return False
    if matcher.path is not None and not path_matches(matcher, request.path, control):
        return False
    if matcher.body is not None and not body_matches(matcher.body, request.body):
        return False
    if matcher.headers.entries and not multimap_matches(matcher.headers, request.headers, control):
        return False
    if matcher.cookies and not subset_matches(list(matcher.cookies), request.cookies, control):
        return False
    if matcher.path_parameters.entries:
        found = path_parameters(matcher, request.path)
        if found is None or not multimap_matches(matcher.path_parameters, found, control):
            return False
    return not matcher.query.entries or multimap_matches(matcher.query, request.query, control)


# paths -------------------------------------------------------------------------------

_PATH_VARIABLE = re.compile(r"\{[.;]?([^*]+)\*?}")


def path_matches(matcher: RequestMatcher, path: str | Pattern, control: bool = False) -> bool:
    assert matcher.path is not None
    pattern = matcher.path
    if matcher.path_parameters.entries and "{" in pattern.source:
        pattern = path_parameters_pattern(pattern)
    return string_matches(pattern, path, control)


@lru_cache(maxsize=1024)
def path_parameters_pattern(path: Pattern) -> Pattern:
    """`normalisePathWithParametersForMatching`: each `{name}` segment becomes `.*`."""
    parts = [".*" if _PATH_VARIABLE.fullmatch(p) else p for p in path.source.split("/")]
    normalised = "/".join(parts) + ("/" if path.source.endswith("/") else "")
    return Pattern.compile(normalised, negated=path.negated)


def path_parameters(matcher: RequestMatcher, path: str) -> Pairs | None:
    """`extractPathParameters`: the values of the `{name}` segments of `path`, or None
    when the segment counts differ (then the path does not match)."""
    if matcher.path is None:
        return ()
    expected_parts = [p for p in matcher.path.source.lstrip("/").split("/") if p.strip()]
    actual_parts = [p for p in path.lstrip("/").split("/") if p.strip()]
    if len(expected_parts) != len(actual_parts):
        return None
    found: list[tuple[str, str]] = []
    for expected, actual in zip(expected_parts, actual_parts, strict=True):
        variable = _PATH_VARIABLE.fullmatch(expected)
        if variable is None:
            continue
        name = variable.group(1)
        value_pattern = "[.;]?(?:" + re.escape(name) + "=)?([^,]++)[.,;]?"
        for value in re.findall(value_pattern, actual):
            if (name, value) not in found:
                found.append((name, value))
    return tuple(found)
