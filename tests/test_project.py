"""ephemera.project: where things live, and the one listing of the environment files,
read once per Project (so once per command, however many environments it loads)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ephemera import config
from ephemera.project import Project
from tests.conftest import REPO_ROOT


def _project(tmp_path: Path) -> Project:
    (tmp_path / "environments").mkdir()
    (tmp_path / "terraform").mkdir()
    (tmp_path / "environments" / "_defaults.yaml").write_text("ttl: 8h\n")
    for name in ("b-env", "a-env"):
        (tmp_path / "environments" / f"{name}.yaml").write_text(f"name: {name}\n")
    return Project.discover(root=tmp_path, home=tmp_path / ".ephemera")


def test_the_environment_files_are_listed_sorted_without_defaults(tmp_path: Path) -> None:
    assert _project(tmp_path).known_environments() == ["a-env", "b-env"]


def test_the_directory_is_read_once_per_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    reads = []
    glob = Path.glob
    monkeypatch.setattr(
        Path, "glob", lambda self, pattern: reads.append(pattern) or glob(self, pattern)
    )
    for _ in range(3):
        project.known_environments()
    assert reads == ["*.yaml"]
    (tmp_path / "environments" / "b-env.yaml").write_text("name: b-env\n# edited\n")
    assert project.known_environments() == ["a-env", "b-env"] and reads == ["*.yaml"]


def test_a_file_added_or_removed_later_is_seen(tmp_path: Path) -> None:
    """A long-lived process (`ephemera serve`) keeps one Project for its whole life."""
    project = _project(tmp_path)
    assert project.known_environments() == ["a-env", "b-env"]
    (tmp_path / "environments" / "c-env.yaml").write_text("name: c-env\n")
    assert project.known_environments() == ["a-env", "b-env", "c-env"]
    (tmp_path / "environments" / "a-env.yaml").unlink()
    assert project.known_environments() == ["b-env", "c-env"]


def test_callers_get_a_copy(tmp_path: Path) -> None:
    project = _project(tmp_path)
    project.known_environments().append("intruder")
    assert project.known_environments() == ["a-env", "b-env"]


def test_loading_every_environment_lists_the_directory_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What made ci-plan and ttl quadratic: each load re-read the directory."""
    root = tmp_path / "project"
    for part in ("terraform", "templates", "schemas", "expectations"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "environments").mkdir()
    (root / "environments" / "_defaults.yaml").write_text(
        (REPO_ROOT / "environments" / "_defaults.yaml").read_text()
    )
    for index in range(20):
        name = f"env-{index:02d}"
        (root / "environments" / f"{name}.yaml").write_text(
            f"name: {name}\nstack: local-mock-api\nowner: a@example.com\nvariables:\n"
            f"  port: {20000 + index}\n  expectations_file: expectations/local-demo.json\n"
        )
    project = Project(root=root, home=tmp_path / "home")
    listings = []
    glob = Path.glob
    monkeypatch.setattr(
        Path, "glob", lambda self, pattern: listings.append(pattern) or glob(self, pattern)
    )
    for name in project.known_environments():
        config.load_environment(project, name)
    assert listings.count("*.yaml") == 1
