"""What every lifecycle operation needs (project, lease store, clock, where progress
goes, who hears its events), and the Terraform runner of an environment: one per
environment and context, whose embedded Terraform child is resident (loaded once for
all the commands of an operation, started when the runner is first asked for)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ephemera.durations import Clock, system_clock
from ephemera.leases import LeaseStore
from ephemera.project import Project
from ephemera.terraform.runner import Echo, Terraform, echo_stdout, for_environment

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
    runners: dict[str, Terraform] = field(default_factory=dict, repr=False, compare=False)

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
    """The environment's runner in this context (created and started on first use)."""
    runner = ctx.runners.get(env_name)
    if runner is None:
        runner = for_environment(ctx.project, env_name, ctx.echo).start()
        ctx.runners[env_name] = runner
    return runner


def close_terraform(ctx: Context, env_name: str) -> None:
    """End the environment's resident Terraform child, if it has one."""
    runner = ctx.runners.pop(env_name, None)
    if runner is not None:
        runner.close()
