"""Fixtures of the Terraform tree checks: one checkov scan of terraform/ per session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ephemera import tfstatic

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TERRAFORM = REPO_ROOT / "terraform"


@pytest.fixture(scope="session")
def tf_plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugin cache for `terraform fmt` (which downloads nothing)."""
    return tmp_path_factory.mktemp("terraform") / "plugin-cache"


@pytest.fixture(scope="session")
def checkov_reports() -> list[dict[str, Any]]:
    """checkov's reports for the whole terraform/ tree: scanned once (it takes seconds)."""
    checkov = tfstatic.checkov_binary(REPO_ROOT)
    if not checkov.exists():
        pytest.skip(f"{checkov} is not installed (make setup)")
    return tfstatic.run_checkov(TERRAFORM, checkov)


@pytest.fixture(scope="session")
def checkov_reports_without_skips(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[dict[str, Any]]:
    """checkov's reports for a copy of terraform/ with every checkov:skip disabled."""
    checkov = tfstatic.checkov_binary(REPO_ROOT)
    if not checkov.exists():
        pytest.skip(f"{checkov} is not installed (make setup)")
    copy = tfstatic.disable_skips(TERRAFORM, tmp_path_factory.mktemp("no-skips") / "terraform")
    return tfstatic.run_checkov(copy, checkov)
