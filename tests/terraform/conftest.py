"""Fixtures of the Terraform tree checks: one checkov scan of terraform/ per session, and
one of a copy with every skip disabled.

Both scans are `static.static_reports`, the scan `invoke policy-scan` reads: the same
checkov, offline environment and custom checks (`--external-checks-dir policies`), so
these tests and the CLI cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ephemera.errors import EphemeraError
from ephemera.gate import policy, static
from ephemera.project import Project
from tests.support import tfstatic

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TERRAFORM = REPO_ROOT / "terraform"


@pytest.fixture(scope="session")
def tf_plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin cache for `terraform fmt` (which downloads nothing)."""
    return tmp_path_factory.mktemp("terraform") / "plugin-cache"


@pytest.fixture(scope="session")
def scan_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The repository as the project whose policies/ the scans use; skip without checkov."""
    project = Project(root=REPO_ROOT, home=tmp_path_factory.mktemp("tf-scan-home"))
    try:
        policy.checkov_path(project)
    except EphemeraError as exc:
        pytest.skip(f"{exc} (make setup)")
    return project


@pytest.fixture(scope="session")
def checkov_reports(scan_project: Project) -> list[dict[str, Any]]:
    """checkov's reports for the whole terraform/ tree: scanned once (it takes seconds)."""
    return static.static_reports(scan_project, TERRAFORM)


@pytest.fixture(scope="session")
def checkov_reports_without_skips(
    scan_project: Project, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """checkov's reports for a copy of terraform/ with every checkov:skip disabled."""
    copy = tfstatic.disable_skips(TERRAFORM, tmp_path_factory.mktemp("no-skips") / "terraform")
    return static.static_reports(scan_project, copy)
