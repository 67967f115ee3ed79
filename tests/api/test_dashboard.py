"""The dashboard in a real browser: Debian's headless chromium, driven by playwright-core
(tools/playwright, installed by the Makefile; no browser is downloaded), against a real
`ephemera serve` whose environment was deployed through the API. The page lists it, and an
Extend click moves its expiry in the lease store."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ephemera.leases import SqliteLeaseStore
from tests.api.conftest import ALL_SCOPES, serving
from tests.conftest import REPO_ROOT, free_port
from tests.integration.conftest import demo_env

pytestmark = pytest.mark.integration
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = REPO_ROOT / "tools" / "playwright" / "node_modules"
SCRIPT = Path(__file__).with_name("dashboard.cjs")


def test_the_dashboard_lists_a_deployed_env_and_extend_moves_its_expiry(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists() or not (PLAYWRIGHT / "playwright-core").is_dir():
        pytest.fail(f"needs {CHROMIUM} (.ci/run installs it) and make setup (playwright-core)")
    with serving(tmp_path / "project") as served:
        port = free_port()
        served.cli.write_env("local-demo", demo_env(port))
        admin = served.token("dashboard", ALL_SCOPES)
        started = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "deploy"})
        assert served.wait_run(started.json()["id"], admin)["state"] == "succeeded"
        try:
            seen = _browse(served.url, admin, tmp_path)
        finally:
            destroy = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "destroy"})
            served.wait_run(destroy.json()["id"], admin)
        lease_after = SqliteLeaseStore(served.cli.home / "leases.db").get("local-demo")

    before, after = datetime.fromisoformat(seen["before"]), datetime.fromisoformat(seen["after"])
    assert after - before == timedelta(hours=4)
    assert lease_after.status == "destroyed"  # extended, then destroyed by the finally
    name, status, health, owner, left, cost, outputs, _ = seen["row"]
    assert (name, status, health, owner) == ("local-demo", "active", "healthy", "demo@example.com")
    assert left.startswith("7h 5") and cost == "$0.00 / $0.00" and "url" in outputs
    assert 0.95 < seen["meter"] <= 1
    assert f"http://127.0.0.1:{port}/" in seen["links"]
    assert "extended by 4h" in seen["message"] and seen["loginHidden"] is True
    assert (
        "==> local-demo: terraform apply" in seen["log"] and "local-demo is active." in seen["log"]
    )
    # the token came in the fragment: dropped from the address bar, kept in the tab only
    assert seen["hash"] == "" and seen["stored"] is True and seen["cookies"] == 0
    assert all(admin not in url for url in seen["requests"])
    assert not [line for line in seen["console"] if line.startswith("error")], seen["console"]


def _browse(url: str, token: str, tmp_path: Path) -> dict:
    node = shutil.which("node")
    assert node, "node is needed (it comes with the machine, as npm does)"
    result = subprocess.run(
        [node, str(SCRIPT), url, token, "local-demo", str(tmp_path / "dashboard.png")],
        env={**os.environ, "NODE_PATH": str(PLAYWRIGHT), "CHROMIUM": CHROMIUM},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
