"""One operation per environment at a time: the operation lock around a plan, deploy,
destroy or drift, taken before any work and renewed by a heartbeat while it runs.

A second operation fails within a second naming the holder (`OperationLocked`, exit 1)
and writes nothing; a lock whose holder is gone is taken over, with a notice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ephemera.faults import pause_point
from ephemera.leases import Holder, LeaseConflict, OpLock, new_run_id
from ephemera.leases.holders import holder_here
from ephemera.leases.oplock import HEARTBEAT_SECONDS, acquire, release, renew
from ephemera.lifecycle.context import Context, close_terraform, terraform_for


@contextmanager
def operation(ctx: Context, env: str, op: str, run_op: str | None = None) -> Iterator[Holder]:
    """Hold `env`'s operation lock for `op`; yields the holder, whose `run_id` names the
    run record: `ctx.run_id` when the caller chose it, else a new id whose middle part
    is `run_op` (default `op`)."""
    now = ctx.clock()
    holder = holder_here(ctx.run_id or new_run_id(run_op or op, now), op, now)
    lock, replaced = acquire(ctx.store, env, holder, now)
    if replaced is not None:
        ctx.say(f"==> {env}: took over the operation lock of {replaced.holder.describe()}")
    heartbeat = _Heartbeat(ctx, lock)
    heartbeat.start()
    terraform_for(ctx, env)  # its embedded Terraform loads while the operation validates
    try:
        pause_point("after-lock")
        yield holder
    finally:
        heartbeat.stop()
        close_terraform(ctx, env)
        release(ctx.store, heartbeat.lock)


class _Heartbeat(threading.Thread):
    """Renews the lock every HEARTBEAT_SECONDS until stopped; a lock somebody took over
    meanwhile is reported once and no longer renewed."""

    def __init__(self, ctx: Context, lock: OpLock) -> None:
        super().__init__(name=f"heartbeat-{lock.env}", daemon=True)
        self.ctx = ctx
        self.lock = lock
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.lock = renew(self.ctx.store, self.lock, self.ctx.clock())
            except LeaseConflict:
                self.ctx.say(f"==> {self.lock.env}: warning: the operation lock was taken over")
                return
            except Exception as exc:  # noqa: BLE001 - a failed renewal must not kill the run
                self.ctx.say(f"==> {self.lock.env}: warning: the lock was not renewed: {exc}")

    def stop(self) -> None:
        self._stopped.set()
        if self.is_alive():
            self.join()
