"""`ephemera new` as a person uses it, through a real pseudo-terminal (pexpect): the
prompts come from the stack's schema, the file it writes passes `make validate` and
`make deploy` deploys it; and without a terminal, from flags only."""

from __future__ import annotations

import io
import urllib.request

import pexpect
import pytest
import yaml

from tests.conftest import free_port
from tests.integration.conftest import EPHEMERA, Cli, make

pytestmark = pytest.mark.integration


def terminal(cli: Cli, *args: str, **extra: str) -> pexpect.spawn:
    """`ephemera <args>` on a pseudo-terminal; everything it shows is kept in
    `child.transcript`."""
    child = pexpect.spawn(
        EPHEMERA,
        list(args),
        cwd=str(cli.root),
        env={**cli.env(**extra), "COLUMNS": "100", "TERM": "xterm-256color"},
        encoding="utf-8",
        timeout=60,
        dimensions=(40, 100),
    )
    child.transcript = child.logfile_read = io.StringIO()
    return child


def converse(child: pexpect.spawn, script: list[tuple[str, str | None]]) -> int:
    """Answer each prompt in turn (None: a message to see, not a question); the exit code."""
    for prompt, text in script:
        child.expect_exact(prompt)
        if text is not None:
            child.expect(r"[:?\]\)] $")  # the end of the prompt line: rich waits here
            child.sendline(text)
    child.expect(pexpect.EOF)
    child.close()
    return child.exitstatus


LOCAL_SETTINGS = [("Target [local/aws] (local)", ""), ("Owner (email)", "pty@example.com")]


def test_new_in_a_terminal_writes_what_validate_accepts_and_deploy_deploys(cli: Cli) -> None:
    port = free_port()
    child = terminal(cli, "new", NO_COLOR="1")
    script = [
        ("Stack [local-mock-api/mock-api] (local-mock-api)", ""),
        ("Name (3-40", "Not_A_Name"),
        ("is not a valid environment name", None),
        ("Name (3-40", "from-pty"),
        *LOCAL_SETTINGS,
        ("TTL (30m, 8h, 2d)", "2h"),
        ("expectations_file", "expectations/local-demo.json"),
        ("bind_address", ""),
        ("port (8080)", "eighty"),
        ("is not a number", None),
        ("port (8080)", str(port)),
        ("Notification email", ""),
        ("cost: ≈ $0.00 for its 2h TTL, $0.00 per extra hour", None),
        ("Write environments/from-pty.yaml?", "y"),
        ("Deploy from-pty now?", "n"),
    ]
    assert converse(child, script) == 0, child.transcript.getvalue()
    assert "\x1b[" not in child.transcript.getvalue()  # NO_COLOR: no escape codes at all

    written = cli.root / "environments" / "from-pty.yaml"
    text = written.read_text()
    assert text.startswith("# yaml-language-server: $schema=../schemas/environment.schema.json")
    assert "  # MockServer-format expectations file" in text  # the variable's description
    assert yaml.safe_load(text) == {
        "name": "from-pty",
        "stack": "local-mock-api",
        "target": "local",
        "owner": "pty@example.com",
        "ttl": "2h",
        "variables": {"expectations_file": "expectations/local-demo.json", "port": port},
    }
    validated = make(cli, "validate", "ENV=from-pty")
    assert validated.returncode == 0, validated.stderr
    deployed = make(cli, "deploy", "ENV=from-pty")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/mockserver/status", timeout=5) as up:  # noqa: S310
        assert up.status == 200
    assert cli.ephemera("destroy", "from-pty", "--yes").returncode == 0


def test_new_refuses_to_write_what_was_not_confirmed(cli: Cli) -> None:
    child = terminal(cli, "new", "--stack", "local-mock-api", "--name", "unwanted", NO_COLOR="1")
    script = [
        *LOCAL_SETTINGS,
        ("TTL (30m, 8h, 2d)", ""),
        ("expectations_file", "expectations/local-demo.json"),
        ("bind_address", ""),
        ("port (8080)", ""),
        ("Notification email", ""),
        ("Write environments/unwanted.yaml?", "n"),
    ]
    assert converse(child, script) == 2
    assert "not written; nothing done" in child.transcript.getvalue()
    assert not (cli.root / "environments" / "unwanted.yaml").exists()


def test_new_from_flags_only(cli: Cli) -> None:
    args = ["new", "--stack", "local-mock-api", "--name", "scripted", "--owner", "ci@example.com"]
    port = free_port()
    sets = ["--set", "expectations_file=expectations/local-demo.json", "--set", f"port={port}"]
    made = cli.ephemera(*args, *sets, "--ttl", "30m", "--yes", "--deploy")
    assert made.returncode == 0, made.stderr
    written = yaml.safe_load((cli.root / "environments" / "scripted.yaml").read_text())
    assert written["ttl"] == "30m" and written["variables"]["port"] == port
    assert "scripted is active." in made.stdout and f"http://127.0.0.1:{port}" in made.stdout
    assert cli.ephemera("validate", "scripted").returncode == 0
    assert cli.ephemera("destroy", "scripted", "--yes").returncode == 0

    missing = cli.ephemera("new", "--stack", "local-mock-api", "--name", "other")
    assert missing.returncode == 2 and "--owner is required without a terminal" in missing.stderr
    unknown = cli.ephemera(*args[:3], "--name", "other", "--owner", "a@b.io", "--set", "colour=red")
    assert unknown.returncode == 2 and "colour: not a variable of stack local-mock-api" in (
        unknown.stderr
    )
    assert not (cli.root / "environments" / "other.yaml").exists()
