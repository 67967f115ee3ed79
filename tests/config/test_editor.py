"""What an editor shows for environment files, with the real yaml-language-server (through
the schema modeline, as VS Code's YAML extension does): the committed schemas flag a
missing owner and max_ttl in an environment file, offer the stack's instance sizes, and
take a nullable variable's null."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.support.yamlls import Editor

pytestmark = pytest.mark.integration
MODELINE = "# yaml-language-server: $schema=../schemas/environment.schema.json\n"
AWS_ENV = (
    MODELINE + "name: {name}\nstack: mock-api\ntarget: aws\nowner: a@example.com\n"
    "region: eu-west-1\nvariables:\n  expectations_file: expectations/test-api.json\n"
)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / "environments").mkdir()
    return tmp_path


def write(workspace: Path, name: str, text: str) -> Path:
    path = workspace / "environments" / f"{name}.yaml"
    path.write_text(text.format(name=name))
    return path


def messages(diagnostics) -> list[tuple[int, str]]:
    return sorted((d.range.start.line, d.message) for d in diagnostics)


def test_what_the_editor_flags_and_offers(workspace: Path) -> None:
    files = {
        "shipped": REPO_ROOT / "environments" / "local-demo.yaml",
        "no-owner": write(workspace, "no-owner", AWS_ENV.replace("owner: a@example.com\n", "")),
        "max-ttl": write(workspace, "max-ttl", AWS_ENV + "max_ttl: 30d\n"),
        "nullable": write(workspace, "nullable", AWS_ENV + "  domain_name: null\n"),
        "sizes": write(workspace, "sizes", AWS_ENV + "  instance_size: \n"),
        "bad-ttl": write(workspace, "bad-ttl", AWS_ENV + "ttl: 8 hours\n"),
    }
    shutil.copy(files["shipped"], workspace / "environments" / "local-demo.yaml")
    files["shipped"] = workspace / "environments" / "local-demo.yaml"

    async def session() -> dict:
        async with Editor(workspace) as editor:
            found = {name: await editor.open(path) for name, path in files.items()}
            text = files["sizes"].read_text().splitlines()
            line = next(i for i, row in enumerate(text) if row.startswith("  instance_size:"))
            found["completions"] = await editor.complete(files["sizes"], line, len(text[line]))
            return found

    found = asyncio.run(session())
    assert messages(found["shipped"]) == [] and messages(found["nullable"]) == []
    assert messages(found["no-owner"]) == [(1, 'Missing property "owner".')]
    assert messages(found["max-ttl"]) == [(8, "Property max_ttl is not allowed.")]
    assert messages(found["bad-ttl"]) == [(8, "Not a duration like 30m, 8h or 2d.")]
    assert {"small", "medium", "large", "xlarge"} <= set(found["completions"])
