"""Fixtures of the CI tests: no inherited Ephemera settings; a fixture repository
(svc-NN target aws, api-NN target local)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.ci.builder import FixtureRepo, make_repo


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "EPHEMERA_HOME",
        "EPHEMERA_ROOT",
        "GITHUB_ACTIONS",
        "AUTO_APPROVE",
        "EPHEMERA_PLAN_KEY",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_OUTPUT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> FixtureRepo:
    return make_repo(tmp_path / "repo", svc=6, api=6, aws=True)
