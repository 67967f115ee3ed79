"""Dispatchers: how the janitor gets an expired environment destroyed.

`destroy(lease) -> DispatchResult` with outcome
  - "destroyed": done here, and the state holds nothing (LocalDispatcher);
  - "dispatched": handed to an asynchronous runner (a CodeBuild build, a GitHub
    workflow) that runs `make destroy` and moves the lease on itself;
  - "failed": nothing or not everything was destroyed; `leftovers` lists what remains.

Standard library only at import time (packaged into the janitor Lambda); AWS
clients come from a session passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ephemera.janitor.httppost import Opener, PostFailed, post_json
from ephemera.leases.base import Lease

DESTROYED = "destroyed"
DISPATCHED = "dispatched"
FAILED = "failed"
OUTCOMES = (DESTROYED, DISPATCHED, FAILED)


@dataclass(frozen=True)
class DispatchResult:
    outcome: str  # one of OUTCOMES
    detail: str = ""
    leftovers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"dispatch outcome {self.outcome!r} is not one of {OUTCOMES}")


class Dispatcher(Protocol):
    def destroy(self, lease: Lease) -> DispatchResult: ...


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if text.startswith(type(exc).__name__) else f"{type(exc).__name__}: {text}"


class LocalDispatcher:
    """Destroys in-process: `destroy_env(name)` runs terraform destroy and returns the
    resource addresses still in the state afterwards (empty when everything is gone)."""

    def __init__(self, destroy_env: Callable[[str], list[str]]) -> None:
        self.destroy_env = destroy_env

    def destroy(self, lease: Lease) -> DispatchResult:
        try:
            leftovers = list(self.destroy_env(lease.env))
        except Exception as exc:
            return DispatchResult(FAILED, f"{lease.env}: destroy failed: {_describe(exc)}")
        if leftovers:
            return DispatchResult(
                FAILED,
                f"{lease.env}: {len(leftovers)} resource(s) still in the state after destroy",
                leftovers,
            )
        return DispatchResult(DESTROYED, f"{lease.env}: destroyed; the state holds no resources")


class CodeBuildDispatcher:
    """Starts a build of `project_name` (whose buildspec runs `make destroy`) with ENV=<env>."""

    def __init__(
        self, client: Any, project_name: str, extra_env: dict[str, str] | None = None
    ) -> None:
        self.client = client
        self.project_name = project_name
        self.extra_env = dict(extra_env or {})

    def environment(self, env: str) -> list[dict[str, str]]:
        variables = {"ENV": env, "AUTO_APPROVE": "1", **self.extra_env}
        return [
            {"name": name, "value": value, "type": "PLAINTEXT"}
            for name, value in sorted(variables.items())
        ]

    def destroy(self, lease: Lease) -> DispatchResult:
        try:
            response = self.client.start_build(
                projectName=self.project_name,
                environmentVariablesOverride=self.environment(lease.env),
            )
        except Exception as exc:
            return DispatchResult(
                FAILED, f"codebuild {self.project_name}: StartBuild failed: {_describe(exc)}"
            )
        build_id = response["build"]["id"]
        return DispatchResult(DISPATCHED, f"codebuild build {build_id}")


class GitHubDispatcher:
    """Runs the destroy workflow through `workflow_dispatch` (expects HTTP 204).

    The token (a fine-grained token or app token with actions:write) is read
    from Secrets Manager: the secret string itself, or JSON with a `token` key.
    """

    def __init__(
        self,
        secrets_client: Any,
        secret_id: str,
        repo: str,
        workflow: str = "destroy.yml",
        ref: str = "main",
        api_url: str = "https://api.github.com",
        opener: Opener | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not api_url.startswith(("https://", "http://")):
            raise ValueError(f"github api_url {api_url!r} is not an http(s) URL")
        self.secrets_client = secrets_client
        self.secret_id = secret_id
        self.repo = repo
        self.workflow = workflow
        self.ref = ref
        self.api_url = api_url.rstrip("/")
        self.opener = opener
        self.timeout = timeout
        self._token: str | None = None

    @property
    def url(self) -> str:
        return f"{self.api_url}/repos/{self.repo}/actions/workflows/{self.workflow}/dispatches"

    def token(self) -> str:
        if self._token is None:
            secret = self.secrets_client.get_secret_value(SecretId=self.secret_id)
            text = secret["SecretString"].strip()
            if text.startswith("{"):
                text = str(json.loads(text)["token"]).strip()
            self._token = text
        return self._token

    def destroy(self, lease: Lease) -> DispatchResult:
        where = f"github {self.repo} {self.workflow}"
        try:
            token = self.token()
        except Exception as exc:
            return DispatchResult(
                FAILED, f"{where}: cannot read the token {self.secret_id}: {_describe(exc)}"
            )
        headers = {
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "User-Agent": "ephemera-ttl-janitor",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        payload = {"ref": self.ref, "inputs": {"env": lease.env}}
        try:
            status, text = post_json(
                self.url, payload, headers=headers, opener=self.opener, timeout=self.timeout
            )
        except PostFailed as exc:
            return DispatchResult(FAILED, f"{where}: {exc.detail}")
        if status != 204:
            return DispatchResult(
                FAILED, f"{where}: expected HTTP 204, got {status}: {text[:1000]}"
            )
        return DispatchResult(DISPATCHED, f"{where}: workflow dispatched on {self.ref}")


TAG_KEY = "ephemera:env"


def tagged_leftovers(tagging_client: Any, env: str) -> list[str]:
    """ARNs of resources still tagged `ephemera:env=<env>` (Resource Groups Tagging API).

    The confirmation step of an aws destroy: after `terraform destroy`, nothing
    should carry the environment's tag. Sorted, every page read.
    """
    paginator = tagging_client.get_paginator("get_resources")
    arns: set[str] = set()
    for page in paginator.paginate(TagFilters=[{"Key": TAG_KEY, "Values": [env]}]):
        for item in page.get("ResourceTagMappingList", []):
            arns.add(item["ResourceARN"])
    return sorted(arns)
