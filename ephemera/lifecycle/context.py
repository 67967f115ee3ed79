"""What every lifecycle operation needs (project, lease store, clock, where progress
goes, who hears its events), and the Terraform runner of an environment."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ephemera.durations import Clock, system_clock
from ephemera.leases import LeaseStore
from ephemera.project import Project
from ephemera.terraform.runner import Echo, Terraform, echo_stdout

# A lifecycle event: ("phase", {"phase": "init"}), ("counts", {"added": 1, …}),
# ("gate", {"ok": True, …}). The provisioning API follows a run through them.
Events = Callable[[str, dict[str, Any]], None]
PHASES = ("validate", "init", "plan", "gate", "apply", "destroy")


def no_events(kind: str, data: dict[str, Any]) -> None:
    """The default: nobody listens."""


@dataclass
class Context:
    """What every lifecycle operation needs; tests pass their own clock and echo.

    `run_id`: the id the operation's run record takes, when a caller chose it first
    (the provisioning API hands it out before the run starts); else a new one."""

    project: Project
    store: LeaseStore
    clock: Clock = system_clock
    echo: Echo = echo_stdout
    events: Events = no_events
    run_id: str | None = None

    def say(self, text: str) -> None:
        self.echo(text + "\n")

    def phase(self, name: str) -> None:
        assert name in PHASES, name
        self.events("phase", {"phase": name})

    @contextmanager
    def step(self, env: str, title: str, phase: str | None = None) -> Iterator[None]:
        """`==> env: title`, then how long it took: a long step (init, checkov's start,
        an apply) says what it is doing and when it is done. `phase`: the lifecycle
        phase it starts, told to `events`."""
        if phase is not None:
            self.phase(phase)
        self.say(f"==> {env}: {title}")
        started = time.monotonic()
        yield
        self.say(f"    {title}: done in {time.monotonic() - started:.1f} s")


def terraform_for(ctx: Context, env_name: str) -> Terraform:
    work_dir = ctx.project.work_dir(env_name)
    return Terraform(
        data_dir=work_dir / "tfdata",
        plugin_cache=ctx.project.plugin_cache,
        extra_env={"EPHEMERA_PYTHON": sys.executable},
        echo=ctx.echo,
    )
