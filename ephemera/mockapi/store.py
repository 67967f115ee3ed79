"""The expectations in match order, with what is left of each one's `times` and
`timeToLive` (MockServer's `mock/RequestMatchers.java`).

- order: highest priority first, then creation order; an upsert (same id) keeps the
  slot of the expectation it replaces, with fresh times and time to live;
- an expectation is active while it has uses left and its time to live has not run
  out; inactive ones never match, are left out of `active()`, and are purged;
- ids: every expectation has one; a file's expectations without one get an id derived
  from the file and position (MockServer: `UUID.nameUUIDFromBytes`), the API's a
  random UUID.

Taking an expectation (finding the first active match and counting the use) holds a
lock, so two concurrent requests never both consume the last remaining use.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from ephemera.mockapi.matching import Request, request_matches
from ephemera.mockapi.model import Expectation, RequestMatcher
from ephemera.mockapi.wire import matcher_as_request


@dataclass
class Stored:
    expectation: Expectation
    created: int  # creation order, kept by an upsert
    remaining: int | None  # None: unlimited
    expires_at: float | None  # clock time; None: no time to live

    def active(self, now: float) -> bool:
        return self.remaining != 0 and (self.expires_at is None or now < self.expires_at)


class ExpectationStore:
    def __init__(
        self,
        expectations: Iterable[Expectation] = (),
        *,
        source: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._stored: list[Stored] = []
        self._order: tuple[Stored, ...] = ()
        self._counter = 0
        self._requests: dict[str, tuple[Any, RequestMatcher]] = {}  # by id, until reset
        self.add(expectations, source=source)

    def __len__(self) -> int:
        return len(self._stored)

    def add(self, expectations: Iterable[Expectation], *, source: str = "") -> list[Stored]:
        """Upsert each expectation by id; returns them as stored. `source` (a file name)
        gives an id to those without one, derived from the file and position."""
        added = []
        with self._lock:
            for expectation in expectations:
                added.append(self._upsert(_with_id(expectation, source)))
            self._stored.sort(key=lambda s: (-s.expectation.priority, s.created))
            self._order = tuple(self._stored)
        return added

    def _upsert(self, expectation: Expectation) -> Stored:
        assert expectation.id is not None
        self._requests[expectation.id] = (
            expectation.source.get("httpRequest", {}),
            expectation.request,
        )
        now = self._clock()
        ttl = expectation.time_to_live
        for i, old in enumerate(self._stored):
            if old.expectation.id == expectation.id:
                stored = Stored(expectation, old.created, expectation.times, _end(now, ttl))
                self._stored[i] = stored
                return stored
        self._counter += 1
        stored = Stored(expectation, self._counter, expectation.times, _end(now, ttl))
        self._stored.append(stored)
        return stored

    def take(self, request: Request) -> Expectation | None:
        """The first active matching expectation, counting this use; or None.

        Matching is pure; the remaining count is checked and decremented under the
        lock. A used-up expectation is skipped, so the request falls through to the
        next match."""
        now = self._clock()
        for stored in self._order:  # a snapshot: changes replace it, never edit it
            if stored.remaining == 0 or (
                stored.expires_at is not None and now >= stored.expires_at
            ):
                continue
            if not request_matches(stored.expectation.request, request):
                continue
            with self._lock:
                if not stored.active(now):
                    continue
                if stored.remaining is not None:
                    stored.remaining -= 1
            return stored.expectation
        return None

    def active(self, matcher: RequestMatcher | None = None) -> list[Stored]:
        """The active expectations in match order (those a filter matches); purges
        the inactive ones."""
        now = self._clock()
        with self._lock:
            self._stored = [s for s in self._stored if s.active(now)]
            self._order = tuple(self._stored)
            stored = list(self._stored)
        return [s for s in stored if matcher is None or _filter_matches(matcher, s)]

    def find(self, ident: str) -> Expectation | None:
        with self._lock:
            return next((s.expectation for s in self._stored if s.expectation.id == ident), None)

    def remove(self, matcher: RequestMatcher | None = None, ident: str | None = None) -> int:
        """Remove by id, or those whose own request the filter matches (none: all)."""
        with self._lock:
            before = len(self._stored)
            self._stored = [
                s
                for s in self._stored
                if not (
                    (ident is not None and s.expectation.id == ident)
                    or (ident is None and (matcher is None or _filter_matches(matcher, s)))
                )
            ]
            self._order = tuple(self._stored)
            return before - len(self._stored)

    def request_of(self, ident: str) -> Any:
        """The httpRequest JSON of an expectation with this id, even one used up or
        cleared since (MockServer keeps them until reset); None if there was none."""
        with self._lock:
            found = self._requests.get(ident)
        return None if found is None else found[0]

    def matcher_of(self, ident: str) -> RequestMatcher | None:
        with self._lock:
            found = self._requests.get(ident)
        return None if found is None else found[1]

    def reset(self) -> None:
        with self._lock:
            self._stored.clear()
            self._order = ()
            self._requests.clear()

    def remaining(self, expectation: Expectation) -> int | None:
        """Uses left (None: unlimited), for tests and logs."""
        with self._lock:
            return next(s.remaining for s in self._stored if s.expectation == expectation)


def _end(now: float, ttl: float | None) -> float | None:
    return None if ttl is None else now + ttl


def _with_id(expectation: Expectation, source: str) -> Expectation:
    if expectation.id is not None:
        return expectation
    if source:
        seed = f"{source}\0{expectation.position}\0{sorted(expectation.source.items())!r}"
        digest = bytearray(hashlib.md5(seed.encode(), usedforsecurity=False).digest())
        ident = str(uuid.UUID(bytes=bytes(digest), version=3))
    else:
        ident = str(uuid.uuid4())
    return replace(expectation, id=ident)


def _filter_matches(matcher: RequestMatcher, stored: Stored) -> bool:
    """A control-plane filter against an expectation's own request matcher."""
    return request_matches(matcher, matcher_as_request(stored.expectation.request), control=True)
