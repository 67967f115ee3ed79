"""Reading the GitHub Actions workflows and running their own commands locally.

`run_step` runs a step's `run:` script as the runner would (bash -eo pipefail, in the
checkout), its `env:` with each `${{ … }}` replaced from the values the test gives
(a missing one is an error: nothing is guessed), and $GITHUB_OUTPUT and
$GITHUB_STEP_SUMMARY as files. `guard` evaluates the job- and step-level conditions
this project's workflows use on the repository variables (`vars.X == ''`,
`vars.X != ''`), refusing any other form.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO_ROOT

WORKFLOWS_DIR = REPO_ROOT / ".github" / "workflows"
EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
VARS_CONDITION = re.compile(r"^vars\.([A-Z_]+) (==|!=) ''$")


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS_DIR / name).read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def step(workflow: str, job: str, name: str) -> dict[str, Any]:
    found = [s for s in load(workflow)["jobs"][job]["steps"] if s.get("name") == name]
    assert len(found) == 1, f"{workflow}: job {job}: no one step named {name!r}"
    return found[0]


def guard(condition: str | None, variables: dict[str, str]) -> bool:
    """Whether a job or step with `if: condition` runs, given the repository variables."""
    if condition is None:
        return True
    match = VARS_CONDITION.match(condition.strip())
    assert match, f"not a repository-variable guard: {condition!r}"
    name, operator = match.groups()
    empty = variables.get(name, "") == ""
    return empty if operator == "==" else not empty


@dataclass
class StepRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str


def run_step(
    workflow: str, job: str, name: str, cwd: Path, values: dict[str, str], tmp: Path
) -> StepRun:
    """Run the step's script in `cwd`; `values`: expression → its value this time."""
    found = step(workflow, job, name)
    env = {}
    for key, text in (found.get("env") or {}).items():
        env[key] = EXPRESSION.sub(lambda m: values[m.group(1)], str(text))
    output, summary = tmp / f"{job}-{name}.output", tmp / f"{job}-{name}.summary"
    output.write_text("")
    summary.write_text("")
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", found["run"]],
        cwd=cwd,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "EPHEMERA_"))},
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            **{k: v for k, v in values.items() if k.isupper()},  # e.g. GITHUB_SHA
            **env,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return StepRun(done.returncode, done.stdout, done.stderr, outputs, summary.read_text())
