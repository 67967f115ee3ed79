"""The API's request and response bodies (pydantic): what /v1/openapi.json describes
and what every response is checked against. Times follow the CLI's JSON rules
(docs/json.md): ISO-8601 UTC to the second, `Z`; durations in `_seconds`; the rows of
environments and runs are those of `status --json` and `history --json`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from ephemera.api.jobs import OPS, STATES, Job
from ephemera.durations import DURATION_PATTERN, iso_utc

Op = Literal[OPS]  # type: ignore[valid-type] - plan, deploy, destroy
State = Literal[STATES]  # type: ignore[valid-type] - queued … canceled
Time = Annotated[
    datetime,
    PlainSerializer(iso_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "example": "2026-12-01T14:57:03Z"}),
]


class Problem(BaseModel):
    detail: str = Field(description="what went wrong, starting with where")


class Counts(BaseModel):
    added: int
    changed: int
    destroyed: int


class Progress(BaseModel):
    step: int = Field(ge=0, description="phases reached")
    of: int = Field(ge=1, description="phases of this op")


class Verdict(BaseModel):
    ok: bool
    policy_passed: int | None
    policy_failed: list[str] | None = Field(description="ids of the failed checks")
    policy_skipped: int | None
    over_budget: str | None
    per_hour_usd: float | None
    total_usd: float | None


class Cost(BaseModel):
    per_hour_usd: float | None
    total_usd: float | None = Field(description="the plan's estimate over the TTL")


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    op: Op


class RunView(BaseModel):
    id: str
    env: str
    op: Op
    state: State
    phase: str | None = Field(description="validate, init, plan, gate, apply or destroy")
    progress: Progress
    requested_by: str = Field(description="the name of the token that asked for it")
    requested_at: Time
    started_at: Time | None
    ended_at: Time | None
    counts: Counts | None
    gate: Verdict | None
    cost: Cost | None
    exit_code: int | None
    error: str | None
    cancel_requested: bool
    dispatch: str = Field(description="local, or codebuild")
    remote_id: str | None = Field(description="the CodeBuild build of a dispatched run")
    log_cursor: int = Field(ge=0, description="bytes of log so far: ?cursor= for the rest")


class RunList(BaseModel):
    runs: list[RunView]


class LeaseView(BaseModel):
    status: str
    owner: str
    stack: str
    target: str
    protected: bool
    created_at: Time
    applied_at: Time | None
    expires_at: Time | None
    status_reason: str | None
    status_changed_at: Time | None
    last_run_id: str | None
    attempts: int


class EnvRow(BaseModel):
    """One row of `status --json` (docs/json.md)."""

    env: str
    status: str = Field(description="not deployed, or the lease's state (docs/lifecycle.md)")
    stack: str | None
    target: str | None
    owner: str | None
    expires_at: Time | None
    expires_in_seconds: int | None = Field(description="negative once expired")
    url: str | None
    healthy: bool | None = Field(
        description="probed now; null: not active, no URL, or no answer within the deadline"
    )
    orphan: bool = Field(description="a live lease whose environment file was deleted")
    reason: str | None
    changed_at: Time | None
    next_attempt_at: Time | None
    cost_so_far_usd: float | None
    cost_remaining_usd: float | None
    holder: str | None = Field(description="the run holding a deploying or destroying lease")
    health: Literal["healthy", "unhealthy", "unknown", "not checked"] = Field(
        description="what the probe found; unknown: no answer within the deadline"
    )


class EnvList(BaseModel):
    """`status --json`, as the CLI prints it."""

    format_version: Literal[1] = 1
    generated_at: Time
    environments: list[EnvRow]


class EnvDetail(BaseModel):
    env: str
    row: EnvRow = Field(description="the environment's row of GET /v1/envs")
    lease: LeaseView | None
    outputs: dict[str, Any]
    active_run: RunView | None


class Finding(BaseModel):
    file: str
    line: int
    key: str
    message: str


class Validation(BaseModel):
    env: str
    valid: bool
    problems: list[Finding]
    error: str | None = Field(description="a problem not tied to a line")


class CostView(BaseModel):
    env: str
    per_hour_usd: float | None = Field(description="from the last plan's estimate")
    so_far_usd: float | None
    to_go_usd: float | None


class Outputs(BaseModel):
    env: str
    outputs: dict[str, Any]


class Resource(BaseModel):
    address: str
    mode: Literal["managed", "data"]
    type: str


class StateView(BaseModel):
    env: str
    found: bool = Field(description="false: no state (never deployed, or destroyed)")
    resources: list[Resource]


class RunRow(BaseModel):
    """One run of `history --json` (docs/json.md)."""

    id: str
    env: str
    op: str = Field(description="plan, apply, destroy, extend, expire, …, audit:<action>")
    actor: str
    commit: str | None
    started_at: Time
    ended_at: Time | None
    duration_seconds: int | None
    result: str
    added: int
    changed: int
    destroyed: int
    log_path: str | None
    detail: str | None
    client: str | None = Field(description="audit records: the address the request came from")


class History(BaseModel):
    """`history --json`: the env's runs, newest first, audit records among them."""

    format_version: Literal[1] = 1
    env: str
    runs: list[RunRow]


class AuditRecord(BaseModel):
    id: str
    at: Time
    token: str
    action: str
    env: str
    client: str | None
    result: str
    detail: str | None


class Audit(BaseModel):
    env: str
    records: list[AuditRecord]


class ExtendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: str = Field(pattern=DURATION_PATTERN, description="as in the YAML: 30m, 4h, 2d")
    reason: str = Field(default="", max_length=500)


class Extended(BaseModel):
    env: str
    previous_expires_at: Time | None
    expires_at: Time
    expires_in_seconds: int


class Whoami(BaseModel):
    name: str
    scopes: list[str]


def run_view(job: Job, log_cursor: int) -> RunView:
    gate = job.gate or None
    return RunView(
        id=job.id,
        env=job.env,
        op=job.op,
        state=job.state,
        phase=job.phase,
        progress=Progress(**job.progress()),
        requested_by=job.actor,
        requested_at=job.requested_at,
        started_at=job.started_at,
        ended_at=job.ended_at,
        counts=Counts(**job.counts) if job.counts else None,
        gate=Verdict(**gate) if gate else None,
        cost=Cost(per_hour_usd=gate["per_hour_usd"], total_usd=gate["total_usd"]) if gate else None,
        exit_code=job.exit_code,
        error=job.error,
        cancel_requested=job.cancel_requested,
        dispatch=job.dispatch,
        remote_id=job.remote_id,
        log_cursor=log_cursor,
    )
