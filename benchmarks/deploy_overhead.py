"""Wall time of `deploy` of local-demo against raw terraform init+plan+apply of the same inputs.

Both start from an empty state and finish with the mock API running; each run is
destroyed before the next. The ratio is Ephemera's overhead (validation, rendering,
plan.json, the policy gate, leases, run records) on top of Terraform itself: with the
policy cache cold (checkov runs) and warm (the same inputs were checked before).
"""

from __future__ import annotations

import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.project import free_port, scratch_project
from ephemera import lifecycle
from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from ephemera.terraform.runner import Terraform

ROUNDS = 3


def quiet(_: str) -> None:
    pass


def _env_text(port: int) -> str:
    return (
        "name: local-demo\nstack: local-mock-api\ntarget: local\nowner: bench@example.com\n"
        f"ttl: 1h\nvariables:\n  port: {port}\n  expectations_file: expectations/local-demo.json\n"
    )


def run() -> Iterator[str]:
    root = scratch_project()
    (root / "environments" / "local-demo.yaml").write_text(_env_text(free_port()))
    project = Project.discover(root=root, home=root / ".ephemera")
    ctx = lifecycle.Context(project=project, store=SqliteLeaseStore(project.leases_db), echo=quiet)
    cold, warm, raw_times = [], [], []
    for _ in range(ROUNDS):
        shutil.rmtree(project.home / "policy-cache", ignore_errors=True)
        cold.append(_timed_deploy(ctx))
        warm.append(_timed_deploy(ctx))  # same inputs again: checkov answered from cache
        raw_times.append(_raw_terraform(project))
    raw = statistics.median(raw_times)
    for label, times in (("policy cache cold", cold), ("policy cache warm", warm)):
        deploy = statistics.median(times)
        yield f"ephemera deploy, {label}: {deploy:6.2f} s, ratio to raw {deploy / raw:5.2f}x"
    yield f"raw terraform init+plan+apply:   {raw:6.2f} s (medians of {ROUNDS})"


def _timed_deploy(ctx: lifecycle.Context) -> float:
    """One deploy from an empty state (then an untimed destroy)."""
    started = time.perf_counter()
    lifecycle.deploy(ctx, "local-demo")
    elapsed = time.perf_counter() - started
    lifecycle.destroy(ctx, "local-demo")
    return elapsed


def _raw_terraform(project: Project) -> float:
    """init + plan + apply on the rendered inputs, then an untimed destroy."""
    work = project.work_dir("local-demo")
    root_dir = work / "tf" / "stacks" / "local-mock-api"
    terraform = Terraform(
        data_dir=Path(work / "raw-tfdata"),
        plugin_cache=project.plugin_cache,
        extra_env={"EPHEMERA_PYTHON": sys.executable},
    )
    tfvars = f"-var-file={work / 'terraform.tfvars'}"
    backend = f"-backend-config=path={work / 'raw.tfstate'}"
    started = time.perf_counter()
    terraform.run(["init", "-input=false", backend], cwd=root_dir, quiet=True)
    terraform.run(
        ["plan", "-input=false", f"-out={work / 'raw.plan'}", tfvars], cwd=root_dir, quiet=True
    )
    terraform.run(["apply", "-input=false", str(work / "raw.plan")], cwd=root_dir, quiet=True)
    elapsed = time.perf_counter() - started
    terraform.run(["destroy", "-input=false", "-auto-approve", tfvars], cwd=root_dir, quiet=True)
    return elapsed
