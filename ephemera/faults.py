"""Fault-injection points: where the fault suite (tests/integration/test_faults.py)
holds a real process so it can kill it with a real signal at a known phase.

Inert unless `EPHEMERA_PAUSE_AT` names the point. Then the process creates the file
`EPHEMERA_PAUSE_FILE` (default `/tmp/ephemera-paused-<point>`) and waits, until the file
is removed (resume) or the process is killed. Standard library only.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

POLL_SECONDS = 0.05


def pause_point(name: str) -> None:
    """Wait here while the fault suite holds this point (see the module docstring)."""
    if os.environ.get("EPHEMERA_PAUSE_AT") != name:
        return
    marker = Path(os.environ.get("EPHEMERA_PAUSE_FILE") or f"/tmp/ephemera-paused-{name}")  # noqa: S108
    marker.write_text(f"{os.getpid()}\n")
    while marker.exists():
        time.sleep(POLL_SECONDS)
