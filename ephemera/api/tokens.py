"""The API's bearer tokens: created once, shown once, kept only as a salted hash.

A token reads `eph_<id>_<secret>`: `id` (12 hex digits) finds its record, `secret`
(32 random bytes, URL-safe) is checked against the record's scrypt hash with
`hmac.compare_digest`. The records live in `.ephemera/api/tokens.json` (0600, written
whole and renamed into place under a lock file), so `token create` and `token revoke`
from the CLI take effect on a running server at its next request.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ephemera.errors import UsageError
from ephemera.leases.codec import from_text, to_text

SCOPES = ("read", "plan", "deploy", "destroy", "extend")
PREFIX = "eph_"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_ID = re.compile(r"^[0-9a-f]{12}$")
# scrypt's cost: about 30 ms and 16 MiB per check; a server checks each token once and
# remembers the digest of what it verified (see TokenStore.verify).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 2**20}
_DUMMY_SALT = bytes(16)  # an unknown id costs one scrypt too, so ids cannot be probed by time


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str
    salt: str  # hex
    digest: str  # hex scrypt(secret, salt)
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return self.active and scope in self.scopes

    def public(self) -> dict[str, Any]:
        """What `token list` shows: never the salt or the hash."""
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
        }


def parse_scopes(text: str) -> tuple[str, ...]:
    """`read,plan,deploy` → the scopes, in SCOPES order; UsageError naming the bad one."""
    given = [part.strip() for part in text.split(",") if part.strip()]
    if not given:
        raise UsageError(f"token create: --scopes: name one or more of {','.join(SCOPES)}")
    unknown = [scope for scope in given if scope not in SCOPES]
    if unknown:
        raise UsageError(
            f"token create: --scopes: unknown scope {unknown[0]!r}; "
            f"expected some of {','.join(SCOPES)}"
        )
    return tuple(scope for scope in SCOPES if scope in given)


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)


def _split(presented: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    if not presented.startswith(PREFIX) or len(presented) > 200:
        return None
    token_id, sep, secret = presented[len(PREFIX) :].partition("_")
    if not sep or not _ID.match(token_id) or not secret:
        return None
    return token_id, secret


class TokenStore:
    """The token records of one project (`.ephemera/api/tokens.json`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: tuple[tuple[int, int], dict[str, Token]] | None = None
        self._verified: dict[bytes, str] = {}  # sha256 of a verified token → its id

    # -- the CLI's side -----------------------------------------------------------------

    def create(
        self, name: str, scopes: tuple[str, ...], *, now: datetime, by: str
    ) -> tuple[Token, str]:
        """A new token; returns its record and the token text, which is never stored."""
        if not NAME.match(name):
            raise UsageError(
                f"token create: --name {name!r}: letters, digits and . _ @ - "
                "(at most 64, starting with a letter or digit)"
            )
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_bytes(16)
        token = Token(
            id=secrets.token_hex(6),
            name=name,
            scopes=scopes,
            created_at=now,
            created_by=by,
            salt=salt.hex(),
            digest=_hash(secret, salt).hex(),
        )
        with self._locked() as tokens:
            if any(t.name == name and t.active for t in tokens.values()):
                raise UsageError(
                    f"token create: a token named {name!r} exists; revoke it first "
                    "(ephemera token revoke --name …) or choose another name"
                )
            tokens[token.id] = token
        return token, f"{PREFIX}{token.id}_{secret}"

    def revoke(self, name: str, *, now: datetime) -> Token:
        """Revoke the active token named `name` (or with that id)."""
        with self._locked() as tokens:
            found = [t for t in tokens.values() if t.active and name in (t.name, t.id)]
            if not found:
                raise UsageError(
                    f"token revoke: no active token named {name!r} (ephemera token list)"
                )
            revoked = replace(found[0], revoked_at=now)
            tokens[revoked.id] = revoked
        return revoked

    def list(self) -> list[Token]:
        return sorted(self._read().values(), key=lambda t: (t.created_at, t.name))

    # -- the server's side --------------------------------------------------------------

    def verify(self, presented: str) -> Token | None:
        """The active token `presented` is, else None. Constant-time comparison; a token
        already verified is known by its SHA-256, so scrypt runs once per token, not per
        request, while revocation still takes effect at once (the record is re-read)."""
        parts = _split(presented)
        if parts is None:
            return None
        token_id, secret = parts
        known = self._read()
        fingerprint = hashlib.sha256(presented.encode()).digest()
        record = known.get(token_id)
        if self._verified.get(fingerprint) != token_id or record is None:
            salt = bytes.fromhex(record.salt) if record else _DUMMY_SALT
            digest = _hash(secret, salt)
            if record is None or not hmac.compare_digest(digest, bytes.fromhex(record.digest)):
                return None
            if len(self._verified) > 1024:
                self._verified.clear()
            self._verified[fingerprint] = token_id
        return record if record.active else None

    # -- the file -----------------------------------------------------------------------

    def _read(self) -> dict[str, Token]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        key = (stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, _parse(self.path))
        return dict(self._cache[1])

    @contextmanager
    def _locked(self) -> Iterator[dict[str, Token]]:
        """The records, under an exclusive lock; written back (0600, atomically) after."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_path = self.path.with_suffix(".lock")
        with os.fdopen(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._cache = None
            tokens = self._read()
            yield tokens
            _write(self.path, tokens)
            self._cache = None


def _parse(path: Path) -> dict[str, Token]:
    try:
        data = json.loads(path.read_text())
        records = data["tokens"]
        tokens = {}
        for item in records:
            token = Token(
                **{
                    **item,
                    "scopes": tuple(item["scopes"]),
                    "created_at": from_text(item["created_at"]),
                    "revoked_at": from_text(item.get("revoked_at")),
                }
            )
            tokens[token.id] = token
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path}: the API token file cannot be read ({exc}); move it aside and create "
            "new tokens"
        ) from None
    return tokens


def _write(path: Path, tokens: dict[str, Token]) -> None:
    records = []
    for token in sorted(tokens.values(), key=lambda t: t.id):
        item = asdict(token)
        item.update(
            scopes=list(token.scopes),
            created_at=to_text(token.created_at),
            revoked_at=to_text(token.revoked_at),
        )
        records.append(item)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"format_version": 1, "tokens": records}, out, indent=2)
    os.replace(temporary, path)
