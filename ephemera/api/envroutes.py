"""/v1/envs: what is live and what each environment holds (read), and extend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ephemera import config
from ephemera.api import audit
from ephemera.api.auth import Caller, Reader
from ephemera.api.models import (
    Audit,
    CostView,
    EnvDetail,
    EnvList,
    EnvRow,
    Extended,
    ExtendRequest,
    History,
    LeaseView,
    Outputs,
    RunRow,
    StateView,
    Validation,
    run_view,
)
from ephemera.api.service import ERRORS, EnvPath, Service
from ephemera.durations import parse_duration
from ephemera.errors import EphemeraError, UsageError
from ephemera.gate import per_hour
from ephemera.janitor.extend import extend
from ephemera.leases import DESTROYED
from ephemera.lifecycle import states
from ephemera.runs import run_json
from ephemera.status import status_row, status_rows

router = APIRouter(prefix="/v1/envs", tags=["environments"], responses=ERRORS)


@router.get("", response_model=EnvList, summary="every environment: status --json")
def list_envs(
    api: Service,
    who: Reader,
    every: Annotated[bool, Query(alias="all", description="destroyed ones too")] = False,
) -> EnvList:
    now = api.clock()
    listed = status_rows(api.project, api.store, now, deadline=api.health_deadline)
    rows = [r for r in listed if every or r.status != DESTROYED]
    return EnvList(generated_at=now, environments=[EnvRow(**r.to_json(now)) for r in rows])


@router.get("/{env}", response_model=EnvDetail, summary="lease, outputs, cost and health")
def get_env(env: EnvPath, api: Service, who: Reader) -> EnvDetail:
    lease = api.known(env)
    now = api.clock()
    active = next((j for j in api.book.list(env) if not j.done), None)
    row = status_row(api.project, api.store, env, now, deadline=api.health_deadline)
    return EnvDetail(
        env=env,
        row=EnvRow(**row.to_json(now)),
        lease=LeaseView.model_validate(lease, from_attributes=True) if lease else None,
        outputs=lease.outputs if lease else {},
        active_run=run_view(active, api.log_size(active)) if active else None,
    )


@router.get("/{env}/validate", response_model=Validation, summary="validate, as the CLI does")
def validate_env(env: EnvPath, api: Service, who: Reader) -> Validation:
    api.known(env)
    verdict = api.validate(env)
    return Validation(
        env=env,
        valid=bool(verdict.get("valid")),
        problems=verdict.get("problems") or [],
        error=verdict.get("error"),
    )


@router.get("/{env}/cost", response_model=CostView, summary="cost so far and to go")
def env_cost(env: EnvPath, api: Service, who: Reader) -> CostView:
    api.known(env)
    row = status_row(api.project, api.store, env, api.clock(), check_health=False)
    return CostView(
        env=env,
        per_hour_usd=per_hour(api.project, env),
        so_far_usd=row.cost_so_far_usd,
        to_go_usd=row.cost_remaining_usd,
    )


@router.get("/{env}/outputs", response_model=Outputs, summary="the stack outputs")
def env_outputs(env: EnvPath, api: Service, who: Reader) -> Outputs:
    lease = api.known(env)
    return Outputs(env=env, outputs=lease.outputs if lease else {})


@router.get("/{env}/state", response_model=StateView, summary="resource addresses and types")
def env_state(env: EnvPath, api: Service, who: Reader) -> StateView:
    """What the Terraform state holds, read without Terraform: addresses, modes and
    types only, never an attribute value."""
    lease = api.known(env)
    try:
        environment = config.load_environment(api.project, env)
    except EphemeraError:
        environment = None  # an orphan, or an invalid file: its local state, if any
    if environment is None and (lease is None or lease.target != "local"):
        return StateView(env=env, found=False, resources=[])
    if environment is None:
        found = states.local_addresses(api.project, env)
    else:
        found = states.addresses(api.project, environment)
    return StateView(env=env, found=found is not None, resources=found or [])


@router.get("/{env}/history", response_model=History, summary="runs and audit records")
def env_history(env: EnvPath, api: Service, who: Reader) -> History:
    api.known(env)
    return History(env=env, runs=[RunRow(**run_json(run)) for run in api.store.runs(env)])


@router.get("/{env}/audit", response_model=Audit, summary="the changes asked for over HTTP")
def env_audit(env: EnvPath, api: Service, who: Reader) -> Audit:
    api.known(env)
    return Audit(env=env, records=audit.records(api.store, env))


@router.post(
    "/{env}/extend",
    response_model=Extended,
    summary="push the expiry back",
    responses={409: {"description": "refused: past max_ttl, being destroyed, not deployed"}},
)
def extend_env(env: EnvPath, body: ExtendRequest, api: Service, who: Caller) -> Extended:
    lease = api.known(env)
    api.authorize(who, "extend", "extend", env)
    try:
        environment = config.load_environment(api.project, env)
    except UsageError as exc:
        api.refuse(who, "extend", env, 409, exc.message)
    if lease is None:
        api.refuse(who, "extend", env, 409, f"{env}: not deployed (no lease)")
    now = api.clock()
    hours = parse_duration(body.duration).total_seconds() / 3600
    try:
        written = extend(
            api.store,
            env,
            hours,
            now=now,
            max_ttl=environment.max_ttl,
            actor=f"api:{who.token.name}",
            reason=body.reason,
        )
    except EphemeraError as exc:
        api.refuse(who, "extend", env, 409, exc.message)
    assert written.expires_at is not None
    detail = f"{body.duration}: expires {written.expires_at.isoformat(timespec='minutes')}"
    api.record(who, "extend", env, "accepted", detail + (f", {body.reason}" if body.reason else ""))
    return Extended(
        env=env,
        previous_expires_at=lease.expires_at,
        expires_at=written.expires_at,
        expires_in_seconds=int((written.expires_at - now).total_seconds()),
    )
