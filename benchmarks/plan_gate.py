"""A plan whose policy gate must run checkov (cold) against one answered from the cache
(warm), through the CLI, and both against raw Terraform's plan + show.

The project holds local-demo, deployed once (untimed). In interleaved rounds:

- warm plan: `ephemera plan local-demo`, its plan's checkov results in the policy cache;
- cold plan: the same, the policy cache emptied first, so checkov scans the plan (the
  resident checker, loaded by an earlier run, answers it: what every cold plan after
  the first one pays);
- first cold plan: the same, with no checker running either (a fresh runtime
  directory): the checker starts with the run and loads checkov while Terraform plans;
- raw Terraform: `terraform plan -out` then `show -json` of the same inputs, by the
  same embedded Terraform, two processes.

Goal: cold <= 1.5 x warm + 0.3 s (median of the paired rounds), for the cold plan; the
first cold plan is printed against the same goal, which it does not meet: checkov
takes longer to load (~1.4 s) than a whole plan, so its start cannot hide behind one.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks.deploy_overhead import ENV, env_text
from benchmarks.measure import (
    Times,
    bench_env,
    cli,
    command,
    compile_bytecode,
    interleaved,
    paired,
    raw_terraform,
    record,
)
from benchmarks.project import free_port, scratch_project
from ephemera.project import Project

ROUNDS = 7
FIRST_ROUNDS = 3
FACTOR, SLACK = 1.5, 0.3


def run() -> Iterator[str]:
    compile_bytecode()
    root = scratch_project()
    (root / "environments" / f"{ENV}.yaml").write_text(env_text(free_port()))
    home = root / ".ephemera"
    env = bench_env(EPHEMERA_ROOT=str(root), EPHEMERA_HOME=str(home))
    plan = cli("plan", ENV, env=env)
    cache = home / "policy-cache"
    try:
        cli("deploy", ENV, env=env)()
        plan()

        def cold() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            plan()

        times = interleaved(ROUNDS, {"warm": plan, "cold": cold, "raw": _raw(root, home, env)})
        first = _first_cold(env, cache)
        yield f"warm plan (policy cache hit):             {times['warm'].text()}"
        yield f"cold plan (cache emptied, checker ready):  {times['cold'].text()}"
        yield f"first cold plan (no checker running yet):  {first[0].text()}"
        yield f"raw terraform plan -out + show -json:      {times['raw'].text()}"
        yield _goal("cold plan", times["cold"], times["warm"])
        yield _goal("first cold plan", first[0], first[1])
        ratio = paired(times["warm"], times["raw"])
        yield f"warm plan / raw plan + show: {ratio.text('x')} (no goal)"
    finally:
        cli("destroy", ENV, "--yes", env=env)()
        shutil.rmtree(root.parent, ignore_errors=True)


def _goal(label: str, cold: Times, warm: Times) -> str:
    """Per round, cold against 1.5 x warm + 0.3 s of the same round; the median margin."""
    limits = [FACTOR * w + SLACK for w in warm.values]
    margins = [limit - c for c, limit in zip(cold.values, limits, strict=True)]
    line = (
        f"{label}: {cold.median:.2f} s  goal <= {FACTOR} x warm + {SLACK} s "
        f"= {statistics.median(limits):.2f} s"
    )
    spread = f"margin per round {min(margins):+.2f}–{max(margins):+.2f} s"
    return record(line, statistics.median(margins) >= 0, spread)


def _first_cold(env: dict, cache: Path) -> tuple[Times, Times]:
    """Cold plans that each start their own checker (a runtime directory of their own;
    the checkers leave 5 s after their scan), paired with warm plans of the same rounds."""
    first, warm = Times(), Times()
    for _ in range(FIRST_ROUNDS):
        runtime = Path(tempfile.mkdtemp(prefix="ephemera-bench-run-"))
        runtime.chmod(0o700)
        alone = {**env, "XDG_RUNTIME_DIR": str(runtime), "EPHEMERA_CHECKOV_IDLE": "5"}
        shutil.rmtree(cache, ignore_errors=True)
        arms = {"first": cli("plan", ENV, env=alone), "warm": cli("plan", ENV, env=env)}
        pair = interleaved(1, arms)
        first.values += pair["first"].values
        warm.values += pair["warm"].values
    return first, warm


def _raw(root: Path, home: Path, env: dict):  # noqa: ANN202
    project = Project(root=root.resolve(), home=home.resolve())
    work = project.work_dir(ENV)
    child, terraform_env = raw_terraform(project, ENV, env)
    plan_file = work / "raw.plan"
    tfvars = work / "terraform.tfvars"
    cwd = work / "tf" / "stacks" / "local-mock-api"

    def raw() -> None:
        command(
            [
                *child,
                "plan",
                "-input=false",
                "-no-color",
                f"-out={plan_file}",
                f"-var-file={tfvars}",
            ],
            terraform_env,
            cwd,
        )
        command([*child, "show", "-json", str(plan_file)], terraform_env, cwd)

    return raw
