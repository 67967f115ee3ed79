"""Saved plans (ephemera.ci.saved): sealed so that they can be neither read, altered
nor passed off as another environment's without EPHEMERA_PLAN_KEY; what decides
whether one may be applied; the state's serial read from the bucket (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ephemera import config
from ephemera.ci import saved
from ephemera.errors import EphemeraError, UsageError
from ephemera.project import Project
from tests.conftest import MotoServer
from tests.fixtures.ci.builder import STATE_BUCKET, FixtureRepo

from .helpers import PLAN_KEY

PLAN = b"PK\x03\x04 a terraform plan with a secret: hunter2"
STATE = saved.StateVersion(4, "0b1c5f2e-lineage")


def plan(env: str = "svc-01") -> saved.SavedPlan:
    return saved.SavedPlan(env, "f" * 64, "c" * 40, STATE, "/home/runner/work/x/x", PLAN)


def test_sealed_and_opened_again(tmp_path: Path) -> None:
    key = saved.require_key(PLAN_KEY)
    path = saved.write(tmp_path, plan(), key)
    data = path.read_bytes()
    assert path.name == "svc-01.plan.enc" and path.stat().st_mode & 0o077 == 0
    assert b"hunter2" not in data and b"PK" not in data[8:] and b"svc-01" not in data
    assert saved.read(tmp_path, "svc-01", key) == plan()
    assert saved.read(tmp_path, "svc-02", key) is None and saved.read(None, "svc-01", key) is None
    assert saved.seal(plan(), key) != saved.seal(plan(), key)  # a fresh nonce each time


def test_a_plan_opens_only_with_its_key_for_its_environment(tmp_path: Path) -> None:
    key = saved.require_key(PLAN_KEY)
    sealed = saved.seal(plan(), key)
    other = saved.require_key({"EPHEMERA_PLAN_KEY": "o" * 40})
    with pytest.raises(EphemeraError, match="does not open with EPHEMERA_PLAN_KEY"):
        saved.unseal(sealed, "svc-01", other)
    with pytest.raises(EphemeraError, match="does not open"):
        saved.unseal(sealed, "svc-02", key)  # renamed to pass for another environment
    altered = bytearray(sealed)
    altered[-20] ^= 1
    with pytest.raises(EphemeraError, match="does not open"):
        saved.unseal(bytes(altered), "svc-01", key)
    with pytest.raises(EphemeraError, match="not a sealed Ephemera plan"):
        saved.unseal(PLAN, "svc-01", key)


def test_the_key() -> None:
    assert saved.plan_key({}) is None
    assert saved.plan_key({"EPHEMERA_PLAN_KEY": ""}) is None
    with pytest.raises(UsageError, match="at least 32 characters"):
        saved.plan_key({"EPHEMERA_PLAN_KEY": "short"})
    with pytest.raises(UsageError, match="EPHEMERA_PLAN_KEY is not set"):
        saved.require_key({})
    assert len(saved.require_key(PLAN_KEY)) == 32


def test_what_stops_a_saved_plan() -> None:
    made = plan()
    assert made.mismatch("f" * 64, STATE, made.root) == ""
    assert "inputs changed since the plan of cccccccccccc" in made.mismatch(
        "0" * 64, STATE, made.root
    )
    moved = saved.StateVersion(5, STATE.lineage)
    assert made.mismatch("f" * 64, moved, made.root) == (
        "the state moved on since the plan (serial 4 of lineage 0b1c5f2e → serial 5 of lineage "
        "0b1c5f2e)"
    )
    recreated = saved.StateVersion(4, "another-lineage")
    assert "moved on" in made.mismatch("f" * 64, recreated, made.root)
    assert "was made in /home/runner/work/x/x" in made.mismatch("f" * 64, STATE, "/elsewhere")


def test_the_state_serial_from_the_bucket(
    repo: FixtureRepo, moto: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=STATE_BUCKET)
    env = config.load_environment(Project.discover(root=repo.root), "svc-01")
    assert saved.state_version(env) == saved.StateVersion()
    assert str(saved.StateVersion()) == "no state yet"
    state = {"version": 4, "serial": 7, "lineage": "abc-123", "resources": []}
    s3.put_object(Bucket=STATE_BUCKET, Key="envs/svc-01/terraform.tfstate", Body=json.dumps(state))
    assert saved.state_version(env) == saved.StateVersion(7, "abc-123")
    s3.put_object(Bucket=STATE_BUCKET, Key="envs/svc-01/terraform.tfstate", Body=b"not json")
    with pytest.raises(EphemeraError, match="is not a Terraform state"):
        saved.state_version(env)
