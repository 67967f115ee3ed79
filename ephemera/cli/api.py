"""The provisioning API's commands: `serve`, and the tokens it accepts
(`token-create`, `token-list`, `token-revoke`)."""

from __future__ import annotations

from ephemera import session
from ephemera.api import server
from ephemera.api.tokens import parse_scopes
from ephemera.cli.output import print_json
from ephemera.errors import UsageError
from ephemera.project import Project
from ephemera.runs import current_actor


def serve(
    host: str = "127.0.0.1",
    port: int = 8780,
    workers: int = 2,
    dispatch: str = "local",
    codebuild_project: str = "",
) -> None:
    """The API and dashboard until Ctrl-C; runs go to the local pool or to CodeBuild."""
    ctx = session.context()
    if not 0 <= port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {port}")
    settings = server.Settings(
        host=host or "127.0.0.1",
        port=port,
        workers=workers,
        dispatch=dispatch,
        codebuild_project=codebuild_project or None,
    )
    codebuild = None
    if dispatch == "codebuild":
        import boto3  # only the dispatched runs need it

        codebuild = boto3.Session().client("codebuild")
    api = server.build(ctx.project, ctx.store, ctx.clock, settings, codebuild)
    server.serve(api, settings)


def token_create(name: str, scopes_text: str, as_json: bool = False) -> None:
    """A new token, printed once: only its salted hash is kept."""
    if not name:
        raise UsageError("token create: missing --name NAME (who or what uses the token)")
    scopes = parse_scopes(scopes_text)
    project = _project()
    token, text = server.tokens_for(project).create(
        name, scopes, now=session.cli_clock()(), by=current_actor()
    )
    if as_json:
        print_json({**token.public(), "token": text})
        return
    print(f"created token {token.name} (id {token.id}, scopes {','.join(token.scopes)}).")
    print("It is shown this once; only its hash is kept:")
    print(text)


def token_list(as_json: bool = False) -> None:
    tokens = server.tokens_for(_project()).list()
    if as_json:
        print_json({"tokens": [t.public() for t in tokens]})
        return
    if not tokens:
        print("no API tokens (ephemera token create --name NAME --scopes read,…)")
    for token in tokens:
        state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
        created = f"{token.created_at:%Y-%m-%d %H:%M}"
        scopes = ",".join(token.scopes)
        print(f"{token.name:<20} {token.id}  {scopes:<32} {state:<24} created {created}")


def token_revoke(name: str) -> None:
    if not name:
        raise UsageError("token revoke: missing --name NAME (token-list shows them)")
    token = server.tokens_for(_project()).revoke(name, now=session.cli_clock()())
    print(f"revoked token {token.name} (id {token.id}); requests with it now get 401")


def _project() -> Project:
    project = Project.discover()
    project.ensure_home()
    return project
