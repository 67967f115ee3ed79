"""The request journal: the data-plane requests received, with the response each got
and the expectation that answered, newest last, at most `size` of them.

MockServer keeps the same in its event log (`log/MockServerEventLog.java`,
`mockserver.maxLogEntries`): retrieve, verify and clear read it; control-plane
requests are never in it. The oldest entry goes when the journal is full, so memory
stays bounded however long the server runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ephemera.mockapi.matching import Request, request_matches
from ephemera.mockapi.model import RequestMatcher


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Entry:
    request: Request
    timestamp: float  # seconds since the epoch
    expectation_id: str | None = None  # the expectation that answered, if any
    answer: Answer | None = None  # None until answered (or for a dropped connection)


class Journal:
    def __init__(self, size: int, clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, request: Request, expectation_id: str | None) -> Entry:
        entry = Entry(request, self._clock(), expectation_id)
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self, matcher: RequestMatcher | None = None) -> list[Entry]:
        """In the order received; those whose request the filter matches (control plane)."""
        with self._lock:
            entries = list(self._entries)
        if matcher is None:
            return entries
        return [e for e in entries if request_matches(matcher, e.request, control=True)]

    def served_by(self, expectation_id: str) -> list[Entry]:
        return [e for e in self.entries() if e.expectation_id == expectation_id]

    def clear(self, matcher: RequestMatcher | None = None) -> None:
        """Forget the requests the filter matches (no filter: all of them)."""
        with self._lock:
            kept = [
                e
                for e in self._entries
                if matcher is not None and not request_matches(matcher, e.request, control=True)
            ]
            self._entries.clear()
            self._entries.extend(kept)
