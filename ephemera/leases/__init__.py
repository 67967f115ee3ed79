"""Leases: the runtime record of each live environment, and its run history.

`LeaseStore` is the interface; `SqliteLeaseStore` is the local implementation.
Every lease write is compare-and-swap on `version`, so no update is lost.
"""

from ephemera.leases.base import (
    ACTIVE,
    CLAIMED,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    STATUSES,
    UNTRACKED,
    Lease,
    LeaseConflict,
    LeaseStore,
    OpLock,
    RunRecord,
    new_run_id,
)
from ephemera.leases.holders import Holder
from ephemera.leases.sqlite import SqliteLeaseStore


def __getattr__(name: str):  # noqa: ANN202 - lazy: boto3 is slow to import
    if name == "DynamoLeaseStore":
        from ephemera.leases.dynamodb import DynamoLeaseStore

        return DynamoLeaseStore
    raise AttributeError(name)


__all__ = [
    "ACTIVE",
    "CLAIMED",
    "DEPLOYING",
    "DESTROYED",
    "DESTROYING",
    "DynamoLeaseStore",
    "FAILED",
    "STATUSES",
    "UNTRACKED",
    "Holder",
    "Lease",
    "LeaseConflict",
    "LeaseStore",
    "OpLock",
    "RunRecord",
    "SqliteLeaseStore",
    "new_run_id",
]
