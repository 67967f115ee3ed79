"""What every lifecycle operation needs (project, lease store, clock, where progress
goes), and the Terraform runner of an environment."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ephemera.durations import Clock, system_clock
from ephemera.leases import LeaseStore
from ephemera.project import Project
from ephemera.terraform.runner import Echo, Terraform, echo_stdout


@dataclass
class Context:
    """What every lifecycle operation needs; tests pass their own clock and echo."""

    project: Project
    store: LeaseStore
    clock: Clock = system_clock
    echo: Echo = echo_stdout

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
    work_dir = ctx.project.work_dir(env_name)
    return Terraform(
        data_dir=work_dir / "tfdata",
        plugin_cache=ctx.project.plugin_cache,
        extra_env={"EPHEMERA_PYTHON": sys.executable},
        echo=ctx.echo,
    )
