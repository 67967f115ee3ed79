"""Saved plans, kept from the plan that was reviewed to the apply that follows.

ci-plan keeps each planned environment's `plan.bin` with what it was made from: the
fingerprint of its rendered inputs at the planned commit (`ephemera.ci.fingerprint`),
the state it was made against (serial and lineage of `envs/<env>/terraform.tfstate`,
read just before the plan) and the project root (a plan holds absolute paths). On
merge the apply uses it only if all three are unchanged; Terraform itself refuses a
plan whose state moved on after all ("Saved plan is stale").

They travel as workflow artifacts, sealed here: AES-256-GCM under a key derived (HKDF-
SHA256) from the repository secret `EPHEMERA_PLAN_KEY`, the environment's name bound in
as associated data, so a file can neither be read nor altered nor passed off as another
environment's without the key. A plan can hold secrets of its resources; it is never
written anywhere unsealed but the runner's private work directory (0600).

    <dir>/<env>.plan.enc = MAGIC ‖ nonce (12 bytes) ‖ AES-GCM(header JSON ‖ "\\n" ‖ plan.bin)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ephemera.environment import Environment
from ephemera.errors import EphemeraError, UsageError
from ephemera.janitor.tfstate import STATE_KEY

KEY_VARIABLE = "EPHEMERA_PLAN_KEY"
MIN_SECRET = 32  # characters of the secret, at least
MAGIC = b"EPHPLAN1"
SUFFIX = ".plan.enc"
FORMAT = 1


@dataclass(frozen=True)
class StateVersion:
    """Which state a plan was made against: Terraform's serial and lineage (0, "" when
    there is no state yet)."""

    serial: int = 0
    lineage: str = ""

    def __str__(self) -> str:
        if not self.lineage:
            return "no state yet"
        return f"serial {self.serial} of lineage {self.lineage[:8]}"


@dataclass(frozen=True)
class SavedPlan:
    env: str
    fingerprint: str  # Fingerprint.digest at `commit`
    commit: str
    state: StateVersion
    root: str  # the project root the plan was made in
    plan: bytes  # plan.bin

    def mismatch(self, fingerprint: str, state: StateVersion, root: str) -> str:
        """Why this plan may not be applied now ("" when it may)."""
        if fingerprint != self.fingerprint:
            return f"its inputs changed since the plan of {self.commit[:12]}"
        if state != self.state:
            return f"the state moved on since the plan ({self.state} → {state})"
        if root != self.root:
            return f"it was made in {self.root}, this checkout is {root}"
        return ""


def plan_key(environ: Mapping[str, str] = os.environ) -> bytes | None:
    """The sealing key from EPHEMERA_PLAN_KEY (None when it is not set)."""
    secret = environ.get(KEY_VARIABLE, "")
    if not secret:
        return None
    if len(secret) < MIN_SECRET:
        raise UsageError(
            f"{KEY_VARIABLE}: at least {MIN_SECRET} characters of random text, e.g. "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"ephemera saved plans v1")
    return kdf.derive(secret.encode())


def require_key(environ: Mapping[str, str] = os.environ) -> bytes:
    key = plan_key(environ)
    if key is None:
        raise UsageError(
            f"{KEY_VARIABLE} is not set: saved plans are sealed with it; add it as a "
            "repository secret (README, Pull requests)"
        )
    return key


def _aad(env: str) -> bytes:
    return MAGIC + b"\0" + env.encode()


def seal(saved: SavedPlan, key: bytes) -> bytes:
    header = {
        "format": FORMAT,
        "env": saved.env,
        "fingerprint": saved.fingerprint,
        "commit": saved.commit,
        "serial": saved.state.serial,
        "lineage": saved.state.lineage,
        "root": saved.root,
    }
    nonce = os.urandom(12)
    plaintext = json.dumps(header, sort_keys=True).encode() + b"\n" + saved.plan
    return MAGIC + nonce + AESGCM(key).encrypt(nonce, plaintext, _aad(saved.env))


def unseal(data: bytes, env: str, key: bytes) -> SavedPlan:
    """The saved plan of `env`; EphemeraError when it is not one, or not `env`'s, or was
    sealed with another key or altered."""
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 12 + 16:
        raise EphemeraError(f"{env}: the saved plan is not a sealed Ephemera plan")
    nonce, sealed = data[len(MAGIC) : len(MAGIC) + 12], data[len(MAGIC) + 12 :]
    try:
        plaintext = AESGCM(key).decrypt(nonce, sealed, _aad(env))
    except InvalidTag:
        raise EphemeraError(
            f"{env}: the saved plan does not open with {KEY_VARIABLE}: sealed with another "
            "key, for another environment, or altered"
        ) from None
    header_text, _, plan = plaintext.partition(b"\n")
    header: dict[str, Any] = json.loads(header_text)
    return SavedPlan(
        env=header["env"],
        fingerprint=header["fingerprint"],
        commit=header["commit"],
        state=StateVersion(int(header["serial"]), str(header["lineage"])),
        root=header["root"],
        plan=plan,
    )


def path_of(directory: Path, env: str) -> Path:
    return Path(directory) / f"{env}{SUFFIX}"


def write(directory: Path, saved: SavedPlan, key: bytes) -> Path:
    path = path_of(directory, saved.env)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(seal(saved, key))
    return path


def read(directory: Path | None, env: str, key: bytes) -> SavedPlan | None:
    """`env`'s saved plan in `directory`; None when there is none."""
    if directory is None:
        return None
    path = path_of(directory, env)
    if not path.is_file():
        return None
    return unseal(path.read_bytes(), env, key)


def state_version(env: Environment, session: Any = None) -> StateVersion:
    """The serial and lineage of `env`'s state in the state bucket (target aws)."""
    import boto3  # only the aws target has a remote state
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = env.aws.get("state_bucket")
    session = session or boto3.Session(region_name=env.region or env.aws.get("region"))
    key = STATE_KEY.format(env=env.name)
    try:
        body = session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return StateVersion()
        raise EphemeraError(f"{env.name}: cannot read s3://{bucket}/{key}: {exc}") from None
    except BotoCoreError as exc:
        raise EphemeraError(f"{env.name}: cannot read s3://{bucket}/{key}: {exc}") from None
    try:
        state = json.loads(body)
        return StateVersion(int(state["serial"]), str(state.get("lineage") or ""))
    except (ValueError, KeyError, TypeError):
        raise EphemeraError(f"{env.name}: s3://{bucket}/{key} is not a Terraform state") from None
