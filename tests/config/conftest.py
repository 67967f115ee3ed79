"""Fixtures of the config tests: a throw-away project with the repository's stacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ephemera.project import Project
from tests.conftest import REPO_ROOT


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """terraform/, templates/, schemas/ and expectations/ of this checkout, no
    environment but _defaults.yaml (with an aws control plane named)."""
    root = tmp_path / "project"
    for part in ("terraform", "templates", "schemas", "expectations"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "environments").mkdir()
    defaults = (REPO_ROOT / "environments" / "_defaults.yaml").read_text()
    (root / "environments" / "_defaults.yaml").write_text(
        defaults + "aws:\n  state_bucket: my-state\n  lease_table: my-leases\n"
    )
    return Project(root=root, home=root / ".ephemera")
