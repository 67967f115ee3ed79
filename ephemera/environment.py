"""The validated, typed form of an environment file (after merge with _defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

# Stack inputs that Ephemera supplies itself. A stack receives each one it
# declares in its variables.tf; an environment file may not set them.
# An environment's name: also a directory, a state key and a DNS label (JSON Schema's
# regex dialect; config.schema uses it in the schema).
NAME_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"

PROVIDED_VARIABLES = (
    "environment",
    "owner",
    "tags",
    "project_root",
    "runtime_dir",
    "region",
    "permissions_boundary_arn",
)


@dataclass(frozen=True)
class PolicySkip:
    id: str
    reason: str


@dataclass(frozen=True)
class Environment:
    name: str
    stack: str
    target: str  # "local" | "aws"
    owner: str
    ttl: timedelta
    ttl_text: str  # as written, e.g. "8h"
    max_ttl: timedelta
    source: Path  # the environment file
    protected: bool = False
    region: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    policy_skips: tuple[PolicySkip, ...] = ()
    notify: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ("24h", "2h", "30m")  # the warning ladder, before expiry
    aws: dict[str, Any] = field(default_factory=dict)  # state bucket, lease table, account …
    budget: float | None = None
    document: dict[str, Any] = field(default_factory=dict)  # the merged YAML, for templates

    @property
    def all_tags(self) -> dict[str, str]:
        """The env's tags plus the three Ephemera always sets (which win)."""
        return {
            **self.tags,
            "ephemera:env": self.name,
            "ephemera:owner": self.owner,
            "managed-by": "ephemera",
        }
