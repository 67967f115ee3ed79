"""The janitor's warning horizon (how far ahead the sweep asks the store for leases to
warn): the longest rung of any environment, read from the merged files without a
validation per file, so that a sweep over 1,000 environment files stays cheap."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ephemera import config
from ephemera.config import documents, horizon
from ephemera.project import Project


def write(root: Path, name: str, text: str) -> None:
    (root / "environments" / f"{name}.yaml").write_text(text)


def test_the_horizon_is_the_longest_rung_of_any_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "environments").mkdir()
    (tmp_path / "terraform").mkdir()
    write(tmp_path, "_defaults", "warnings: [24h, 2h]\n")
    write(tmp_path, "plain", "name: plain\n")
    write(tmp_path, "early", "name: early\nwarnings: [72h, 1h]\n")
    write(tmp_path, "broken", "name: broken\nowner: 12\nwarnings: [4d]\n")  # invalid, readable
    write(tmp_path, "garbled", "name: [unclosed\n")
    write(tmp_path, "odd", "name: odd\nwarnings: [soon]\n")

    def never(*_: object, **__: object) -> None:
        raise AssertionError("validated a whole environment for its warnings")

    monkeypatch.setattr(config, "load_environment", never)
    project = Project(root=tmp_path, home=tmp_path / ".ephemera")
    assert horizon.warning_horizon(project) == timedelta(days=4)


def test_without_environments_the_default_ladder(tmp_path: Path) -> None:
    (tmp_path / "environments").mkdir()
    project = Project(root=tmp_path, home=tmp_path / ".ephemera")
    assert horizon.warning_horizon(project) == timedelta(hours=24)


def test_only_the_files_that_say_warnings_are_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "environments").mkdir()
    write(tmp_path, "_defaults", "warnings: [48h]\n")
    write(tmp_path, "plain", "name: plain\n")
    write(tmp_path, "own", "name: own\nwarnings: [12h]\n")
    write(tmp_path, "escaped", 'name: escaped\n"warn\\x69ngs": [3d]\n')  # spells it by escape
    parsed = []
    original = documents.merged_document
    monkeypatch.setattr(
        documents, "merged_document", lambda p, name: parsed.append(name) or original(p, name)
    )
    project = Project(root=tmp_path, home=tmp_path / ".ephemera")
    assert horizon.warning_horizon(project) == timedelta(days=3)
    assert sorted(parsed) == ["escaped", "own"]
