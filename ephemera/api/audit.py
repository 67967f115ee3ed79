"""The audit trail of changes asked for over HTTP: one run record per request that
would change something (op `audit:<action>`, actor the token's name, client the
address it came from, result accepted, refused or denied), in the lease store beside
the runs, so `history` shows it and both stores keep it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ephemera.api.auth import Principal
from ephemera.leases import LeaseStore, RunRecord, new_run_id

PREFIX = "audit:"


def write(
    store: LeaseStore,
    who: Principal,
    action: str,
    env: str,
    result: str,
    detail: str | None,
    now: datetime,
) -> None:
    store.add_run(
        RunRecord(
            id=new_run_id("audit", now),
            env=env,
            op=PREFIX + action,
            actor=who.token.name,
            commit=None,
            started_at=now,
            ended_at=now,
            result=result,
            detail=detail,
            client=who.client,
        )
    )


def records(store: LeaseStore, env: str, limit: int = 200) -> list[dict[str, Any]]:
    """The env's audit records, newest first (among its last `limit` runs)."""
    return [
        {
            "id": run.id,
            "at": run.started_at,
            "token": run.actor,
            "action": run.op.removeprefix(PREFIX),
            "env": run.env,
            "client": run.client,
            "result": run.result,
            "detail": run.detail,
        }
        for run in store.runs(env, limit=limit)
        if run.op.startswith(PREFIX)
    ]
