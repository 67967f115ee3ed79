"""A scratch Ephemera project for benchmarks (the same copy the integration tests use)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

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
