"""An environment's running process on this machine (target local), known without the
Terraform state: the pidfiles its stack writes under `.ephemera/run/<env>/`, and the
address its URL names. Destroy stops the one and checks the other, so a tainted
resource, an empty state or a lost one still leaves nothing running.
"""

from __future__ import annotations

import io
import socket
from typing import Any

from ephemera.health import endpoint
from ephemera.lifecycle.context import Context

CONNECT_TIMEOUT = 0.5  # seconds: a local port that does not answer by then is closed


def stop_processes(ctx: Context, env: str) -> None:
    """Stop every mock API process the environment's pidfiles name (idempotent)."""
    from ephemera.mockapi import process  # the server's modules: only for a local env

    for pidfile in sorted(ctx.project.runtime_dir(env).glob("*.pid")):
        said = io.StringIO()
        process.stop(pidfile, out=said)
        ctx.say(f"==> {env}: {said.getvalue().strip()}")


def running_processes(ctx: Context, env: str) -> list[str]:
    """`pid N (pidfile)` for each pidfile whose process is still a live mock API."""
    from ephemera.mockapi import process

    found = []
    for pidfile in sorted(ctx.project.runtime_dir(env).glob("*.pid")):
        pid = process.read_pid(pidfile, f"{env}: runtime")
        if pid is not None and process.is_mockapi_process(pid):
            found.append(f"process {pid} ({ctx.project.relative(pidfile)})")
    return found


def answers(address: tuple[str, int]) -> bool:
    """Whether anything accepts a TCP connection on `address`."""
    try:
        with socket.create_connection(address, timeout=CONNECT_TIMEOUT):
            return True
    except OSError:
        return False


def leftovers(ctx: Context, env: str, outputs: dict[str, Any]) -> list[str]:
    """What of a destroyed local environment still runs: live processes, an open port."""
    found = running_processes(ctx, env)
    address = endpoint(outputs.get("url"))
    if address is not None and answers(address):
        host, port = address
        found.append(f"something still answers on {host}:{port}")
    return found
