"""What one sweep did (or, with a dry run, would do), environment by environment:
the summary the janitor prints (`format_summary`), logs and returns as JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ephemera.durations import format_when, iso_utc


@dataclass(frozen=True)
class SweepItem:
    env: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"env": self.env, "reason": self.reason}


@dataclass
class SweepSummary:
    """What one sweep did (or, with dry_run, would do), environment by environment."""

    started_at: datetime
    dry_run: bool = False
    recovered: list[SweepItem] = field(default_factory=list)  # claims dead runs left
    claimed: list[SweepItem] = field(default_factory=list)
    destroyed: list[SweepItem] = field(default_factory=list)
    dispatched: list[SweepItem] = field(default_factory=list)
    failed: list[SweepItem] = field(default_factory=list)
    warned: list[SweepItem] = field(default_factory=list)
    skipped: list[SweepItem] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # leases whose env file was deleted
    errors: list[SweepItem] = field(default_factory=list)  # notification / bookkeeping errors

    LISTS = (
        "recovered",
        "claimed",
        "destroyed",
        "dispatched",
        "failed",
        "warned",
        "skipped",
        "errors",
    )

    @property
    def ok(self) -> bool:
        return not self.failed and not self.errors

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "started_at": iso_utc(self.started_at),
            "dry_run": self.dry_run,
            "ok": self.ok,
        }
        for name in self.LISTS:
            data[name] = [item.to_dict() for item in getattr(self, name)]
        data["orphans"] = list(self.orphans)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def format_summary(summary: SweepSummary) -> str:
    """A few console lines: one per environment touched, grouped by what happened."""
    head = f"ttl sweep at {format_when(summary.started_at)}"
    if summary.dry_run:
        head += " (dry run: nothing was changed)"
    lines = [head]
    for name in SweepSummary.LISTS:
        for item in getattr(summary, name):
            lines.append(f"  {name:<10} {item.env}: {item.reason}")
    if summary.orphans:
        lines.append(f"  orphans    {', '.join(summary.orphans)} (lease without env file)")
    if len(lines) == 1:
        lines.append("  nothing to do")
    return "\n".join(lines)
