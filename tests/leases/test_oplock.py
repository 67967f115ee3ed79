"""The operation lock and stale claims (ephemera.leases.oplock), on both stores: a live
holder blocks, a dead process on this host or a passed deadline is taken over."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from ephemera.leases.base import ACTIVE, DEPLOYING, DESTROYING, Lease, LeaseStore
from ephemera.leases.holders import Holder, holder_here, is_gone, process_start, this_host
from ephemera.leases.oplock import (
    LOCK_TTL,
    OperationLocked,
    acquire,
    claim_is_stale,
    release,
    renew,
)

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def dead_pid() -> int:
    """The pid of a process that has run and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def me(run: str = "run-me") -> Holder:
    return holder_here(run, "deploy", NOW)


def gone_here(run: str = "run-dead") -> Holder:
    return Holder(run, "deploy", this_host(), dead_pid(), NOW)


def elsewhere(run: str = "run-far") -> Holder:
    return Holder(run, "deploy", "another-host", dead_pid(), NOW)


def test_a_holder_is_gone_only_when_its_process_ended_here() -> None:
    assert not is_gone(me())
    assert is_gone(gone_here())
    assert not is_gone(elsewhere())  # another host: only its deadline tells
    reused = Holder("r", "deploy", this_host(), os.getpid(), NOW, pid_start=1)
    assert process_start(os.getpid()) != 1 and is_gone(reused)  # the pid was reused


def test_acquire_then_a_second_operation_is_refused_naming_the_holder(store: LeaseStore) -> None:
    lock, replaced = acquire(store, "qa", me(), NOW)
    assert replaced is None and lock.deadline == NOW + LOCK_TTL
    with pytest.raises(OperationLocked) as refused:
        acquire(store, "qa", holder_here("run-two", "plan", NOW), NOW)
    message = refused.value.message
    assert refused.value.exit_code == 1
    assert f"deploy run run-me on {this_host()} (pid {os.getpid()})" in message
    assert "make unlock ENV=qa" in message
    assert store.get_lock("qa") == lock and store.get("qa") is None  # nothing else written


def test_a_lock_whose_process_is_gone_is_taken_over(store: LeaseStore) -> None:
    dead, _ = acquire(store, "qa", gone_here(), NOW)
    lock, replaced = acquire(store, "qa", me(), NOW + timedelta(seconds=1))
    assert replaced == dead and lock.holder.run_id == "run-me"


def test_a_lock_from_another_host_runs_out_at_its_deadline(store: LeaseStore) -> None:
    far, _ = acquire(store, "qa", elsewhere(), NOW)
    with pytest.raises(OperationLocked):
        acquire(store, "qa", me(), far.deadline - timedelta(seconds=1))
    _, replaced = acquire(store, "qa", me(), far.deadline)
    assert replaced == far


def test_renew_pushes_the_deadline_and_release_removes_only_ours(store: LeaseStore) -> None:
    lock, _ = acquire(store, "qa", elsewhere(), NOW)
    renewed = renew(store, lock, NOW + LOCK_TTL)
    with pytest.raises(OperationLocked):
        acquire(store, "qa", me(), NOW + LOCK_TTL + timedelta(seconds=1))
    assert release(store, lock) is False  # an old copy of the lock releases nothing
    assert release(store, renewed) is True and store.get_lock("qa") is None


def claimed(env: str, holder: Holder, deadline: datetime, status: str = DEPLOYING) -> Lease:
    return Lease(
        env=env,
        target="local",
        stack="s",
        owner="o@example.com",
        status=status,
        created_at=NOW,
        expires_at=NOW + timedelta(hours=8),
        holder=holder,
        claim_deadline=deadline,
    )


def test_stale_claims(store: LeaseStore) -> None:
    later = NOW + timedelta(hours=1)
    store.create(claimed("alive", me(), NOW))  # deadline passed, but its lock is live
    acquire(store, "alive", me(), later)
    store.create(claimed("dead-here", gone_here(), later + timedelta(hours=1)))
    store.create(claimed("far-running", elsewhere(), later + timedelta(minutes=1)))
    store.create(claimed("far-expired", elsewhere(), later, status=DESTROYING))
    store.create(claimed("active", gone_here(), NOW, status=ACTIVE))
    stale = {lease.env: claim_is_stale(store, lease, later) for lease in store.list()}
    assert stale == {
        "active": False,  # not a claimed state
        "alive": False,
        "dead-here": True,
        "far-expired": True,
        "far-running": False,
    }
