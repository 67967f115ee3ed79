"""API tokens: shown once, stored as a salted scrypt hash (0600), checked in constant
time, scoped, revocable, and a revocation seen by a server that already verified them."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ephemera.api import tokens
from ephemera.api.tokens import SCOPES, TokenStore, parse_scopes
from ephemera.errors import UsageError

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "api" / "tokens.json")


def test_a_token_is_shown_once_and_kept_as_a_salted_scrypt_hash(store: TokenStore) -> None:
    record, text = store.create("ci-bot", ("read", "deploy"), now=NOW, by="alice")
    assert text.startswith(f"eph_{record.id}_") and len(text) > 50
    raw = store.path.read_text()
    secret = text.split("_", 2)[2]
    assert text not in raw and secret not in raw
    (saved,) = json.loads(raw)["tokens"]
    assert set(saved) == {
        "id", "name", "scopes", "created_at", "created_by", "salt", "digest", "revoked_at"
    }  # fmt: skip
    expected = hashlib.scrypt(
        secret.encode(), salt=bytes.fromhex(saved["salt"]), n=2**14, r=8, p=1, dklen=32
    )
    assert saved["digest"] == expected.hex()
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    second, _ = store.create("other", ("read",), now=NOW, by="alice")
    assert second.salt != record.salt


def test_verify_accepts_the_token_and_nothing_near_it(store: TokenStore) -> None:
    record, text = store.create("ci-bot", ("read",), now=NOW, by="alice")
    assert store.verify(text) == record
    assert store.verify(text) == record  # the second time from the verified digest
    prefix, token_id, secret = text.split("_", 2)
    for wrong in (
        text + "x",
        text[:-1],
        f"{prefix}_{token_id}_{secret.upper()}",
        f"{prefix}_000000000000_{secret}",
        f"xyz_{token_id}_{secret}",
        "",
        "eph_",
        "eph_" + "a" * 300,
    ):
        assert store.verify(wrong) is None, wrong
    assert TokenStore(store.path).verify(text) == record  # another process, same file


def test_verify_compares_in_constant_time(store: TokenStore, monkeypatch) -> None:
    _, text = store.create("ci-bot", ("read",), now=NOW, by="alice")
    compared = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    assert TokenStore(store.path).verify(text) is not None
    assert TokenStore(store.path).verify(text[:-2] + "zz") is None
    assert compared == [(32, 32), (32, 32)]


def test_scopes_and_revocation(store: TokenStore) -> None:
    record, text = store.create("viewer", ("read",), now=NOW, by="alice")
    assert record.allows("read") and not record.allows("destroy")
    assert store.verify(text) is not None
    revoked = store.revoke("viewer", now=NOW)
    assert revoked.revoked_at == NOW and not revoked.allows("read")
    assert store.verify(text) is None  # also for a store that had verified it
    assert [t.name for t in store.list()] == ["viewer"]
    with pytest.raises(UsageError, match="no active token named 'viewer'"):
        store.revoke("viewer", now=NOW)
    again, _ = store.create("viewer", ("read",), now=NOW, by="alice")  # the name is free again
    assert again.id != record.id


def test_bad_names_scopes_and_duplicates_are_usage_errors(store: TokenStore) -> None:
    assert parse_scopes("deploy, read") == ("read", "deploy")
    assert parse_scopes(",".join(SCOPES)) == SCOPES
    with pytest.raises(UsageError, match="unknown scope 'admin'"):
        parse_scopes("read,admin")
    with pytest.raises(UsageError, match="name one or more"):
        parse_scopes(" , ")
    for name in ("", "-x", "a b", "x" * 65, "ci;rm"):
        with pytest.raises(UsageError, match="--name"):
            store.create(name, ("read",), now=NOW, by="alice")
    store.create("ci-bot", ("read",), now=NOW, by="alice")
    with pytest.raises(UsageError, match="a token named 'ci-bot' exists"):
        store.create("ci-bot", ("read",), now=NOW, by="alice")


def test_a_damaged_token_file_is_a_usage_error(store: TokenStore) -> None:
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")
    with pytest.raises(UsageError, match="tokens.json: the API token file cannot be read"):
        store.verify("eph_000000000000_x")
