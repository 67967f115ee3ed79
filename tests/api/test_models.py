"""The API's rows of environments and runs are the CLI's `status --json` and
`history --json` rows (docs/json.md): the same fields, in the same order."""

from __future__ import annotations

from ephemera.api.models import EnvList, EnvRow, History, RunRow
from tests.support.jsondocs import documented


def required(title: str, *path: str) -> list[str]:
    _, schema = documented(title)
    node = schema
    for key in path:
        node = node["properties"][key]
    return node["items"]["required"] if "items" in node else node["required"]


def test_the_api_rows_are_the_documented_cli_rows() -> None:
    assert list(EnvRow.model_fields) == required("status --json", "environments")
    assert list(RunRow.model_fields) == required("history --json", "runs")
    assert list(EnvList.model_fields) == required("status --json")
    assert list(History.model_fields) == required("history --json")


def test_times_are_iso_utc_to_the_second() -> None:
    example, _ = documented("status --json")
    row = EnvRow(**example["environments"][0])
    assert row.model_dump(mode="json")["expires_at"] == "2026-12-01T15:02:40Z"
