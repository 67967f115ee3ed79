"""The provisioning API's Invoke tasks: `serve` and the tokens it accepts. Part of the
namespace of `ephemera.cli.tasks`; the logic is in `ephemera.cli.api`."""

from __future__ import annotations

from invoke import Context, task

from ephemera.cli.taskbase import Whole, run_command


@task(
    auto_shortflags=False,
    help={
        "host": "address to listen on (default 127.0.0.1: this machine only)",
        "port": "port to listen on (default 8780; 0: any free port)",
        "workers": "runs at once (default 2)",
        "dispatch": "where runs go: local (default) or codebuild",
        "codebuild_project": "with --dispatch codebuild: the project whose buildspec runs make",
    },
)
def serve(
    c: Context,
    host: str = "127.0.0.1",
    port: int = Whole(8780),
    workers: int = Whole(2),
    dispatch: str = "local",
    codebuild_project: str = "",
) -> None:
    """The provisioning API (/v1, OpenAPI at /v1/openapi.json) and the dashboard (/)."""
    from ephemera.cli import api

    run_command(api.serve, host, int(port), int(workers), dispatch, codebuild_project)


@task(
    name="token-create",
    help={
        "name": "who or what uses the token (unique among active tokens)",
        "scopes": "comma-separated: read, plan, deploy, destroy, extend",
        "json": "print a JSON object, the token included (docs/json.md)",
    },
)
def token_create(c: Context, name: str = "", scopes: str = "read", json: bool = False) -> None:
    """Create an API token; it is printed once, only its salted hash is kept."""
    from ephemera.cli import api

    run_command(api.token_create, name, scopes, json)


@task(name="token-list", help={"json": "print a JSON object (docs/json.md)"})
def token_list(c: Context, json: bool = False) -> None:
    """List the API tokens: name, id, scopes, created, revoked (never the token)."""
    from ephemera.cli import api

    run_command(api.token_list, json)


@task(name="token-revoke", help={"name": "the token's name (or id)"})
def token_revoke(c: Context, name: str = "") -> None:
    """Revoke an API token: requests with it get 401 from the next one on."""
    from ephemera.cli import api

    run_command(api.token_revoke, name)
