"""The ASGI app: the versioned API under /v1 (its OpenAPI document at
/v1/openapi.json), the dashboard at /, request bodies capped, and headers that keep
browsers strict (no framing, no sniffing, scripts from this origin only)."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ephemera.api import envroutes, runroutes
from ephemera.api.auth import Caller
from ephemera.api.models import Whoami
from ephemera.api.service import Api
from ephemera.errors import EphemeraError

STATIC = Path(__file__).parent / "static"
MAX_BODY = 64 * 1024  # bytes; every request body here is a few hundred
MAX_HEAD = 16 * 1024  # bytes of request headers
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
]
log = logging.getLogger("ephemera.api")


class StrictHeaders:
    """Adds _HEADERS to every response (and no-store to the API's); refuses requests
    whose headers exceed MAX_HEAD (431)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api_path = scope["path"].startswith("/v1/")
        if sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEAD:
            too_large = JSONResponse(
                {"detail": f"request headers over {MAX_HEAD} bytes"},
                status_code=431,
                headers={name.decode(): value.decode() for name, value in _HEADERS},
            )
            await too_large(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + _HEADERS
                if api_path:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(api: Api) -> FastAPI:
    app = FastAPI(
        title="Ephemera",
        version="1",
        summary="Ephemeral Terraform environments: plan, deploy, destroy, extend over HTTP",
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        max_body_size=MAX_BODY,
    )
    app.state.api = api
    app.include_router(envroutes.router)
    app.include_router(runroutes.router)
    app.add_middleware(StrictHeaders)

    @app.get("/v1/whoami", response_model=Whoami, tags=["tokens"], responses={401: {}})
    def whoami(who: Caller) -> Whoami:
        return Whoami(name=who.token.name, scopes=list(who.token.scopes))

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/ui", StaticFiles(directory=STATIC), name="ui")

    @app.exception_handler(EphemeraError)
    async def ephemera_error(request: Request, exc: EphemeraError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=409)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"unexpected error: {exc!r}"}, status_code=500)

    return app
