"""What every lifecycle operation needs (project, lease store, clock, where progress
goes), and the Terraform runner of an environment: one per environment and context,
whose embedded Terraform child is resident (loaded once for all the commands of an
operation, started when the runner is first asked for)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ephemera.durations import Clock, system_clock
from ephemera.leases import LeaseStore
from ephemera.project import Project
from ephemera.terraform.runner import Echo, Terraform, echo_stdout, for_environment


@dataclass
class Context:
    """What every lifecycle operation needs; tests pass their own clock and echo."""

    project: Project
    store: LeaseStore
    clock: Clock = system_clock
    echo: Echo = echo_stdout
    runners: dict[str, Terraform] = field(default_factory=dict, repr=False, compare=False)

    def say(self, text: str) -> None:
        self.echo(text + "\n")

    @contextmanager
    def step(self, env: str, title: str) -> Iterator[None]:
        """`==> env: title`, then how long it took: a long step (init, checkov's start,
        an apply) says what it is doing and when it is done."""
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
