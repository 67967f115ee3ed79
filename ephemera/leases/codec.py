"""Time as text, shared by the lease stores.

UTC, ISO-8601, microseconds, `+00:00`: fixed width, so text order is time order.
SQLite compares the column as text and DynamoDB sorts the `expires_at` range key of its
`status-expires_at` index as a string; both rely on that.
"""

from __future__ import annotations

from datetime import UTC, datetime


def to_text(moment: datetime | None) -> str | None:
    """UTC, fixed width, so that text order is time order."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
