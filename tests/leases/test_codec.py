"""Time as text: UTC, fixed width, text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ephemera.leases import sqlite
from ephemera.leases.codec import from_text, to_text


def test_none_round_trips() -> None:
    assert to_text(None) is None
    assert from_text(None) is None


def test_utc_fixed_width_text() -> None:
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert to_text(moment) == "2030-01-02T08:04:05.000000+00:00"
    assert from_text(to_text(moment)) == moment
    assert from_text(to_text(moment)).utcoffset() == timedelta(0)


def test_text_order_is_time_order() -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    zones = [timezone(timedelta(hours=h)) for h in (-11, -3, 0, 5, 13)]
    moments = [
        (base + timedelta(seconds=s, microseconds=us)).astimezone(zone)
        for s in (0, 1, 59, 3600, 86_399)
        for us in (0, 1, 999_999)
        for zone in zones
    ]
    texts = [to_text(m) for m in moments]
    assert len({len(t) for t in texts}) == 1
    assert sorted(texts) == [to_text(m) for m in sorted(moments)]


def test_sqlite_store_uses_the_shared_codec() -> None:
    assert sqlite.to_text is to_text and sqlite.from_text is from_text
