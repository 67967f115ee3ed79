"""The control plane's bearer token: a random secret in a file only its owner reads.

Anything that changes the mock API over HTTP (PUT /mockserver/expectation, clear,
reset, …) must send `Authorization: Bearer <token>`; MockServer's clients take it as
an option (`control_plane_bearer_token=` in Python, `bearerToken` in Node). The file
is created once (0600) and kept, so a restarted server keeps the same token.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from ephemera.errors import EphemeraError


def ensure_token(path: Path, where: str) -> str:
    """The token in `path`, written first (0600) if the file does not exist yet."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_token(path, where)
    except OSError as exc:
        raise EphemeraError(f"{where}: cannot write {path}: {exc.strerror}") from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(token + "\n")
    return token


def read_token(path: Path, where: str) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise EphemeraError(f"{where}: cannot read {path}: {exc.strerror}") from None
    if not token or any(c.isspace() for c in token):
        raise EphemeraError(f"{where}: {path} does not hold a token (one line, no spaces)")
    return token
