"""Run every benchmark (or those named on the command line) and print their figures."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = [
    "deploy_overhead",
    "validate_render",
    "sweep",
    "ci_plan",
    "policy_batch",
    "mockapi_throughput",
]


def main(names: list[str]) -> int:
    for name in names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}: {module.__doc__.strip().splitlines()[0]}", flush=True)
        started = time.perf_counter()
        for line in module.run():
            print(f"   {line}", flush=True)
        print(f"   (took {time.perf_counter() - started:.1f}s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
