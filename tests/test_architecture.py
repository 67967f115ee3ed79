"""The layout rules of docs/architecture.md: the import contracts of pyproject.toml
(import-linter) hold, and would catch a circle; few modules at the top of ephemera/,
none too long; the janitor Lambda's zip is the janitor/ + leases/ closure."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from ephemera.janitor.package import build_package
from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "ephemera"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_TOP_LEVEL_MODULES = 12
MAX_MODULE_LINES = 450
# ephemera modules outside janitor/ and leases/ that the Lambda may carry
LAMBDA_SHARED = {"ephemera/__init__.py", "ephemera/errors.py", "ephemera/durations.py"}


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` on the package under `root`, with that tree's pyproject.toml."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def verdicts(output: str) -> dict[str, str]:
    """Contract id → KEPT or BROKEN, from lint-imports' report."""
    text = " ".join(output.split())
    contracts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    found = {}
    for contract in contracts["contracts"]:
        match = re.search(re.escape(" ".join(contract["name"].split())) + r" (KEPT|BROKEN)", text)
        assert match, contract["name"]
        found[contract["id"]] = match.group(1)
    return found


def copy_of_the_package(tmp_path: Path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(PACKAGE, root / "ephemera", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_import_contracts_hold() -> None:
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(verdicts(result.stdout).values()) == {"KEPT"}


def test_a_circle_breaks_the_contract(tmp_path: Path) -> None:
    root = copy_of_the_package(tmp_path)
    cost = root / "ephemera" / "gate" / "cost.py"
    # evaluate imports cost; this import, hidden in a function, closes the circle
    cost.write_text(
        cost.read_text() + "\n\ndef _circle():\n    from ephemera.gate import evaluate\n"
    )
    result = lint_imports(root)
    assert result.returncode == 1
    assert verdicts(result.stdout) == {
        "layers": "KEPT",
        "no-circles": "BROKEN",
        "lambda-closure": "KEPT",
    }
    assert "No cycles are allowed in ephemera.gate." in result.stdout
    assert ".evaluate -> .cost" in result.stdout


def test_a_lower_layer_importing_a_higher_one_breaks_the_contract(tmp_path: Path) -> None:
    root = copy_of_the_package(tmp_path)
    sweep = root / "ephemera" / "janitor" / "sweep.py"
    sweep.write_text(sweep.read_text() + "\n\ndef _up():\n    from ephemera import lifecycle\n")
    result = lint_imports(root)
    assert result.returncode == 1
    assert verdicts(result.stdout) == {
        "layers": "BROKEN",
        "no-circles": "BROKEN",  # lifecycle imports the janitor: janitor ↔ lifecycle
        "lambda-closure": "BROKEN",
    }


def test_the_lambda_contract_forbids_every_dependency_but_boto3() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    contract = next(
        c for c in project["tool"]["importlinter"]["contracts"] if c["id"] == "lambda-closure"
    )
    modules = {"pyyaml": "yaml", "python-hcl2": "hcl2", "jsonpath-ng": "jsonpath_ng"}
    for requirement in project["project"]["dependencies"]:
        name = re.split(r"[<>=!~\[ ]", requirement, maxsplit=1)[0].lower()
        if name != "boto3":
            assert modules.get(name, name) in contract["forbidden_modules"], name


def test_few_modules_at_the_top_and_none_too_long() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, top
    long = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


@pytest.mark.integration
def test_the_lambda_zip_is_the_janitor_and_leases_closure(tmp_path: Path) -> None:
    names = zipfile.ZipFile(build_package(REPO_ROOT, tmp_path / "z.zip")).namelist()
    modules = {n for n in names if n != "handler.py"}
    outside = {n for n in modules if not n.startswith(("ephemera/janitor/", "ephemera/leases/"))}
    assert outside == LAMBDA_SHARED
    assert "ephemera/janitor/sweep.py" in modules and "ephemera/leases/dynamodb.py" in modules
