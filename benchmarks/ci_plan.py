"""ci-plan with 1 of 200 environments changed, against planning it alone and planning all 200.

A fixture repository with 200 environments on a terraform_data stack (one
local module). One environment changes. Measured, with real Terraform and, when
.venv-checkov exists, real checkov:

- ci-plan: change detection (validate + render all 200 at both revisions),
  then init + plan + show of the affected one, the policy gate, the cost and
  the comment;
- planning that environment alone: `lifecycle.plan` (validate, render, init,
  plan, policy gate and cost), what `make plan ENV=<name>` does;
- planning all 200, what CI would do without change detection. On 2 cores that
  takes minutes, so a sample of 10 environments is planned through ci-plan and
  the per-environment cost is extrapolated to 200 (said so in the output);
  EPHEMERA_BENCH_FULL=1 plans all 200 instead.

Every run starts from empty work directories (no warm Terraform data dirs).
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ephemera import ci, lifecycle
from ephemera.ci import changes
from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from tests.fixtures.ci.builder import FixtureRepo, make_repo

COUNT = 200
SAMPLE = 10
ROUNDS = 3
JOBS = 2
CHECKOV = Path(__file__).resolve().parent.parent / ".venv-checkov" / "bin" / "checkov"


def quiet(_: str) -> None:
    pass


def _edit(repo: FixtureRepo, name: str, old: str, new: str) -> None:
    relative = repo.env_file(name)
    text = repo.read(relative)
    assert old in text, (name, old)
    repo.write(relative, text.replace(old, new, 1))


def _fresh(project: Project) -> None:
    """Forget every rendered work directory (and its Terraform data dir)."""
    shutil.rmtree(project.home / "work", ignore_errors=True)


def _timed(action: Callable[[], object], project: Project, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        _fresh(project)
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _ci_plan(repo: FixtureRepo, base: str) -> Callable[[], object]:
    def run() -> int:
        return ci.ci_plan(repo.root, base, "HEAD", JOBS, None, emit=quiet)

    return run


def run() -> Iterator[str]:
    if CHECKOV.is_file():
        os.environ.setdefault("EPHEMERA_CHECKOV", str(CHECKOV))
        gate = "real checkov"
    else:
        gate = "checkov missing: the gate reports an error"
    os.environ.pop("EPHEMERA_HOME", None)
    root = Path(tempfile.mkdtemp(prefix="ephemera-bench-ci-")) / "repo"
    repo = make_repo(root, svc=COUNT, api=0, policies=True)
    names = repo.names
    project = Project.discover(root=repo.root)
    store = SqliteLeaseStore(project.leases_db)
    ctx = lifecycle.Context(project=project, store=store, echo=quiet)

    # One environment changed.
    base = repo.git("rev-parse", "HEAD")
    _edit(repo, names[0], "replicas: 1", "replicas: 2")
    one = repo.commit("one environment changed")
    started = time.perf_counter()
    affected = changes.affected_environments(repo.root, base, one)
    detect = time.perf_counter() - started
    assert [c.env for c in affected] == [names[0]], affected
    ci_one = _timed(_ci_plan(repo, base), project, ROUNDS)
    alone = _timed(lambda: lifecycle.plan(ctx, names[0]), project, ROUNDS)

    # Many environments changed: all of them, or a sample to extrapolate from.
    full = os.environ.get("EPHEMERA_BENCH_FULL") == "1"
    count = COUNT if full else SAMPLE
    for name in names[1 : count + 1] if not full else names:
        _edit(repo, name, "ttl: 4h", "ttl: 3h")
    repo.commit(f"{count} environments changed")
    ci_many = _timed(_ci_plan(repo, one), project, 1)
    if full:
        all_plans = ci_many
        how = f"measured: all {COUNT} planned"
    else:
        all_plans = detect + (ci_many - detect) * COUNT / count
        how = (
            f"extrapolated: {count} of {COUNT} planned in {ci_many:.1f} s, the part beyond "
            f"change detection scaled x{COUNT // count} (EPHEMERA_BENCH_FULL=1 measures all)"
        )
    shutil.rmtree(root.parent, ignore_errors=True)

    yield f"{COUNT} environments, 1 changed; {JOBS} parallel plans; policy gate: {gate}"
    yield f"change detection (render {COUNT} x 2 revisions): {detect:7.2f} s"
    yield f"ci-plan, 1 of {COUNT} changed:                {ci_one:7.2f} s (median of {ROUNDS})"
    yield f"plan of that environment alone:          {alone:7.2f} s (median of {ROUNDS})"
    yield f"planning all {COUNT}:                       {all_plans:7.2f} s ({how})"
    yield f"ratio ci-plan / plan alone:              {ci_one / alone:7.2f}x"
    yield f"ratio ci-plan / planning all {COUNT}:       {ci_one / all_plans:7.3f}x"
