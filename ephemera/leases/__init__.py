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
)
from ephemera.leases.sqlite import SqliteLeaseStore

__all__ = [
    "ACTIVE",
    "DEPLOYING",
    "DESTROYED",
    "DESTROYING",
    "FAILED",
    "STATUSES",
    "Lease",
    "LeaseConflict",
    "LeaseStore",
    "RunRecord",
    "SqliteLeaseStore",
]
