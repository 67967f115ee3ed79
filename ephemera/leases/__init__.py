"""Leases: the runtime record of each live environment, and its run history.

`LeaseStore` is the interface; `SqliteLeaseStore` is the local implementation.
Every lease write is compare-and-swap on `version`, so no update is lost.
"""

from ephemera.leases.base import (
    ACTIVE,
    DEPLOYING,
    DESTROYED,
    DESTROYING,
    FAILED,
    STATUSES,
    Lease,
    LeaseConflict,
    LeaseStore,
    RunRecord,
    new_run_id,
)
from ephemera.leases.sqlite import SqliteLeaseStore


def __getattr__(name: str):  # noqa: ANN202 - lazy: boto3 is slow to import
    if name == "DynamoLeaseStore":
        from ephemera.leases.dynamodb import DynamoLeaseStore

        return DynamoLeaseStore
    raise AttributeError(name)


__all__ = [
    "ACTIVE",
    "DEPLOYING",
    "DESTROYED",
    "DESTROYING",
    "DynamoLeaseStore",
    "FAILED",
    "STATUSES",
    "Lease",
    "LeaseConflict",
    "LeaseStore",
    "RunRecord",
    "SqliteLeaseStore",
    "new_run_id",
]
