"""TTL maths and the warning ladder. Time is injected; no sleeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ephemera.durations import format_remaining, parse_duration, renewed_expiry
from ephemera.janitor.ladder import (
    DEFAULT_LADDER,
    Rung,
    due_warnings,
    parse_ladder,
    rung_text,
    warning_message,
)
from ephemera.janitor.sweep import backoff
from ephemera.leases import (
    DEPLOYING,
    DESTROYING,
)

from .helpers import NOW, H, M, lease

# ------------------------------------------------------------------ durations


def test_existing_helpers_still_work() -> None:
    assert parse_duration("30m") == 30 * M
    assert parse_duration("2d") == timedelta(days=2)
    with pytest.raises(ValueError):
        parse_duration("0h")
    assert format_remaining(2 * H + 5 * M) == "2h 5m"
    assert format_remaining(-5 * M) == "expired 5m ago"
    assert renewed_expiry(NOW + 10 * H, 8 * H, NOW) == NOW + 10 * H
    assert renewed_expiry(None, 8 * H, NOW) == NOW + 8 * H


def test_rungs_and_ladders() -> None:
    assert rung_text(24 * H) == "24h"
    assert rung_text(90 * M) == "90m"
    assert rung_text(timedelta(days=2)) == "48h"
    with pytest.raises(ValueError):
        rung_text(timedelta(seconds=30))
    assert parse_ladder("30m, 24h,2h") == (24 * H, 2 * H, 30 * M)
    assert parse_ladder(["2h", 2 * H, "1d"]) == (24 * H, 2 * H)
    assert DEFAULT_LADDER == (24 * H, 2 * H, 30 * M)
    assert sorted([Rung(2 * H), Rung(30 * M)])[0].text == "30m"


def test_backoff_5m_15m_1h_4h_then_4h() -> None:
    assert [backoff(n) for n in range(1, 7)] == [5 * M, 15 * M, H, 4 * H, 4 * H, 4 * H]


# ------------------------------------------------------------------ warnings


def texts(rungs: list[Rung]) -> list[str]:
    return [r.text for r in rungs]


def test_due_warnings_most_urgent_first_and_each_once() -> None:
    ladder = DEFAULT_LADDER
    assert due_warnings(lease(expires_in=25 * H), ladder, NOW) == []
    assert texts(due_warnings(lease(expires_in=24 * H), ladder, NOW)) == ["24h"]
    assert texts(due_warnings(lease(expires_in=H), ladder, NOW)) == ["2h", "24h"]
    assert texts(due_warnings(lease(expires_in=10 * M), ladder, NOW)) == ["30m", "2h", "24h"]
    sent = lease(expires_in=H, warnings_sent=("24h",))
    assert texts(due_warnings(sent, ladder, NOW)) == ["2h"]
    # expired, not active, no expiry: nothing to warn about
    assert due_warnings(lease(expires_in=-M), ladder, NOW) == []
    assert due_warnings(lease(expires_in=H, status=DESTROYING), ladder, NOW) == []
    assert due_warnings(lease(expires_in=None, status=DEPLOYING), ladder, NOW) == []


def test_warning_message_says_what_and_how_to_extend() -> None:
    event = warning_message(lease("qa-api", expires_in=2 * H), Rung(2 * H), NOW, 12)
    assert event.kind == "warning" and event.env == "qa-api"
    for needle in (
        "qa-api",
        "alice@example.com",
        "2025-03-01 14:00 UTC",
        "invoke extend-ttl --env qa-api --hours 4",
        "make extend-ttl ENV=qa-api HOURS=4",
        "12 resources",
    ):
        assert needle in event.text
    assert "2h" in event.subject
    unknown = warning_message(lease(expires_in=H), Rung(2 * H), NOW, None)
    assert "everything in its Terraform state" in unknown.text
