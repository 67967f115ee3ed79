"""The `--json` shapes documented in docs/json.md: each command's example and JSON
Schema, and a check of a real output against its schema."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema

from tests.conftest import REPO_ROOT

DOCUMENTED = (REPO_ROOT / "docs" / "json.md").read_text()


def documented(title: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(example, schema): the two JSON blocks under `## <title>` of docs/json.md."""
    section = DOCUMENTED.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```json\n(.*?)\n```", section, flags=re.DOTALL)
    assert len(blocks) == 2, f"{title}: expected an example and a schema"
    return json.loads(blocks[0]), json.loads(blocks[1])


def checked(title: str, stdout: str) -> dict[str, Any]:
    """`stdout` parsed, after validating it against the schema of `title` (and that
    `format_version` is its first key)."""
    document = json.loads(stdout)
    _, schema = documented(title)
    validator = jsonschema.Draft202012Validator
    validator(schema, format_checker=validator.FORMAT_CHECKER).validate(document)
    assert next(iter(document)) == "format_version"
    return document
