"""A throw-away Ephemera project in tmp_path, driven through the real CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, free_port

INVOKE = str(Path(sys.executable).parent / "invoke")


@dataclass
class Cli:
    root: Path
    home: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        variables = {
            **os.environ,
            "EPHEMERA_ROOT": str(self.root),
            "EPHEMERA_HOME": str(self.home),
            "EPHEMERA_ACTOR": "tester",
        }
        variables.pop("AUTO_APPROVE", None)
        variables.update(self.extra_env)
        variables.update(extra)
        return variables

    def invoke(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [INVOKE, "--search-root", str(REPO_ROOT), *args],
            cwd=self.root,
            env=self.env(**extra),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=240,
        )

    def write_env(self, name: str, text: str) -> Path:
        path = self.root / "environments" / f"{name}.yaml"
        path.write_text(text)
        return path


def make_project(root: Path) -> Cli:
    """Copy the parts of the repo a project needs; environments start with _defaults only."""
    for part in ("terraform", "templates", "schemas", "expectations", "policies"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "environments").mkdir()
    shutil.copy(REPO_ROOT / "environments" / "_defaults.yaml", root / "environments")
    return Cli(root=root, home=root / ".ephemera")


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return make_project(tmp_path / "project")


def demo_env(port: int, name: str = "local-demo", **overrides: str) -> str:
    variables = {"bind_address": "127.0.0.1", "port": str(port)}
    variables.update(overrides)
    lines = "".join(f"  {k}: {v}\n" for k, v in variables.items())
    return (
        f"name: {name}\nstack: local-mock-api\ntarget: local\nowner: demo@example.com\n"
        f"ttl: 8h\nvariables:\n{lines}  expectations_file: expectations/local-demo.json\n"
    )


@pytest.fixture
def port() -> int:
    return free_port()
