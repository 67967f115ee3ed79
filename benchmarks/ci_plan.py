"""ci-plan with 1 of 1,000 environments changed, against planning that one alone and
against raw Terraform doing the same plan; then 20 of 1,000 changed, measured in full.

A fixture repository (tests/fixtures/ci/builder.py) with 1,000 environments on a
terraform_data stack (one local module), target aws (CI plans only aws environments)
with the S3 state backend and the DynamoDB lease table on a moto server on 127.0.0.1;
one environment file changes. Every run starts as CI does: a fresh `.ephemera/` (no
work directories, so every plan inits; no policy cache, so checkov scans every plan;
no cache of validated documents or parsed variables), the resident checker loaded.
In interleaved rounds, through the CLI:

- ci-plan: `ephemera ci-plan --base <rev>`: change detection over both revisions,
  then init + plan + show of the affected environment, the gate, the comment;
- plan alone: `ephemera plan <env>`: validate, render, init, plan, show, the gate;
- raw Terraform: `terraform init`, `plan -out`, `show -json` of that environment's
  rendered inputs, by the same embedded Terraform (a shell loop over the changed ones).

Goal: ci-plan <= 2 x plan alone. With 20 changed, ci-plan and the raw loop over the 20
are measured (fewer rounds), not extrapolated.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
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
from benchmarks.motoserver import Moto, moto_server
from ephemera.leases.dynamodb import create_tables
from ephemera.project import Project
from tests.fixtures.ci.builder import (
    FIXTURE_STACK,
    LEASE_TABLE,
    STATE_BUCKET,
    FixtureRepo,
    make_repo,
)

COUNT = 1000
MANY = 20
ROUNDS = 5
MANY_ROUNDS = 2
GOAL = 2.0
JOBS = 2


def _edit(repo: FixtureRepo, name: str, old: str, new: str) -> None:
    relative = repo.env_file(name)
    text = repo.read(relative)
    assert old in text, (name, old)
    repo.write(relative, text.replace(old, new, 1))


def run() -> Iterator[str]:
    compile_bytecode()
    with moto_server() as moto:
        yield from _run(moto)


def _run(moto: Moto) -> Iterator[str]:
    moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
    create_tables(moto.client("dynamodb"), LEASE_TABLE)
    root = Path(tempfile.mkdtemp(prefix="ephemera-bench-ci-")) / "repo"
    repo = make_repo(root, svc=COUNT, api=0, policies=True, aws=True)
    project = Project.discover(root=repo.root)
    env = bench_env(EPHEMERA_ROOT=str(repo.root), **moto.env())
    names = repo.names
    try:
        base = repo.git("rev-parse", "HEAD")
        _edit(repo, names[0], "replicas: 1", "replicas: 2")
        one = repo.commit("one environment changed")
        fresh = _fresh(project)
        cli("plan", names[0], env=env)()  # renders its inputs for the raw loop; loads checkov
        _check_planned(cli("ci-plan", "--base", base, env=env, cwd=root)(), names[:1])
        arms = {
            "ci-plan": fresh(
                cli("ci-plan", "--base", base, "--jobs", str(JOBS), env=env, cwd=root)
            ),
            "plan alone": fresh(cli("plan", names[0], env=env)),
            "raw": fresh(_raw_loop(project, env, names[:1])),
        }
        times = interleaved(ROUNDS, arms)
        ratio = paired(times["ci-plan"], times["plan alone"])
        raw = paired(times["ci-plan"], times["raw"])
        yield f"{COUNT} aws environments (S3 state on moto), 1 changed; fresh .ephemera/ each run"
        yield f"ci-plan, 1 of {COUNT} changed:  {times['ci-plan'].text()}"
        yield f"plan of that one alone:     {times['plan alone'].text()}"
        yield f"raw terraform init+plan+show of it: {times['raw'].text()}"
        yield goal(
            f"ci-plan (1 of {COUNT}) / plan alone",
            ratio.median,
            GOAL,
            f"paired rounds {min(ratio.values):.2f}–{max(ratio.values):.2f}",
        )
        yield f"ci-plan / raw terraform: {raw.text('x')} (no goal)"
        yield from _many(repo, project, env, one, names[1 : MANY + 1], fresh)
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def _many(
    repo: FixtureRepo,
    project: Project,
    env: dict,
    base: str,
    changed: list[str],
    fresh: Callable[[Callable[[], object]], Callable[[], object]],
) -> Iterator[str]:
    for name in changed:
        _edit(repo, name, "ttl: 4h", "ttl: 3h")
    repo.commit(f"{len(changed)} environments changed")
    ci = cli("ci-plan", "--base", base, "--jobs", str(JOBS), env=env, cwd=repo.root)
    _check_planned(ci(), changed)  # and renders their inputs for the raw loop
    arms = {"ci-plan": fresh(ci), "raw": fresh(_raw_loop(project, env, changed))}
    times = interleaved(MANY_ROUNDS, arms)
    ratio = paired(times["ci-plan"], times["raw"])
    yield f"ci-plan, {len(changed)} of {COUNT} changed ({JOBS} jobs): {times['ci-plan'].text()}"
    yield f"raw terraform loop over the {len(changed)} (one at a time): {times['raw'].text()}"
    yield f"ci-plan / raw loop: {ratio.text('x')} (no goal; measured, not extrapolated)"


def _check_planned(output: str, names: list[str]) -> None:
    """ci-plan planned every one of `names` (a figure of a ci-plan that planned nothing
    would flatter it)."""
    missing = [name for name in names if f"==> {name}: terraform plan" not in output]
    if missing:
        raise RuntimeError(f"ci-plan did not plan {missing}:\n{output[-3000:]}")


def _fresh(project: Project) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Wrap an arm so that it starts as CI does: no `.ephemera/` (the resident checker's
    socket is elsewhere, in the user's runtime directory)."""

    def wrap(arm: Callable[[], object]) -> Callable[[], object]:
        def fresh_arm() -> object:
            shutil.rmtree(project.home, ignore_errors=True)
            return arm()

        return fresh_arm

    return wrap


def _raw_loop(project: Project, env: dict, names: list[str]) -> Callable[[], None]:
    """init, plan -out and show -json of each environment's inputs, one after another,
    on copies of the rendered inputs (taken now: the runs empty the work dirs)."""
    keep = Path(tempfile.mkdtemp(prefix="ephemera-bench-raw-"))
    jobs = []
    for name in names:
        work = project.work_dir(name)
        copy = keep / name
        shutil.copytree(work, copy, ignore=shutil.ignore_patterns("tfdata", "*.bin", "*.json"))
        child, terraform_env = raw_terraform(project, name, env)
        terraform_env["TF_DATA_DIR"] = str(copy / "raw-tfdata")
        jobs.append((copy, terraform_env))

    def loop() -> None:
        for copy, terraform_env in jobs:
            shutil.rmtree(copy / "raw-tfdata", ignore_errors=True)
            cwd = copy / "tf" / "stacks" / FIXTURE_STACK
            backend = f"-backend-config={copy / 'backend.hcl'}"
            plan = copy / "raw.plan"
            command([*child, "init", "-input=false", "-no-color", backend], terraform_env, cwd)
            tfvars = f"-var-file={copy / 'terraform.tfvars'}"
            command([*child, "plan", "-input=false", f"-out={plan}", tfvars], terraform_env, cwd)
            command([*child, "show", "-json", str(plan)], terraform_env, cwd)

    return loop
