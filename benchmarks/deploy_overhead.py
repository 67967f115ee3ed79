"""Wall time of `deploy` of local-demo against raw terraform init+plan+apply of the same inputs.

Both start from an empty state and finish with the mock API running; each run is
destroyed before the next. The ratio is Ephemera's overhead (validation,
rendering, leases, run records, plan.json) on top of Terraform itself.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.project import free_port, scratch_project
from ephemera import lifecycle
from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from ephemera.terraform import Terraform

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
    deploy_times, raw_times = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        lifecycle.deploy(ctx, "local-demo")
        deploy_times.append(time.perf_counter() - started)
        lifecycle.destroy(ctx, "local-demo")
        raw_times.append(_raw_terraform(project))
    deploy, raw = statistics.median(deploy_times), statistics.median(raw_times)
    yield f"ephemera deploy:              {deploy:6.2f} s (median of {ROUNDS})"
    yield f"raw terraform init+plan+apply: {raw:6.2f} s (median of {ROUNDS})"
    yield f"ratio deploy / raw:           {deploy / raw:6.2f}x"


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
