"""The policy gate for 20 plans: one batched checkov run, against 20 runs and against 1 plan.

Each plan is a distinct copy of the mock-api plan fixture (its environment variable changed), so
no run is answered from the cache; every measurement starts with an empty cache.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from benchmarks.project import REPO_ROOT, scratch_project
from ephemera.gate import policy, policycache
from ephemera.project import Project

PLANS = 20
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


def _timed(project: Project, plans: dict[str, Path]) -> float:
    shutil.rmtree(policycache.cache_dir(project), ignore_errors=True)
    started = time.perf_counter()
    results = policy.check_plans(project, plans, {})
    assert len(results) == len(plans) and not any(r.cached for r in results.values())
    return time.perf_counter() - started


def run() -> Iterator[str]:
    root = scratch_project()
    project = Project.discover(root=root, home=root / ".ephemera")
    plans = _plans(Path(tempfile.mkdtemp()))
    batch = _timed(project, plans)
    separate = 0.0
    for name, path in plans.items():
        separate += _timed(project, {name: path})
    single = _timed(project, dict([next(iter(plans.items()))]))
    yield f"1 plan:                 {single:6.2f} s"
    yield f"{PLANS} plans, batched:     {batch:6.2f} s  ({batch / single:.2f}x one plan)"
    yield f"{PLANS} plans, separately:  {separate:6.2f} s  ({separate / batch:.2f}x the batch)"
