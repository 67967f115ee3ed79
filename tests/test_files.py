"""ephemera.files.code_digest: the code part of every disk cache's key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ephemera.files import code_digest


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "digested"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "grammar.lark").write_text("start: WORD\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code_digest.cache_clear()
    yield folder
    code_digest.cache_clear()
    sys.modules.pop("digested", None)


def test_any_file_of_a_package_counts(package: Path) -> None:
    first = code_digest("digested")
    (package / "grammar.lark").write_text("start: NUMBER\n")
    code_digest.cache_clear()
    assert code_digest("digested") != first
    assert "digested" not in sys.modules  # found, never imported


def test_a_missing_module_is_a_key_of_its_own(package: Path) -> None:
    assert code_digest("no_such_module_here") != code_digest("digested")
