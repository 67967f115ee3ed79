"""A real `ephemera serve` on a throw-away project and a free loopback port, driven over
real HTTP with tokens made by the real `ephemera token create`."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.integration.conftest import EPHEMERA, Cli, make_project
from tests.support.jsondocs import checked

ALL_SCOPES = "read,plan,deploy,destroy,extend"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


@dataclass
class Served:
    cli: Cli
    url: str
    process: subprocess.Popen[str]
    tokens: dict[str, str] = field(default_factory=dict)
    demo_port: int = 0  # where a test's local-demo listens

    def token(self, name: str, scopes: str) -> str:
        """A token made by the CLI, as a person would (`ephemera token create`); its JSON
        is the documented one."""
        made = self.cli.ephemera("token", "create", "--name", name, "--scopes", scopes, "--json")
        assert made.returncode == 0, made.stderr
        self.tokens[name] = checked("token-create --json", made.stdout)["token"]
        return self.tokens[name]

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        data: bytes | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                return Reply(response.status, dict(response.headers), response.read().decode())
        except urllib.error.HTTPError as error:
            return Reply(error.code, dict(error.headers), error.read().decode())

    def wait_run(self, run_id: str, token: str, timeout: float = 120) -> dict[str, Any]:
        """Poll the run until it ends; returns its last view."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.call("GET", f"/v1/runs/{run_id}", token).json()
            if run["state"] in ("succeeded", "failed", "canceled"):
                return run
            assert time.monotonic() < deadline, run
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(cli: Cli, **extra_env: str) -> Served:
    """`ephemera serve` on a free port (its output in <project>/serve.log); returns once
    its OpenAPI document answers."""
    port = free_port()
    with (cli.root / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [EPHEMERA, "serve", "--port", str(port)],
            cwd=cli.root,
            env=cli.env(**extra_env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/v1/openapi.json", timeout=1).close()  # noqa: S310
            return Served(cli, url, process)
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                process.wait()
                log_text = (cli.root / "serve.log").read_text()
                raise RuntimeError(f"ephemera serve did not start:\n{log_text}") from None
            time.sleep(0.1)


@contextlib.contextmanager
def serving(root: Path, **extra_env: str) -> Iterator[Served]:
    served = start_server(make_project(root), **extra_env)
    try:
        yield served
    finally:
        served.stop()
        log_text = (served.cli.root / "serve.log").read_text()
        assert "Traceback" not in log_text, log_text[-5000:]


def held_pid(marker: Path) -> int:
    return int(marker.read_text().split()[0])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
