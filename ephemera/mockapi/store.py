"""The expectations in match order, with what is left of each one's `times`.

The server is threaded, so taking an expectation (finding the first match that is not
used up, and counting the use) must not let two concurrent requests both consume the
last remaining use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ephemera.mockapi.matching import Request, request_matches
from ephemera.mockapi.model import Expectation


class ExpectationStore:
    def __init__(self, expectations: Iterable[Expectation]) -> None:
        # highest priority first, then file order (MockServer's order)
        self._ordered = sorted(expectations, key=lambda e: (-e.priority, e.position))
        self._remaining: list[int | None] = [e.times for e in self._ordered]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ordered)

    def take(self, request: Request) -> Expectation | None:
        """The first matching expectation with uses left, counting this use; or None.

        Matching runs outside the lock (it is pure and may parse a JSON body); the
        remaining count is re-checked and decremented under it. A used-up expectation
        is skipped, so the request falls through to the next match.
        """
        for i, expectation in enumerate(self._ordered):
            if self._remaining[i] == 0 or not request_matches(expectation.request, request):
                continue
            with self._lock:
                left = self._remaining[i]
                if left == 0:
                    continue
                if left is not None:
                    self._remaining[i] = left - 1
            return expectation
        return None

    def remaining(self, expectation: Expectation) -> int | None:
        """Uses left (None: unlimited), for tests and logs."""
        with self._lock:
            return self._remaining[self._ordered.index(expectation)]
