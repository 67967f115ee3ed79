"""The `ephemera` console script keeps the habits of Terraform, git and other CLIs: a
version, `-h` on every task, the environment positionally, usage errors exit 2, Terraform's
detailed exit code for plan."""

from __future__ import annotations

import signal
import subprocess
from importlib.metadata import version

import pytest

from ephemera.cli.main import normalized
from tests.integration.conftest import EPHEMERA, Cli, demo_env

pytestmark = pytest.mark.integration


def test_normalized_argv() -> None:
    assert normalized(["ephemera", "deploy", "-h"]) == ["ephemera", "--help", "deploy"]
    assert normalized(["ephemera", "extend-ttl", "x", "--help"]) == [
        "ephemera",
        "--help",
        "extend-ttl",
    ]
    assert normalized(["ephemera", "validate", "x"]) == ["ephemera", "validate", "--env", "x"]
    assert normalized(["ephemera", "drift", "--json"]) == ["ephemera", "drift", "--json"]
    assert normalized(["ephemera", "plan", "x"]) == ["ephemera", "plan", "x"]
    assert normalized(["ephemera", "token", "create", "--name", "ci"]) == [
        "ephemera",
        "token-create",
        "--name",
        "ci",
    ]
    assert normalized(["ephemera", "token", "revoke", "-h"]) == [
        "ephemera",
        "--help",
        "token-revoke",
    ]
    assert normalized(["ephemera", "deploy", "token", "create"]) == [
        "ephemera",
        "deploy",
        "token",
        "create",
    ]  # only where the task's name stands


def test_version_and_help(cli: Cli) -> None:
    shown = cli.ephemera("--version")
    assert shown.returncode == 0 and shown.stdout.strip() == f"Ephemera {version('ephemera')}"
    for task in ("deploy", "extend-ttl", "ci-plan", "status"):
        helped = cli.ephemera(task, "-h")
        assert helped.returncode == 0, helped.stderr
        assert f"ephemera [--core-opts] {task}" in helped.stdout
    assert "--yes" in cli.ephemera("deploy", "-h").stdout
    assert "--duration" in cli.ephemera("extend-ttl", "-h").stdout
    listed = cli.ephemera("--list")
    assert listed.returncode == 0 and "extend-ttl" in listed.stdout and "new" in listed.stdout


def test_usage_errors_exit_2_without_a_traceback(cli: Cli) -> None:
    for args in (
        ("ttl", "--max-destroys", "²"),
        ("ttl", "--max-destroys", "٣"),  # int() would take an Arabic-Indic three
        ("ttl", "--max-destroys", "-5"),
        ("deploy", "--no-such-flag"),
        ("no-such-task",),
        ("deploy",),
    ):
        refused = cli.ephemera(*args)
        assert refused.returncode == 2, (args, refused.stdout, refused.stderr)
        assert "Traceback" not in refused.stderr and refused.stderr.strip(), args
    assert "-1 (no cap) or a cap ≥ 0" in cli.ephemera("ttl", "--max-destroys", "-5").stderr


def test_plan_extend_and_detailed_exit_codes(cli: Cli, port: int) -> None:
    cli.write_env("local-demo", demo_env(port))
    planned = cli.ephemera("plan", "local-demo", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stderr + planned.stdout  # 1 to add
    assert "plan +1 ~0 -0" in planned.stdout
    assert cli.ephemera("plan", "local-demo").returncode == 0  # changes, no detailed code
    bad = cli.ephemera("plan", "lcoal-demo", "--detailed-exitcode")
    assert bad.returncode == 1 and "did you mean 'local-demo'" in bad.stderr  # 1: an error
    assert cli.ephemera("plan", "lcoal-demo").returncode == 2

    assert cli.ephemera("deploy", "local-demo").returncode == 0
    unchanged = cli.ephemera("plan", "local-demo", "--detailed-exitcode")
    assert unchanged.returncode == 0, unchanged.stderr + unchanged.stdout

    extended = cli.ephemera("extend-ttl", "local-demo", "2h")
    assert extended.returncode == 0, extended.stderr
    assert "in 9h 59m" in extended.stdout or "in 10h" in extended.stdout
    for duration, message in (
        ("0", "'0' is not a positive duration like 30m, 4h or 2d"),
        ("2 hours", "'2 hours' is not a positive duration"),
        ("8d", "extend-ttl by 8d is longer than max_ttl (7d); nothing changed"),
    ):
        refused = cli.ephemera("extend-ttl", "local-demo", duration)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
    by_flag = cli.ephemera("extend-ttl", "--env", "local-demo", "--duration", "30m")
    assert by_flag.returncode == 0, by_flag.stderr
    assert cli.ephemera("destroy", "local-demo", "--yes").returncode == 0


def test_a_reader_that_goes_away_ends_it_quietly(cli: Cli) -> None:
    """`ephemera deploy -h | head -1`: a closed pipe is no traceback."""
    child = subprocess.Popen(
        [EPHEMERA, "deploy", "-h"],
        cwd=cli.root,
        env=cli.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.stdout.close()  # before it writes: its first write meets a closed pipe
    stderr = child.stderr.read()
    assert child.wait(timeout=60) == 128 + signal.SIGPIPE
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
