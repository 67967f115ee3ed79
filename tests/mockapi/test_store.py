"""Match order (priority, then file order) and `times`, including under concurrency."""

from __future__ import annotations

import json
import threading
from typing import Any

from ephemera.mockapi.expectations import parse
from ephemera.mockapi.matching import Request
from ephemera.mockapi.model import Expectation
from ephemera.mockapi.store import ExpectationStore


def store(*expectations: dict[str, Any]) -> ExpectationStore:
    return ExpectationStore(parse(json.dumps(list(expectations)), "test.json"))


def taken_id(s: ExpectationStore, path: str = "/a") -> str | None:
    found: Expectation | None = s.take(Request("GET", path))
    return found.id if found else None


def test_file_order_breaks_ties() -> None:
    s = store(
        {"id": "first", "httpRequest": {"path": "/a"}, "httpResponse": {}},
        {"id": "second", "httpRequest": {"path": "/a"}, "httpResponse": {}},
    )
    assert taken_id(s) == "first"
    assert taken_id(s) == "first"


def test_highest_priority_first() -> None:
    s = store(
        {"id": "low", "httpRequest": {"path": "/a"}, "httpResponse": {}, "priority": -1},
        {"id": "default", "httpRequest": {"path": "/.*"}, "httpResponse": {}},
        {"id": "high", "httpRequest": {"path": "/a"}, "httpResponse": {}, "priority": 5},
    )
    assert taken_id(s) == "high"
    assert taken_id(s, "/b") == "default"


def test_used_up_expectation_falls_through_to_the_next_match() -> None:
    s = store(
        {
            "id": "twice",
            "httpRequest": {"path": "/a"},
            "httpResponse": {},
            "times": {"remainingTimes": 2},
        },
        {
            "id": "then",
            "httpRequest": {"path": "/a"},
            "httpResponse": {},
            "times": {"remainingTimes": 1},
        },
    )
    assert [taken_id(s) for _ in range(4)] == ["twice", "twice", "then", None]


def test_a_non_matching_request_does_not_use_up_times() -> None:
    s = store(
        {
            "id": "once",
            "httpRequest": {"path": "/a"},
            "httpResponse": {},
            "times": {"remainingTimes": 1},
        }
    )
    assert taken_id(s, "/other") is None
    [only] = [stored.expectation for stored in s.active()]
    assert s.remaining(only) == 1
    assert taken_id(s) == "once"
    assert s.remaining(only) == 0


def test_times_are_counted_exactly_under_concurrency() -> None:
    s = store(
        {
            "id": "limited",
            "httpRequest": {"path": "/a"},
            "httpResponse": {},
            "times": {"remainingTimes": 50},
        },
        {"id": "fallback", "httpRequest": {"path": "/a"}, "httpResponse": {}},
    )
    results: list[str | None] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        mine = [taken_id(s) for _ in range(25)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("limited") == 50
    assert results.count("fallback") == 150
