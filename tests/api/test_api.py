"""The provisioning API for real: `ephemera serve`, tokens from `ephemera token create`,
curl-like requests over loopback HTTP, runs that are the CLI in child processes
(embedded Terraform, the local mock API), the same lease store and run records."""

from __future__ import annotations

import json
import socket
import stat
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ephemera.leases import SqliteLeaseStore
from ephemera.leases.holders import holder_here
from ephemera.leases.oplock import acquire, release
from tests.api.conftest import ALL_SCOPES, Served, serving
from tests.conftest import free_port
from tests.integration.conftest import demo_env
from tests.support.jsondocs import checked

pytestmark = pytest.mark.integration
BAD_ENV = "name: bad-env\nstack: local-mock-api\ntarget: local\nowner: nobody\nttl: 8h\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("api") / "project"
    with serving(root) as server:
        server.demo_port = free_port()
        server.cli.write_env("local-demo", demo_env(server.demo_port))
        server.cli.write_env("bad-env", BAD_ENV)
        server.token("admin", ALL_SCOPES)
        server.token("viewer", "read")
        yield server


def store(served: Served) -> SqliteLeaseStore:
    return SqliteLeaseStore(served.cli.home / "leases.db")


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# -- authentication and scopes ------------------------------------------------------------


def test_no_token_or_a_bad_one_is_401(served: Served) -> None:
    bare = served.call("GET", "/v1/envs")
    assert bare.status == 401 and bare.headers["www-authenticate"].startswith("Bearer")
    for token in ("eph_000000000000_nothing", "not-a-token", served.tokens["admin"] + "x"):
        assert served.call("GET", "/v1/envs", token).status == 401
    basic = served.call("GET", "/v1/envs", headers={"Authorization": "Basic YTpi"})
    assert basic.status == 401
    # what needs no token: the dashboard's page and the API's description
    assert served.call("GET", "/").status == 200
    assert served.call("GET", "/v1/openapi.json").json()["info"]["title"] == "Ephemera"


def test_a_read_only_token_reads_but_a_destroy_is_403_and_audited(served: Served) -> None:
    viewer = served.tokens["viewer"]
    assert served.call("GET", "/v1/envs", viewer).status == 200
    refused = served.call("POST", "/v1/envs/local-demo/runs", viewer, {"op": "destroy"})
    assert refused.status == 403 and "lacks scope destroy" in refused.json()["detail"]
    assert (
        served.call("POST", "/v1/envs/local-demo/extend", viewer, {"duration": "1h"}).status == 403
    )
    records = served.call("GET", "/v1/envs/local-demo/audit", viewer).json()["records"]
    denied = [(r["token"], r["action"], r["result"], r["client"]) for r in records]
    assert ("viewer", "destroy", "denied", "127.0.0.1") in denied
    assert ("viewer", "extend", "denied", "127.0.0.1") in denied
    history = checked(
        "history --json", served.cli.ephemera("history", "local-demo", "--json").stdout
    )
    audited = [(r["op"], r["actor"], r["result"], r["client"]) for r in history["runs"]]
    assert ("audit:destroy", "viewer", "denied", "127.0.0.1") in audited
    table = served.cli.ephemera("history", "local-demo", COLUMNS="200").stdout
    assert "audit:destroy" in table and "viewer" in table


def test_a_revoked_token_is_401_at_once(served: Served) -> None:
    token = served.token("short-lived", "read")
    assert served.call("GET", "/v1/whoami", token).json() == {
        "name": "short-lived",
        "scopes": ["read"],
    }
    revoked = served.cli.ephemera("token", "revoke", "--name", "short-lived")
    assert revoked.returncode == 0, revoked.stderr
    assert served.call("GET", "/v1/whoami", token).status == 401
    listed = checked("token-list --json", served.cli.ephemera("token-list", "--json").stdout)
    names = {t["name"]: t["revoked_at"] for t in listed["tokens"]}
    assert names["short-lived"] is not None and names["admin"] is None


def test_tokens_are_stored_only_as_salted_hashes(served: Served) -> None:
    path = served.cli.home / "api" / "tokens.json"
    text = path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for token in served.tokens.values():
        secret = token.split("_", 2)[2]  # eph_<id>_<secret>; the secret may hold "_" itself
        assert token not in text and secret not in text
    assert "eph_" not in served.cli.ephemera("token-list").stdout


# -- validation, limits, unknown names ------------------------------------------------------


def test_validate_names_the_file_line_and_key(served: Served) -> None:
    admin = served.tokens["admin"]
    bad = served.call("GET", "/v1/envs/bad-env/validate", admin).json()
    assert bad["valid"] is False
    assert {(p["file"], p["key"]) for p in bad["problems"]} >= {
        ("environments/bad-env.yaml", "owner")
    }
    assert all(p["line"] >= 1 for p in bad["problems"])
    good = served.call("GET", "/v1/envs/local-demo/validate", admin).json()
    assert good == {"env": "local-demo", "valid": True, "problems": [], "error": None}


def test_unknown_and_invalid_names_and_large_bodies(served: Served) -> None:
    admin = served.tokens["admin"]
    unknown = served.call("GET", "/v1/envs/nowhere", admin)
    assert unknown.status == 404 and "known: bad-env, local-demo" in unknown.json()["detail"]
    assert served.call("GET", "/v1/envs/..%2Fetc", admin).status in (404, 422)
    assert served.call("GET", "/v1/envs/Bad_Name", admin).status == 422
    assert served.call("GET", "/v1/runs/20260101T000000Z-apply-0000000000", admin).status == 404
    huge = {"duration": "1h", "reason": "x" * 100_000}
    assert served.call("POST", "/v1/envs/local-demo/extend", admin, huge).status == 413
    big_head = served.call("GET", "/v1/envs", admin, headers={"X-Padding": "x" * 20_000})
    assert big_head.status == 431 and big_head.headers["x-frame-options"] == "DENY"
    wrong = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "apply"})
    assert wrong.status == 422


def test_a_run_takes_the_same_operation_lock_as_the_cli(served: Served) -> None:
    """While someone holds bad-env's operation lock (as a CLI run would), an API plan
    of it fails naming the holder, and changes nothing."""
    leases = store(served)
    now = datetime.now().astimezone()
    lock, _ = acquire(
        leases, "bad-env", holder_here("20260101T000000Z-plan-aaaaaaaaaa", "plan", now), now
    )
    try:
        admin = served.tokens["admin"]
        started = served.call("POST", "/v1/envs/bad-env/runs", admin, {"op": "plan"}).json()
        run = served.wait_run(started["id"], admin)
    finally:
        release(leases, lock)
    assert run["state"] == "failed" and run["exit_code"] == 1
    assert "operation" in run["error"] and "20260101T000000Z-plan-aaaaaaaaaa" in run["error"]


def test_idempotency_key_reused_for_another_request_is_409(served: Served) -> None:
    admin = served.tokens["admin"]
    key = {"Idempotency-Key": "plan-bad-env-1"}
    first = served.call("POST", "/v1/envs/bad-env/runs", admin, {"op": "plan"}, key)
    assert first.status == 202
    other = served.call("POST", "/v1/envs/bad-env/runs", admin, {"op": "deploy"}, key)
    assert other.status == 409 and "Idempotency-Key" in other.json()["detail"]
    run = served.wait_run(first.json()["id"], admin)
    assert run["state"] == "failed" and run["phase"] == "validate"
    assert "environments/bad-env.yaml:" in run["error"]
    again = served.call("POST", "/v1/envs/bad-env/runs", admin, {"op": "plan"}, key)
    assert again.json()["id"] == first.json()["id"] and again.json()["state"] == "failed"


# -- the acceptance path: deploy, follow, extend, destroy ----------------------------------


def test_deploy_follow_extend_and_destroy_through_the_api(served: Served) -> None:
    admin = served.tokens["admin"]
    port = served.demo_port
    key = {"Idempotency-Key": "deploy-local-demo"}
    started = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "deploy"}, key)
    assert started.status == 202, started.text
    run_id = started.json()["id"]
    assert started.headers["location"] == f"/v1/runs/{run_id}"
    assert started.json()["state"] == "queued" and "-apply-" in run_id

    replay = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "deploy"}, key)
    assert replay.status == 202 and replay.json()["id"] == run_id
    assert replay.headers["idempotent-replayed"] == "true"
    busy = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "plan"})
    assert busy.status == 409 and run_id in busy.json()["detail"]

    run = served.wait_run(run_id, admin)
    assert run["state"] == "succeeded", run
    assert run["phase"] == "apply" and run["progress"] == {"step": 5, "of": 5}
    assert run["counts"] == {"added": 1, "changed": 0, "destroyed": 0}
    assert run["gate"]["ok"] is True and run["cost"] == {"per_hour_usd": 0.0, "total_usd": 0.0}
    assert run["requested_by"] == "admin" and run["started_at"] <= run["ended_at"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/pets", timeout=5) as pets:  # noqa: S310
        assert pets.status == 200 and json.loads(pets.read())

    # the log: text from a cursor, and server-sent events to the end
    log = served.call("GET", f"/v1/runs/{run_id}/log", admin)
    assert "terraform apply" in log.text and "local-demo is active." in log.text
    assert int(log.headers["x-log-cursor"]) == len(log.text.encode()) == run["log_cursor"]
    rest = served.call("GET", f"/v1/runs/{run_id}/log?cursor={run['log_cursor'] - 20}", admin)
    assert rest.text == log.text.encode()[-20:].decode()
    events = served.call("GET", f"/v1/runs/{run_id}/log?follow=1", admin)
    assert events.headers["content-type"].startswith("text/event-stream")
    assert "event: log\ndata: ==> local-demo: terraform init\n" in events.text
    assert (
        events.text.rstrip().split("\n\n")[-1].startswith('event: end\ndata: {"state": "succeeded"')
    )

    # the same run record as the CLI's, by the token's name, and the audit record
    runs = served.call("GET", "/v1/envs/local-demo/history", admin).json()["runs"]
    (apply,) = [r for r in runs if r["op"] == "apply"]
    assert apply["id"] == run_id and apply["actor"] == "api:admin" and apply["result"] == "ok"
    audit = served.call("GET", "/v1/envs/local-demo/audit", admin).json()["records"]
    assert any(r["action"] == "deploy" and r["detail"] == f"run {run_id}" for r in audit)

    # what the API lists is what `status --json` and `history --json` print, same schema
    listed = checked("status --json", served.call("GET", "/v1/envs", admin).text)
    cli_rows = served.cli.rows()
    assert [r["env"] for r in listed["environments"]] == [r["env"] for r in cli_rows]
    assert {r["env"]: r["status"] for r in listed["environments"]}["local-demo"] == "active"
    checked("history --json", served.call("GET", "/v1/envs/local-demo/history", admin).text)

    detail = served.call("GET", "/v1/envs/local-demo", admin).json()
    assert detail["row"]["status"] == "active" and detail["row"]["healthy"] is True
    assert detail["outputs"]["url"] == f"http://127.0.0.1:{port}" and detail["active_run"] is None
    state = served.call("GET", "/v1/envs/local-demo/state", admin)
    assert state.json()["resources"] == [
        {"address": "terraform_data.mock_api", "mode": "managed", "type": "terraform_data"}
    ]
    assert str(port) not in state.text  # addresses and types, never attribute values
    cost = served.call("GET", "/v1/envs/local-demo/cost", admin).json()
    assert cost["per_hour_usd"] == 0.0 and cost["to_go_usd"] == 0.0

    _extend(served, admin)

    destroy = served.call("POST", "/v1/envs/local-demo/runs", admin, {"op": "destroy"}).json()
    done = served.wait_run(destroy["id"], admin)
    assert done["state"] == "succeeded" and done["counts"]["destroyed"] == 1, done
    assert done["phase"] == "destroy" and done["progress"] == {"step": 3, "of": 3}
    assert not port_open(port)
    assert store(served).get("local-demo").status == "destroyed"


def _extend(served: Served, admin: str) -> None:
    before = datetime.fromisoformat(
        served.call("GET", "/v1/envs/local-demo", admin).json()["lease"]["expires_at"]
    )
    body = {"duration": "4h", "reason": "demo tomorrow"}
    extended = served.call("POST", "/v1/envs/local-demo/extend", admin, body)
    assert extended.status == 200, extended.text
    after = datetime.fromisoformat(extended.json()["expires_at"])
    assert after - before == timedelta(hours=4)
    assert store(served).get("local-demo").expires_at.replace(microsecond=0) == after
    assert 4 * 3600 < extended.json()["expires_in_seconds"] <= 12 * 3600
    refused = served.call("POST", "/v1/envs/local-demo/extend", admin, {"duration": "9d"})
    assert refused.status == 409 and "max_ttl" in refused.json()["detail"]
    assert (
        served.call("POST", "/v1/envs/local-demo/extend", admin, {"duration": "4 h"}).status == 422
    )
    records = served.call("GET", "/v1/envs/local-demo/audit", admin).json()["records"]
    results = [(r["action"], r["result"]) for r in records[:2]]
    assert results == [("extend", "refused"), ("extend", "accepted")]
    (extend_run,) = [
        r for r in store(served).runs("local-demo") if r.op == "extend" and r.actor == "api:admin"
    ]
    assert "demo tomorrow" in extend_run.detail


def test_the_api_binds_loopback_by_default(served: Served) -> None:
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    port = int(served.url.rsplit(":", 1)[1])
    local = [line.split()[1] for line in listening if line.split()[3] == "0A"]  # LISTEN
    assert f"0100007F:{port:04X}" in local
