"""A scratch Ephemera project for benchmarks (the same copy the integration tests use)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent


def scratch_project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="ephemera-bench-")) / "project"
    for part in ("terraform", "templates", "schemas", "expectations", "policies"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "environments").mkdir()
    shutil.copy(REPO_ROOT / "environments" / "_defaults.yaml", root / "environments")
    return root


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def live_lease(name: str, now: datetime, expires_in: timedelta, outputs: dict[str, Any]) -> Any:
    """An active lease of a local mock API environment, deployed `now`."""
    from ephemera.leases import ACTIVE, Lease

    return Lease(
        env=name,
        target="local",
        stack="local-mock-api",
        owner="b@example.com",
        status=ACTIVE,
        created_at=now,
        applied_at=now,
        expires_at=now + expires_in,
        outputs=outputs,
    )


def live_project(
    count: int,
    now: datetime,
    expires_in: timedelta,
    outputs: dict[str, Any] | None = None,
    extra: Callable[[int], str] = lambda index: "",
) -> Path:
    """A scratch project with `count` environment files on the local mock API stack
    (`extra(index)`: more lines for the file of environment `index`), each with an active
    lease in the project's SQLite store."""
    from ephemera.leases import SqliteLeaseStore

    root = scratch_project()
    store = SqliteLeaseStore(root / ".ephemera" / "leases.db")
    for index in range(count):
        name = f"bench-{index:04d}"
        (root / "environments" / f"{name}.yaml").write_text(
            f"name: {name}\nstack: local-mock-api\ntarget: local\nowner: b@example.com\n"
            f"ttl: 4h\n{extra(index)}variables:\n  port: {10000 + index}\n"
            "  expectations_file: expectations/local-demo.json\n"
        )
        store.create(live_lease(name, now, expires_in, outputs or {}))
    return root
