"""What the routes share: the project, lease store, clock, tokens, the book of runs and
the pool; the checks and records every route makes (the environment exists, the audit
record of a change, a run booked and queued)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam

from ephemera.api import audit
from ephemera.api.auth import Principal
from ephemera.api.jobs import RUN_OP, Job, JobBook
from ephemera.api.models import Problem
from ephemera.api.tokens import TokenStore
from ephemera.api.worker import Pool, cli_argv, cli_env
from ephemera.config.schema import NAME_PATTERN
from ephemera.durations import Clock
from ephemera.health import DEFAULT_DEADLINE
from ephemera.leases import Lease, LeaseStore, new_run_id
from ephemera.project import Project

VALIDATE_TIMEOUT = 120  # seconds
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not JSON"},
    401: {"model": Problem, "description": "no valid bearer token"},
    403: {"model": Problem, "description": "the token lacks the scope"},
    404: {"model": Problem, "description": "no such environment or run"},
    413: {"model": Problem, "description": "the request body is too large"},
}
EnvPath = Annotated[str, PathParam(pattern=NAME_PATTERN, description="an environment name")]


@dataclass
class Api:
    project: Project
    store: LeaseStore
    clock: Clock
    tokens: TokenStore
    book: JobBook
    pool: Pool
    dispatch: str = "local"  # the launcher new runs go to
    health_deadline: float = DEFAULT_DEADLINE  # seconds for a listing's health probes

    def known(self, env: str) -> Lease | None:
        """The env's lease; 404 unless it has an environment file or a lease."""
        lease = self.store.get(env)
        if lease is None and not self.project.environment_file(env).exists():
            known = ", ".join(self.project.known_environments()) or "(none)"
            raise HTTPException(404, f"unknown environment {env!r}; known: {known}")
        return lease

    def record(
        self, who: Principal, action: str, env: str, result: str, detail: str | None = None
    ) -> None:
        audit.write(self.store, who, action, env, result, detail, self.clock())

    def refuse(self, who: Principal, action: str, env: str, status: int, detail: str) -> NoReturn:
        """Audit a refused change, then answer it with `status`."""
        self.record(who, action, env, "refused" if status != 403 else "denied", detail)
        raise HTTPException(status, detail)

    def authorize(self, who: Principal, scope: str, action: str, env: str) -> None:
        if not who.token.allows(scope):
            self.refuse(who, action, env, 403, f"the token {who.token.name!r} lacks scope {scope}")

    def book_run(self, who: Principal, env: str, op: str, key: str | None) -> tuple[Job, bool]:
        """A new run of `op` on `env`, queued; or the run this Idempotency-Key started."""
        now = self.clock()
        run_id = new_run_id(RUN_OP[op], now)
        job = Job(
            id=run_id,
            env=env,
            op=op,
            actor=who.token.name,
            requested_at=now,
            log_path=self.log_path(run_id),
            dispatch=self.dispatch,
        )
        fingerprint = hashlib.sha256(json.dumps([env, op]).encode()).hexdigest()
        booked, new = self.book.add(job, (who.token.id, key) if key else None, fingerprint)
        if new:
            self.record(who, op, env, "accepted", f"run {booked.id}")
            self.pool.submit(booked)
        return booked, new

    def log_path(self, run_id: str) -> Path:
        return self.project.api_dir / "runs" / f"{run_id}.log"

    def log_size(self, job: Job) -> int:
        try:
            return job.log_path.stat().st_size
        except OSError:
            return 0

    def validate(self, env: str) -> dict[str, Any]:
        """`ephemera validate --env X --json` in a child process: validation runs the
        stack's validation blocks through Terraform, which never runs in the server."""
        try:
            result = subprocess.run(
                cli_argv("validate", "--env", env, "--json"),
                cwd=self.project.root,
                env=cli_env(self.project),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=VALIDATE_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return {"valid": False, "error": f"{env}: validate took over {VALIDATE_TIMEOUT} s"}
        try:
            return json.loads(result.stdout)
        except ValueError:
            return {"valid": False, "problems": [], "error": result.stderr.strip()[-2000:]}


def get_api(request: Request) -> Api:
    return request.app.state.api


Service = Annotated[Api, Depends(get_api)]
