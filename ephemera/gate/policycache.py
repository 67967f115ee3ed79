"""The policy cache: checkov's raw results (before any skip) under
`<home>/policy-cache/`, keyed by the plan (its `timestamp` ignored), the contents of
every file under `policies/` and the checkov version. An unchanged re-run does not
start checkov, and a changed skip applies without one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ephemera.files import read_json, write_json
from ephemera.project import Project

CACHE_FORMAT = 1


def policies_dir(project: Project) -> Path:
    return project.root / "policies"


def cache_dir(project: Project) -> Path:
    return project.home / "policy-cache"


def policies_digest(project: Project) -> str:
    """sha256 over the path and content of every file under policies/."""
    root = policies_dir(project)
    digest = hashlib.sha256()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or any(
                part == "__pycache__" or part.startswith(".") for part in relative.parts
            ):
                continue
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(plan: bytes, policies: str, checkov_version: str) -> str:
    digest = hashlib.sha256()
    for part in (
        f"format {CACHE_FORMAT}",
        checkov_version,
        policies,
        plan_fingerprint(plan),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def plan_fingerprint(plan: bytes) -> str:
    """sha256 of a plan.json without its `timestamp`, so re-planning unchanged inputs
    hits the cache (every `terraform plan` stamps the time it ran)."""
    try:
        document = json.loads(plan)
    except ValueError:
        return hashlib.sha256(plan).hexdigest()
    if isinstance(document, dict):
        document.pop("timestamp", None)
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def read(project: Project, key: str) -> tuple[list[dict[str, str]], list[dict[str, str]]] | None:
    data = read_json(cache_dir(project) / f"{key}.json")
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return None
    try:
        passed = [_entry(e) for e in data["passed"]]
        failed = [_entry(e) for e in data["failed"]]
    except (KeyError, TypeError):
        return None
    return passed, failed


def _entry(raw: dict[str, Any]) -> dict[str, str]:
    return {
        "check_id": str(raw["check_id"]),
        "resource": str(raw["resource"]),
        "message": str(raw["message"]),
    }


def write(
    project: Project,
    key: str,
    version: str,
    passed: list[dict[str, str]],
    failed: list[dict[str, str]],
) -> None:
    write_json(
        cache_dir(project) / f"{key}.json",
        {"format": CACHE_FORMAT, "checkov_version": version, "passed": passed, "failed": failed},
    )
