"""The GitHub Actions runner's side channels: the job summary ($GITHUB_STEP_SUMMARY),
step outputs ($GITHUB_OUTPUT), the link to this run, and output grouped per
environment. Outside Actions (no such variables) summaries and outputs go nowhere and
groups are plain text blocks."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping

Emit = Callable[[str], None]
SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step's summary above 1 MiB


def in_actions(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("GITHUB_ACTIONS") == "true"


def add_summary(markdown: str, environ: Mapping[str, str] = os.environ) -> None:
    """Append `markdown` to the job summary (nothing outside Actions)."""
    path = environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode()) > SUMMARY_LIMIT - 1024:
        text = text.encode()[: SUMMARY_LIMIT - 1024].decode(errors="ignore") + "\n… cut\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def set_outputs(values: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> None:
    """Write step outputs (one line each: values never hold a newline)."""
    path = environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        for name, value in values.items():
            if "\n" in value:
                raise ValueError(f"output {name}: a value on one line only")
            handle.write(f"{name}={value}\n")


def run_url(environ: Mapping[str, str] = os.environ) -> str:
    """The link to this workflow run ("" outside Actions)."""
    server = environ.get("GITHUB_SERVER_URL", "https://github.com")
    repository, run_id = environ.get("GITHUB_REPOSITORY"), environ.get("GITHUB_RUN_ID")
    if not (repository and run_id):
        return ""
    return f"{server}/{repository}/actions/runs/{run_id}"


def group(title: str, lines: list[str], emit: Emit) -> None:
    """One environment's output as one block: never interleaved with another's."""
    text = "".join(lines)
    if text and not text.endswith("\n"):
        text += "\n"
    if in_actions():
        # Output from environment files and Terraform never runs workflow commands.
        token = secrets.token_hex(16)
        emit(f"::group::{title}\n::stop-commands::{token}\n{text}::{token}::\n::endgroup::")
    else:
        emit(f"----- {title}\n{text}-----")
