"""A throw-away Ephemera project in tmp_path, driven through the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, free_port

INVOKE = str(Path(sys.executable).parent / "invoke")
EPHEMERA = str(Path(sys.executable).parent / "ephemera")  # the console script


@dataclass
class Cli:
    root: Path
    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        variables = {
            **os.environ,
            "EPHEMERA_ROOT": str(self.root),
            "EPHEMERA_HOME": str(self.home),
            "EPHEMERA_ACTOR": "tester",
        }
        variables.pop("AUTO_APPROVE", None)
        variables.update(self.extra_env)
        variables.update(extra)
        return variables

    def invoke(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return self._run([INVOKE, "--search-root", str(REPO_ROOT), *args], extra)

    def ephemera(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """The `ephemera` console script, run in the project."""
        return self._run([EPHEMERA, *args], extra)

    def _run(self, argv: list[str], extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.root,
            env=self.env(**extra),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=240,
        )

    def rows(self, **extra: str) -> list[dict]:
        """`status --json --all`: every environment's row (docs/json.md)."""
        done = self.invoke("status", "--json", "--all", **extra)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["environments"]

    def runs(self, env: str) -> list[dict]:
        """`history <env> --json`: its runs, newest first."""
        return json.loads(self.invoke("history", env, "--json").stdout)["runs"]

    def write_env(self, name: str, text: str) -> Path:
        path = self.root / "environments" / f"{name}.yaml"
        path.write_text(text)
        return path


def make(cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
    """`make <args>` in the repository, on `cli`'s project (EPHEMERA_ROOT)."""
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), *args],
        env=cli.env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def make_project(root: Path) -> Cli:
    """Copy the parts of the repo a project needs; environments start with _defaults only."""
    for part in ("terraform", "templates", "schemas", "expectations", "policies"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "environments").mkdir()
    shutil.copy(REPO_ROOT / "environments" / "_defaults.yaml", root / "environments")
    return Cli(root=root, home=root / ".ephemera")


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    project = make_project(tmp_path / "project")
    yield project
    stop_mock_apis(project)


def stop_mock_apis(cli: Cli) -> None:
    """SIGTERM every mock API a test left running (a failed assertion before its
    destroy, or a test that had no reason to destroy): none outlives its test."""
    for pidfile in cli.home.glob("run/*/mockapi.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text())
            if is_mockapi_server(pid):
                os.kill(pid, signal.SIGTERM)


def demo_env(port: int, name: str = "local-demo", **overrides: str) -> str:
    variables = {"bind_address": "127.0.0.1", "port": str(port)}
    variables.update(overrides)
    lines = "".join(f"  {k}: {v}\n" for k, v in variables.items())
    return (
        f"name: {name}\nstack: local-mock-api\ntarget: local\nowner: demo@example.com\n"
        f"ttl: 8h\nvariables:\n{lines}  expectations_file: expectations/local-demo.json\n"
    )


@pytest.fixture
def port() -> int:
    return free_port()


def spawn(cli: Cli, *args: str, **extra: str) -> subprocess.Popen[str]:
    """The CLI as a background process (its own session), for the fault suite."""
    return subprocess.Popen(
        [INVOKE, "--search-root", str(REPO_ROOT), *args],
        cwd=cli.root,
        env=cli.env(**extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def wait_for_file(path: Path, process: subprocess.Popen[str], timeout: float = 180) -> None:
    """Until `path` exists (a pause point reached); fails if the process ends first."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"exited {process.returncode} before {path.name}:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (read from /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def is_mockapi_server(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"ephemera.mockapi" in argv and b"serve" in argv


def kill_run(process: subprocess.Popen[str]) -> None:
    """kill -9 a CLI run and everything it started (Terraform, its provisioners) but a
    mock API server, which outlives its run as a detached server does."""
    doomed = [process.pid, *descendants(process.pid)]
    for pid in doomed:
        if not is_mockapi_server(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)
