"""The tables people read: they fit the terminal, say what needs doing, and colour only
on a terminal (a real pseudo-terminal for that part)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pexpect
import pytest

from ephemera.cli import tables
from ephemera.leases import RunRecord
from ephemera.status import StatusRow
from tests.conftest import free_port
from tests.integration.conftest import EPHEMERA, Cli, demo_env

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ESCAPE = re.compile(r"\x1b\[")


def row(env: str, status: str = "active", **fields: object) -> StatusRow:
    values: dict[str, object] = {
        "stack": "local-mock-api",
        "target": "local",
        "owner": "a@example.com",
        "expires_at": NOW + timedelta(hours=7, minutes=59),
        "url": "http://127.0.0.1:18080",
        "healthy": True,
        "orphan": False,
        "reason": None,
        "changed_at": NOW,
    }
    values.update(fields)
    return StatusRow(env, status, **values)  # type: ignore[arg-type]


def printed(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, draw) -> str:  # noqa: ANN001
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TZ", "UTC")
    draw()
    return capsys.readouterr().out


def test_a_failed_environment_says_why_and_what_to_run(capsys, monkeypatch) -> None:  # noqa: ANN001
    rows = [
        row("local-demo"),
        row("broken", "failed", healthy=None, reason="destroy failed: exit 1 from terraform"),
        row("gone", "active", orphan=True),
    ]
    out = printed(capsys, monkeypatch, lambda: tables.print_status(rows, NOW, utc=True))
    assert max(len(line) for line in out.splitlines()) <= 80
    words = " ".join(out.split())
    assert "broken: destroy failed: exit 1 from terraform → make deploy ENV=broken" in words
    assert "make destroy ENV=broken" in words
    assert "gone: its file environments/gone.yaml was deleted" in words
    assert "16:59 UTC, in 7h 59m" in out
    assert "TARGET" not in out and "COST" not in out  # all local, nothing billed


def test_aws_rows_show_target_and_cost(capsys, monkeypatch) -> None:  # noqa: ANN001
    rows = [
        row("local-demo"),
        row("shared", target="aws", cost_so_far_usd=0.125, cost_remaining_usd=1.5),
    ]
    out = printed(capsys, monkeypatch, lambda: tables.print_status(rows, NOW))
    assert "TARGET" in out and "$0.125 / $1.50" in out
    assert "COST: so far / to go" in out


def test_history_has_a_header_and_the_gates_reason(capsys, monkeypatch) -> None:  # noqa: ANN001
    blocked = RunRecord(
        id="20261201T090000Z-plan-0123456789",
        env="local-demo",
        op="plan",
        actor="ana",
        commit=None,
        started_at=NOW - timedelta(minutes=5),
        ended_at=NOW - timedelta(minutes=4),
        result="failed",
        detail="policy gate blocked local-demo: CKV_EPH_1 failed",
    )
    out = printed(
        capsys, monkeypatch, lambda: tables.print_history("local-demo", [blocked], NOW, utc=True)
    )
    header, first = out.splitlines()[:2]
    assert header.split() == ["STARTED", "OP", "RESULT", "+", "~", "-", "ACTOR", "DETAIL"]
    assert first.startswith("08:55 UTC, 5m ago") and " plan " in first and " failed " in first
    assert "policy gate blocked local-demo: CKV_EPH_1 failed" in " ".join(out.split())


@pytest.mark.integration
def test_status_of_three_environments_fits_80_columns_and_colours_only_a_terminal(
    cli: Cli, port: int
) -> None:
    cli.write_env("local-demo", demo_env(port))
    cli.write_env("load-test", demo_env(free_port(), name="load-test"))
    cli.write_env("feature-x", demo_env(free_port(), name="feature-x"))
    for name in ("local-demo", "load-test", "feature-x"):
        assert cli.ephemera("deploy", name).returncode == 0
    assert cli.ephemera("destroy", "feature-x", "--yes").returncode == 0

    shown = cli.ephemera("status", COLUMNS="80", NO_COLOR="1")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and not ESCAPE.search(shown.stdout)
    assert [line.split()[0] for line in lines[1:]] == ["load-test", "local-demo"]
    every = cli.ephemera("status", "--all", "--utc", COLUMNS="80")
    assert "feature-x" in every.stdout and "destroyed" in every.stdout
    assert " UTC, in 7h 59m" in every.stdout and not ESCAPE.search(every.stdout)  # a pipe

    def on_a_terminal(**extra: str) -> str:
        env = {**cli.env(**extra), "TERM": "xterm-256color"}
        env.pop("NO_COLOR", None) if "NO_COLOR" not in extra else None
        text, status = pexpect.run(
            f"{EPHEMERA} status", env=env, cwd=str(cli.root), withexitstatus=True, timeout=60
        )
        assert status == 0, text
        return text.decode()

    assert ESCAPE.search(on_a_terminal())
    assert not ESCAPE.search(on_a_terminal(NO_COLOR="1"))
    for name in ("local-demo", "load-test"):
        assert cli.ephemera("destroy", name, "--yes").returncode == 0
