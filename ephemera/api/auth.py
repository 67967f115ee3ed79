"""Who is asking: the bearer token of a request, checked against the token store
(401 without a valid one), and its scopes (403 outside them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ephemera.api.tokens import Token

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A token from `ephemera token create --name … --scopes …`",
)
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="ephemera"'}


@dataclass(frozen=True)
class Principal:
    token: Token
    client: str | None  # the address the request came from


def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(401, "missing bearer token (Authorization: Bearer …)", UNAUTHORIZED)
    token = request.app.state.api.tokens.verify(credentials.credentials)
    if token is None:
        raise HTTPException(401, "invalid or revoked token", UNAUTHORIZED)
    return Principal(token, request.client.host if request.client else None)


Caller = Annotated[Principal, Depends(principal)]


def reader(who: Caller) -> Principal:
    """The caller, if its token may read."""
    if not who.token.allows("read"):
        raise HTTPException(403, f"the token {who.token.name!r} lacks scope read")
    return who


Reader = Annotated[Principal, Depends(reader)]
