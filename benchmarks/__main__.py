"""Run every benchmark (or those named on the command line): each figure beside its
baseline and its goal, then the machine they came from and every goal, met or not."""

from __future__ import annotations

import importlib
import sys
import time

from benchmarks.measure import GOALS, machine

BENCHMARKS = [
    "deploy_overhead",
    "plan_gate",
    "ci_plan",
    "sweep",
    "status",
    "policy_batch",
    "validate_render",
    "mockapi_throughput",
]


def main(names: list[str]) -> int:
    print(f"machine: {machine()}\n", flush=True)
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}: {module.__doc__.strip().splitlines()[0]}", flush=True)
        started = time.perf_counter()
        for line in module.run():
            print(f"   {line}", flush=True)
        print(f"   (took {time.perf_counter() - started:.1f}s)\n", flush=True)
    print(f"goals ({machine()}):")
    for line in GOALS:
        print(f"   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
