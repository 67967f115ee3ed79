"""The policy gate for 20 plans: one batched scan, against 20 scans one by one, against
one plan; every measurement with an empty policy cache, in interleaved rounds.

Each plan is a distinct copy of the mock-api plan fixture (its environment variable
changed), so no scan is answered from the cache; each round takes the plans in a new
order (shuffled with a fixed seed). The resident checker answers the scans (it is
loaded once, before the first round: what every scan after the first pays).
No goal: it shows what batching saves now that checkov's start is paid once.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.measure import interleaved, paired
from benchmarks.project import REPO_ROOT, scratch_project
from ephemera.gate import policy, policycache
from ephemera.project import Project

PLANS = 20
ROUNDS = 3
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "cost" / "mock-api.plan.json"


def _plans(directory: Path) -> dict[str, Path]:
    text = FIXTURE.read_text()
    plans = {}
    for index in range(PLANS):
        path = directory / f"env-{index:02d}.plan.json"
        plan = json.loads(text)
        plan["variables"]["environment"] = {"value": f"env-{index:02d}"}
        path.write_text(json.dumps(plan))
        plans[f"env-{index:02d}"] = path
    return plans


def _check(project: Project, plans: dict[str, Path]) -> None:
    shutil.rmtree(policycache.cache_dir(project), ignore_errors=True)
    results = policy.check_plans(project, plans, {})
    assert len(results) == len(plans) and not any(r.cached for r in results.values())


def run() -> Iterator[str]:
    root = scratch_project()
    project = Project.discover(root=root, home=root / ".ephemera")
    plans = _plans(Path(tempfile.mkdtemp()))
    order = random.Random(16)  # noqa: S311 - an order, not a secret
    names = list(plans)
    _check(project, dict(list(plans.items())[:1]))  # the checker loads, untimed

    def shuffled() -> list[str]:
        order.shuffle(names)
        return names

    def batch() -> None:
        _check(project, {name: plans[name] for name in shuffled()})

    def separately() -> None:
        for name in shuffled():
            _check(project, {name: plans[name]})

    def single() -> None:
        name = shuffled()[0]
        _check(project, {name: plans[name]})

    arms: dict[str, Callable[[], object]] = {"1": single, "batch": batch, "separate": separately}
    times = interleaved(ROUNDS, arms)
    yield f"1 plan:                  {times['1'].text()}"
    yield f"{PLANS} plans, one batch:    {times['batch'].text()}"
    yield f"{PLANS} plans, one by one:   {times['separate'].text()}"
    yield f"batch / 1 plan:          {paired(times['batch'], times['1']).text('x')} (no goal)"
    ratio = paired(times["separate"], times["batch"])
    yield f"one by one / batch:      {ratio.text('x')} (no goal)"
    shutil.rmtree(root.parent, ignore_errors=True)
