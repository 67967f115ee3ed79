"""/v1/envs/{env}/runs and /v1/runs: start a plan, deploy or destroy, follow it (its
state, its log as text or as server-sent events), cancel it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.sse import format_sse_event

from ephemera.api.auth import Caller, Reader
from ephemera.api.jobs import EnvironmentBusy, IdempotencyConflict, Job
from ephemera.api.models import Problem, RunList, RunRequest, RunView, run_view
from ephemera.api.service import ERRORS, Api, EnvPath, Service
from ephemera.config.schema import NAME_PATTERN
from ephemera.session import RUN_ID

router = APIRouter(tags=["runs"], responses=ERRORS)
RunPath = Annotated[str, Path(pattern=RUN_ID.pattern, description="a run id")]
POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
SSE_EVENT = {  # one server-sent event, as OpenAPI 3.2 describes a text/event-stream item
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["log", "end"]},
        "data": {"type": "string", "description": "a log line; for end, the run's end as JSON"},
        "id": {"type": "string", "description": "the log cursor after this event"},
    },
}
LOG_MEDIA = {
    "text/plain": {"schema": {"type": "string"}},
    "text/event-stream": {"schema": SSE_EVENT},
}


def _view(api: Api, job: Job) -> RunView:
    return run_view(job, api.log_size(job))


def _job(api: Api, run_id: str) -> Job:
    job = api.book.get(run_id)
    if job is None:
        raise HTTPException(404, f"no run {run_id} on this server")
    return job


@router.post(
    "/v1/envs/{env}/runs",
    status_code=202,
    response_model=RunView,
    summary="start a plan, deploy or destroy",
    responses={
        409: {
            "model": Problem,
            "description": "the environment has a run already, or the Idempotency-Key was "
            "used for a different request",
        },
    },
)
def start_run(
    env: EnvPath,
    body: RunRequest,
    api: Service,
    who: Caller,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="the same key returns the run it started"),
    ] = None,
) -> RunView:
    api.known(env)
    api.authorize(who, body.op, body.op, env)
    try:
        job, new = api.book_run(who, env, body.op, idempotency_key)
    except EnvironmentBusy as exc:
        api.refuse(who, body.op, env, 409, exc.message)
    except IdempotencyConflict as exc:
        raise HTTPException(409, exc.message) from None
    response.headers["Location"] = f"/v1/runs/{job.id}"
    if not new:
        response.headers["Idempotent-Replayed"] = "true"
    return _view(api, job)


@router.get("/v1/runs", response_model=RunList, summary="the runs of this server, newest first")
def list_runs(
    api: Service,
    who: Reader,
    env: Annotated[str | None, Query(pattern=NAME_PATTERN)] = None,
) -> RunList:
    return RunList(runs=[_view(api, job) for job in api.book.list(env)])


@router.get("/v1/runs/{run_id}", response_model=RunView, summary="a run's state and phase")
def get_run(run_id: RunPath, api: Service, who: Reader) -> RunView:
    return _view(api, _job(api, run_id))


@router.post(
    "/v1/runs/{run_id}/cancel",
    status_code=202,
    response_model=RunView,
    summary="stop a run (SIGINT, as Ctrl-C)",
    responses={409: {"model": Problem, "description": "the run has ended"}},
)
def cancel_run(run_id: RunPath, api: Service, who: Caller) -> RunView:
    job = _job(api, run_id)
    api.authorize(who, job.op, "cancel", job.env)
    if job.done:
        api.refuse(who, "cancel", job.env, 409, f"run {run_id} has ended: {job.state}")
    canceled = api.pool.cancel(run_id)
    api.record(who, "cancel", job.env, "accepted", f"run {run_id} ({job.op})")
    return _view(api, canceled)


@router.get(
    "/v1/runs/{run_id}/log",
    summary="a run's console log: text from ?cursor=, or ?follow=1 for server-sent events",
    response_class=Response,  # no media type of its own: the 200's are LOG_MEDIA
    response_model=None,
    responses={200: {"content": LOG_MEDIA, "description": "the log"}},
)
def run_log(
    run_id: RunPath,
    api: Service,
    who: Reader,
    request: Request,
    cursor: Annotated[int, Query(ge=0, description="a byte offset (X-Log-Cursor)")] = 0,
    follow: Annotated[bool, Query(description="stream until the run ends (SSE)")] = False,
) -> Response:
    job = _job(api, run_id)
    if follow:
        return StreamingResponse(
            _events(api, run_id, cursor, request),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    data = _read(api, job, cursor)
    return PlainTextResponse(
        data.decode(errors="replace"),
        headers={"X-Log-Cursor": str(cursor + len(data)), "X-Run-State": job.state},
    )


def _read(api: Api, job: Job, cursor: int) -> bytes:
    try:
        with job.log_path.open("rb") as log:
            log.seek(min(cursor, api.log_size(job)))
            return log.read()
    except OSError:
        return b""


async def _events(api: Api, run_id: str, cursor: int, request: Request) -> AsyncIterator[bytes]:
    """Each complete log line as an `event: log` (id: the cursor after it), then one
    `event: end` with the run's final state; a comment every 15 s keeps proxies open."""
    idle = 0.0
    while True:
        job = _job(api, run_id)
        done = job.done
        chunk = _read(api, job, cursor)
        complete = chunk if done else chunk[: chunk.rfind(b"\n") + 1]
        for line in complete.splitlines(keepends=True):
            cursor += len(line)
            text = line.decode(errors="replace").rstrip("\r\n")
            yield format_sse_event(data_str=text, event="log", id=str(cursor))
            idle = 0.0
        if done:
            final = {"state": job.state, "exit_code": job.exit_code, "error": job.error}
            yield format_sse_event(data_str=json.dumps(final), event="end", id=str(cursor))
            return
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield b": keep-alive\n\n"
