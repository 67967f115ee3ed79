"""schemathesis against the running API's own OpenAPI document (/v1/openapi.json):
every operation with generated valid and invalid requests (coverage, fuzzing and
stateful phases, all checks): no 5xx, and every response — status, content type,
headers, body, each server-sent event — matches what the document says.

The project gives it real names to find without letting it start Terraform: `bad-env`
(invalid: its runs fail at validate) and `parked` (a lease whose file is gone: its runs
fail before any work). Bounded: a fixed seed and 8 examples per operation."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ephemera.leases import ACTIVE, Lease, SqliteLeaseStore
from tests.api.conftest import ALL_SCOPES, serving
from tests.api.test_api import BAD_ENV

pytestmark = pytest.mark.integration
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")


def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(tmp_path: Path) -> None:
    home = tmp_path / "project" / ".ephemera"
    now = datetime.now(UTC)
    SqliteLeaseStore(home / "leases.db").create(
        Lease("parked", "local", "local-mock-api", "a@example.com", ACTIVE, now, now,
              now + timedelta(hours=8), outputs={"url": "http://127.0.0.1:9/"})
    )  # fmt: skip
    with serving(tmp_path / "project") as served:
        served.cli.write_env("bad-env", BAD_ENV)
        token = served.token("fuzzer", ALL_SCOPES)
        result = subprocess.run(
            [
                SCHEMATHESIS,
                "run",
                f"{served.url}/v1/openapi.json",
                "--header",
                f"Authorization: Bearer {token}",
                "--checks",
                "all",
                "--max-examples",
                "8",
                "--seed",
                "1",
                "--no-shrink",
                "--request-timeout",
                "30",
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "15 selected / 15 total" in result.stdout
    assert "Stateful" in result.stdout and " passed" in result.stdout
