"""The TTL janitor Lambda: one `ephemera.janitor.sweep.sweep` per scheduled invocation.

It never runs Terraform itself (a destroy can outlast Lambda's 15 minutes): it
claims each expired lease and dispatches its destroy to CodeBuild or to a
GitHub `workflow_dispatch`, which runs `make destroy`. Warnings and outcomes
go to the SNS topic. Configuration: environment variables, read once per
container (cold start) into `Settings`; see README.md next to this file.

Packaged by `ephemera.janitor.package.build_package` with exactly the ephemera
modules it imports; boto3/botocore come from the Lambda runtime.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ephemera.durations import system_clock
from ephemera.errors import UsageError
from ephemera.janitor.dispatch import CodeBuildDispatcher, Dispatcher, GitHubDispatcher
from ephemera.janitor.ladder import DEFAULT_WARNINGS, parse_ladder
from ephemera.janitor.notify import SnsNotifier
from ephemera.janitor.sweep import SweepSettings, sweep
from ephemera.janitor.tfstate import count_s3_state
from ephemera.leases.dynamodb import DynamoLeaseStore

ACTOR = "ttl-janitor (lambda)"
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    lease_table: str
    notify_topic_arn: str
    dispatch: str  # "codebuild" | "github"
    codebuild_project: str | None = None
    github_repo: str | None = None
    github_token_secret: str | None = None
    github_workflow: str = "destroy.yml"
    github_ref: str = "main"
    github_api_url: str = "https://api.github.com"
    dry_run: bool = False
    max_destroys: int | None = None
    warnings: tuple[timedelta, ...] = parse_ladder(DEFAULT_WARNINGS)
    state_bucket: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """The settings in `environ`; every problem reported at once (UsageError)."""
        problems: list[str] = []

        def get(name: str, default: str | None = None) -> str | None:
            value = environ.get(name, "").strip()
            return value or default

        def need(name: str, why: str = "") -> str:
            value = get(name)
            if value is None:
                problems.append(f"{name} is required{why}")
                return ""
            return value

        lease_table = need("LEASE_TABLE")
        topic = need("NOTIFY_TOPIC_ARN")
        dispatch = (get("DISPATCH") or "").lower()
        project = repo = secret = None
        if dispatch == "codebuild":
            project = need("CODEBUILD_PROJECT", " when DISPATCH=codebuild")
        elif dispatch == "github":
            repo = need("GITHUB_REPO", " when DISPATCH=github")
            secret = need("GITHUB_TOKEN_SECRET", " when DISPATCH=github")
        else:
            problems.append(f"DISPATCH must be codebuild or github, got {dispatch!r}")

        dry_text = (get("DRY_RUN") or "").lower()
        if dry_text not in _TRUE + _FALSE:
            problems.append(f"DRY_RUN must be true or false, got {dry_text!r}")
        max_destroys = None
        max_text = get("MAX_DESTROYS")
        if max_text is not None:
            if max_text.isascii() and max_text.isdigit():
                max_destroys = int(max_text)
            else:
                problems.append(f"MAX_DESTROYS must be a whole number ≥ 0, got {max_text!r}")
        warnings: tuple[timedelta, ...] = ()
        try:
            warnings = parse_ladder(get("WARNINGS", ",".join(DEFAULT_WARNINGS)) or "")
        except ValueError as exc:
            problems.append(f"WARNINGS: {exc}")
        if problems:
            raise UsageError("ttl janitor settings: " + "; ".join(problems))
        return cls(
            lease_table=lease_table,
            notify_topic_arn=topic,
            dispatch=dispatch,
            codebuild_project=project,
            github_repo=repo,
            github_token_secret=secret,
            github_workflow=get("GITHUB_WORKFLOW", "destroy.yml") or "destroy.yml",
            github_ref=get("GITHUB_REF", "main") or "main",
            github_api_url=get("GITHUB_API_URL", "https://api.github.com") or "",
            dry_run=dry_text in _TRUE,
            max_destroys=max_destroys,
            warnings=warnings,
            state_bucket=get("STATE_BUCKET"),
        )


def make_dispatcher(settings: Settings, session: Any) -> Dispatcher:
    if settings.dispatch == "codebuild":
        assert settings.codebuild_project
        return CodeBuildDispatcher(session.client("codebuild"), settings.codebuild_project)
    assert settings.github_repo and settings.github_token_secret
    return GitHubDispatcher(
        session.client("secretsmanager"),
        settings.github_token_secret,
        settings.github_repo,
        workflow=settings.github_workflow,
        ref=settings.github_ref,
        api_url=settings.github_api_url,
    )


def state_resource_counter(s3: Any, bucket: str):  # noqa: ANN201
    """resource_count(lease): the managed resource instances in the env's S3 state."""
    return lambda lease: count_s3_state(s3, bucket, lease.env)


def run(settings: Settings, session: Any, now: datetime) -> dict[str, Any]:
    """One sweep with clients from `session`; logs and returns the summary."""
    store = DynamoLeaseStore.from_session(session, settings.lease_table)
    notifier = SnsNotifier(session.client("sns"), settings.notify_topic_arn)
    counter = None
    if settings.state_bucket:
        counter = state_resource_counter(session.client("s3"), settings.state_bucket)
    summary = sweep(
        store,
        now=now,
        dispatcher=make_dispatcher(settings, session),
        notifier=notifier,
        settings=SweepSettings(
            ladders=settings.warnings,
            resource_count=counter,
            dry_run=settings.dry_run,
            max_destroys=settings.max_destroys,
            actor=ACTOR,
        ),
    )
    result = summary.to_dict()
    print(json.dumps({"ttl_sweep": result}, sort_keys=True), flush=True)
    return result


_settings: Settings | None = None


def settings() -> Settings:
    """The environment's settings, read on the container's first invocation and kept."""
    global _settings
    if _settings is None:
        _settings = Settings.from_environ(os.environ)
    return _settings


def handler(event: Any, context: Any) -> dict[str, Any]:
    import boto3  # provided by the Lambda runtime

    return run(settings(), boto3.Session(), system_clock())
