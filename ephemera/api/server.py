"""`ephemera serve`: the API and dashboard on uvicorn, on loopback unless told.

One process: uvicorn's event loop answers requests (the routes that block run in its
thread pool), `workers` threads start runs as CLI child processes (or CodeBuild builds
with `dispatch="codebuild"`). On SIGINT/SIGTERM the server stops taking requests, asks
every active run to stop (SIGINT, as Ctrl-C) and waits for them, at most `grace` s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import uvicorn

from ephemera.api.app import create_app
from ephemera.api.jobs import JobBook
from ephemera.api.remote import CodeBuildLauncher
from ephemera.api.service import Api
from ephemera.api.tokens import TokenStore
from ephemera.api.worker import Launcher, LocalLauncher, Pool
from ephemera.durations import Clock
from ephemera.errors import UsageError
from ephemera.leases import LeaseStore
from ephemera.mockapi.server import bind_socket, format_host
from ephemera.project import Project
from ephemera.session import health_deadline

MAX_CONNECTIONS = 64
HEADER_LIMIT = 64 * 1024  # bytes h11 buffers of a request head still incomplete


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8780
    workers: int = 2
    grace: float = 60.0  # seconds a canceled run has to stop before SIGKILL
    dispatch: str = "local"  # local | codebuild
    codebuild_project: str | None = None


def tokens_for(project: Project) -> TokenStore:
    return TokenStore(project.api_dir / "tokens.json")


def build(
    project: Project,
    store: LeaseStore,
    clock: Clock,
    settings: Settings,
    codebuild: Any = None,
) -> Api:
    """The service the app serves: tokens, the book of runs, the pool and its launchers
    (`codebuild`: a boto3 codebuild client, when runs go to CodeBuild)."""
    if not 1 <= settings.workers <= 16:
        raise UsageError(f"serve: --workers: expected 1 to 16, got {settings.workers}")
    launchers: dict[str, Launcher] = {"local": LocalLauncher(project, grace=settings.grace)}
    if settings.dispatch == "codebuild":
        if not settings.codebuild_project or codebuild is None:
            raise UsageError("serve: --dispatch codebuild needs --codebuild-project NAME")
        launchers["codebuild"] = CodeBuildLauncher(codebuild, settings.codebuild_project)
    elif settings.dispatch != "local":
        raise UsageError(
            f"serve: --dispatch: expected local or codebuild, got {settings.dispatch!r}"
        )
    book = JobBook(clock)
    pool = Pool(book, launchers, workers=settings.workers)
    deadline = health_deadline()  # EPHEMERA_HEALTH_TIMEOUT, checked before serving
    return Api(project, store, clock, tokens_for(project), book, pool, settings.dispatch, deadline)


def serve(api: Api, settings: Settings, announce: Any = print) -> None:
    """Serve until SIGINT or SIGTERM, then stop the active runs."""
    where = "serve"
    sock = bind_socket(settings.host, settings.port, where, ("--host", "--port"))
    port = sock.getsockname()[1]
    if not api.tokens.list():
        announce("no API token yet: create one with ephemera token create --name NAME --scopes …")
    announce(f"ephemera API and dashboard on http://{format_host(settings.host)}:{port}/")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(api),
            http="h11",
            h11_max_incomplete_event_size=HEADER_LIMIT,
            lifespan="off",
            access_log=True,
            server_header=False,
            proxy_headers=False,
            limit_concurrency=MAX_CONNECTIONS,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=3,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        api.pool.shutdown(timeout=settings.grace + 5)
