"""DynamoDB lease store: the AWS backend of `LeaseStore`, compare-and-swap on `version`.

Table layout (created by `create_tables`; terraform/bootstrap must declare the same):

Lease table `<table>` (billing PAY_PER_REQUEST)
    partition key   `env` (S); no sort key, one item per environment.
    GSI `status-expires_at`: partition `status` (S), sort `expires_at` (S), projection ALL.
        Sparse: a lease without `expires_at` is not in it, so `due()` never returns it
        (as in SQLite, where `NULL <= x` is never true).
    attributes      target, stack, owner, status (S);
                    created_at, applied_at, expires_at, next_attempt_at, status_changed_at (S,
                    ISO-8601 UTC fixed-width text from `ephemera.leases.codec.to_text`, so
                    string order is time order);
                    protected (BOOL); attempts, version (N);
                    warnings_sent (L of S); outputs (S, JSON text: lossless for floats,
                    nulls and nested values, which a DynamoDB map is not);
                    last_run_id, status_reason (S).
                    None values, an empty `warnings_sent` and empty `outputs` are omitted.

Run table `<table>-runs` (billing PAY_PER_REQUEST)
    partition key   `env` (S)
    sort key        `run_key` (S) = `<started_at text>#<run id>`: newest first is a Query with
                    ScanIndexForward=False; the id breaks ties between equal start times.
    attributes      id, op, actor, result (S); commit, started_at, ended_at, log_path,
                    detail, client (S, omitted when None); added, changed, destroyed (N).
    A second table, not items in the lease table: the lease table has no sort key, so runs
    stored there could not be read newest first by a Query.

Operation locks are items of the lease table under the key `lock#<env>` (environment
names cannot hold `#`): holder (S, JSON), deadline (S), version (N). They have no
`status`, so the index never holds them, and `list` leaves them out. Written with the
same conditions as leases (`attribute_not_exists(env)` / `version = :expected`); deleted
with `version = :expected`.

Writes:
    create       PutItem, ConditionExpression `attribute_not_exists(env)`, version 1.
    update       PutItem of the whole item, ConditionExpression `version = :expected`,
                 version + 1. A failed condition (ConditionalCheckFailedException) is
                 `LeaseConflict` in both cases.
    add_run,     PutItem without condition (idempotent, so botocore's automatic retries are
    finish_run   safe). A run is identified by (env, started_at, id): finish_run must be given
                 the same env and started_at as add_run.

Reads: `get`, `list` and `runs` are strongly consistent. `due` queries the GSI once per
status (`status = :s AND expires_at <= :before`), following LastEvaluatedKey; GSI reads are
eventually consistent, so a lease it returns may be slightly stale, which the caller's
compare-and-swap update then reports as `LeaseConflict`. `due` never scans; `list` scans
(it is the status listing), following LastEvaluatedKey.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from ephemera.leases.base import (
    LEASE_TIMES,
    Lease,
    LeaseConflict,
    LeaseStore,
    OpLock,
    RunRecord,
)
from ephemera.leases.codec import from_text, to_text
from ephemera.leases.holders import Holder

STATUS_EXPIRY_INDEX = "status-expires_at"
RUNS_TABLE_SUFFIX = "-runs"
LOCK_PREFIX = "lock#"

_LEASE_TEXTS = ("target", "stack", "owner", "status", "last_run_id", "status_reason")
_RUN_TEXTS = ("op", "actor", "commit", "result", "log_path", "detail", "client")
_RUN_COUNTS = ("added", "changed", "destroyed")


def runs_table_for(table_name: str) -> str:
    """The run table that goes with lease table `table_name`."""
    return table_name + RUNS_TABLE_SUFFIX


def table_definitions(table_name: str, runs_table_name: str | None = None) -> list[dict[str, Any]]:
    """`CreateTable` arguments for the lease table and its run table (the layout above)."""
    return [
        {
            "TableName": table_name,
            "AttributeDefinitions": [
                {"AttributeName": "env", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "expires_at", "AttributeType": "S"},
            ],
            "KeySchema": [{"AttributeName": "env", "KeyType": "HASH"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": STATUS_EXPIRY_INDEX,
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "expires_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": runs_table_name or runs_table_for(table_name),
            "AttributeDefinitions": [
                {"AttributeName": "env", "AttributeType": "S"},
                {"AttributeName": "run_key", "AttributeType": "S"},
            ],
            "KeySchema": [
                {"AttributeName": "env", "KeyType": "HASH"},
                {"AttributeName": "run_key", "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    ]


def create_tables(
    client: Any, table_name: str, runs_table_name: str | None = None, *, wait: bool = True
) -> None:
    """Create the lease table (with its GSI) and the run table; wait until both exist."""
    definitions = table_definitions(table_name, runs_table_name)
    for definition in definitions:
        client.create_table(**definition)
    if wait:
        waiter = client.get_waiter("table_exists")
        for definition in definitions:
            waiter.wait(
                TableName=definition["TableName"], WaiterConfig={"Delay": 1, "MaxAttempts": 300}
            )


def _text(value: str | None) -> dict[str, str] | None:
    return None if value is None else {"S": value}


def _number(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _compact(item: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any]]:
    return {name: value for name, value in item.items() if value is not None}


def _read_text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else value["S"]


def _lease_item(lease: Lease) -> dict[str, dict[str, Any]]:
    item: dict[str, dict[str, Any] | None] = {"env": {"S": lease.env}}
    for name in _LEASE_TEXTS:
        item[name] = _text(getattr(lease, name))
    for name in LEASE_TIMES:
        item[name] = _text(to_text(getattr(lease, name)))
    item["protected"] = {"BOOL": bool(lease.protected)}
    item["attempts"] = _number(lease.attempts)
    item["version"] = _number(lease.version)
    if lease.warnings_sent:
        item["warnings_sent"] = {"L": [{"S": rung} for rung in lease.warnings_sent]}
    if lease.outputs:
        item["outputs"] = {"S": json.dumps(lease.outputs, sort_keys=True)}
    if lease.holder:
        item["holder"] = {"S": json.dumps(lease.holder.to_dict(), sort_keys=True)}
    return _compact(item)


def _lease_from_item(item: dict[str, Any]) -> Lease:
    data: dict[str, Any] = {"env": item["env"]["S"]}
    for name in _LEASE_TEXTS:
        data[name] = _read_text(item, name)
    for name in ("target", "stack", "owner", "status"):
        data[name] = data[name] or ""
    for name in LEASE_TIMES:
        data[name] = from_text(_read_text(item, name))
    data["protected"] = bool(item.get("protected", {}).get("BOOL", False))
    data["attempts"] = int(item.get("attempts", {}).get("N", "0"))
    data["version"] = int(item["version"]["N"])
    data["warnings_sent"] = tuple(v["S"] for v in item.get("warnings_sent", {}).get("L", []))
    outputs = _read_text(item, "outputs")
    data["outputs"] = json.loads(outputs) if outputs else {}
    holder = _read_text(item, "holder")
    data["holder"] = Holder.from_dict(json.loads(holder)) if holder else None
    return Lease(**data)


def _run_key(run: RunRecord) -> str:
    return f"{to_text(run.started_at)}#{run.id}"


def _run_item(run: RunRecord) -> dict[str, dict[str, Any]]:
    item: dict[str, dict[str, Any] | None] = {
        "env": {"S": run.env},
        "run_key": {"S": _run_key(run)},
        "id": {"S": run.id},
        "started_at": _text(to_text(run.started_at)),
        "ended_at": _text(to_text(run.ended_at)),
    }
    for name in _RUN_TEXTS:
        item[name] = _text(getattr(run, name))
    for name in _RUN_COUNTS:
        item[name] = _number(getattr(run, name))
    return _compact(item)


def _run_from_item(item: dict[str, Any]) -> RunRecord:
    data: dict[str, Any] = {"id": item["id"]["S"], "env": item["env"]["S"]}
    for name in _RUN_TEXTS:
        data[name] = _read_text(item, name)
    data["op"] = data["op"] or ""
    data["actor"] = data["actor"] or ""
    data["result"] = data["result"] or "running"
    for name in _RUN_COUNTS:
        data[name] = int(item.get(name, {}).get("N", "0"))
    data["started_at"] = from_text(_read_text(item, "started_at"))
    data["ended_at"] = from_text(_read_text(item, "ended_at"))
    return RunRecord(**data)


def _condition_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoLeaseStore(LeaseStore):
    """Leases in a DynamoDB table, runs in `<table>-runs` (see the module docstring).

    `client` is a ready boto3 `dynamodb` client (thread-safe; build it from a session the
    caller owns). `page_size`, when set, is the `Limit` of every Query and Scan, so tests can
    force pagination; None lets DynamoDB fill each 1 MB page.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        runs_table_name: str | None = None,
        *,
        page_size: int | None = None,
    ) -> None:
        self.client = client
        self.table_name = table_name
        self.runs_table_name = runs_table_name or runs_table_for(table_name)
        self.page_size = page_size

    @classmethod
    def from_session(
        cls,
        session: Any,
        table_name: str,
        endpoint_url: str | None = None,
        *,
        runs_table_name: str | None = None,
        page_size: int | None = None,
    ) -> DynamoLeaseStore:
        """A store on a new `dynamodb` client from `session` (a boto3.Session).

        Without `endpoint_url`, boto3 uses `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`
        when set, else AWS.
        """
        client = session.client("dynamodb", endpoint_url=endpoint_url)
        return cls(client, table_name, runs_table_name, page_size=page_size)

    # -- leases ---------------------------------------------------------------------------

    def get(self, env: str) -> Lease | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"env": {"S": env}}, ConsistentRead=True
        )
        item = reply.get("Item")
        return None if item is None else _lease_from_item(item)

    def create(self, lease: Lease) -> Lease:
        written = lease.evolve(version=1)
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_lease_item(written),
                ConditionExpression="attribute_not_exists(#env)",
                ExpressionAttributeNames={"#env": "env"},
            )
        except ClientError as exc:
            if _condition_failed(exc):
                raise LeaseConflict(f"{lease.env}: a lease already exists") from exc
            raise
        return written

    def update(self, lease: Lease) -> Lease:
        written = lease.evolve(version=lease.version + 1)
        try:
            self.client.put_item(
                TableName=self.table_name, Item=_lease_item(written), **_version_is(lease.version)
            )
        except ClientError as exc:
            if _condition_failed(exc):
                raise LeaseConflict(
                    f"{lease.env}: the lease changed since it was read (version {lease.version})"
                ) from exc
            raise
        return written

    def list(self) -> list[Lease]:
        items = self._pages("scan", TableName=self.table_name, ConsistentRead=True)
        leases = (_lease_from_item(i) for i in items if not i["env"]["S"].startswith(LOCK_PREFIX))
        return sorted(leases, key=lambda lease: lease.env)

    def due(self, statuses: tuple[str, ...], before: datetime) -> list[Lease]:
        found: list[Lease] = []
        for status in dict.fromkeys(statuses):
            items = self._pages(
                "query",
                TableName=self.table_name,
                IndexName=STATUS_EXPIRY_INDEX,
                KeyConditionExpression="#status = :status AND #expires_at <= :before",
                ExpressionAttributeNames={"#status": "status", "#expires_at": "expires_at"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":before": {"S": to_text(before)},
                },
            )
            found.extend(_lease_from_item(i) for i in items)
        return sorted(found, key=lambda lease: (to_text(lease.expires_at), lease.env))

    # -- operation locks ------------------------------------------------------------------

    def get_lock(self, env: str) -> OpLock | None:
        reply = self.client.get_item(
            TableName=self.table_name, Key={"env": {"S": LOCK_PREFIX + env}}, ConsistentRead=True
        )
        item = reply.get("Item")
        return None if item is None else _lock_from_item(env, item)

    def put_lock(self, lock: OpLock, expected: OpLock | None) -> OpLock:
        written = lock.evolve(version=1 if expected is None else expected.version + 1)
        if expected is None:
            condition: dict[str, Any] = {
                "ConditionExpression": "attribute_not_exists(#env)",
                "ExpressionAttributeNames": {"#env": "env"},
            }
        else:
            condition = _version_is(expected.version)
        try:
            self.client.put_item(TableName=self.table_name, Item=_lock_item(written), **condition)
        except ClientError as exc:
            if _condition_failed(exc):
                raise LeaseConflict(f"{lock.env}: the operation lock changed") from exc
            raise
        return written

    def delete_lock(self, lock: OpLock) -> bool:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"env": {"S": LOCK_PREFIX + lock.env}},
                **_version_is(lock.version),
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    # -- runs -----------------------------------------------------------------------------

    def add_run(self, run: RunRecord) -> None:
        self.client.put_item(TableName=self.runs_table_name, Item=_run_item(run))

    def finish_run(self, run: RunRecord) -> None:
        self.client.put_item(TableName=self.runs_table_name, Item=_run_item(run))

    def runs(self, env: str, limit: int = 50) -> list[RunRecord]:
        if limit <= 0:
            return []
        items = self._pages(
            "query",
            limit=limit,
            TableName=self.runs_table_name,
            KeyConditionExpression="#env = :env",
            ExpressionAttributeNames={"#env": "env"},
            ExpressionAttributeValues={":env": {"S": env}},
            ScanIndexForward=False,
            ConsistentRead=True,
        )
        return [_run_from_item(i) for i in islice(items, limit)]

    # -- paging ---------------------------------------------------------------------------

    def _pages(
        self, operation: str, limit: int | None = None, **params: Any
    ) -> Iterator[dict[str, Any]]:
        """Every item of a Query or Scan, page after page (LastEvaluatedKey)."""
        sizes = [size for size in (self.page_size, limit) if size]
        if sizes:
            params["Limit"] = min(sizes)
        call = getattr(self.client, operation)
        while True:
            page = call(**params)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last


def _version_is(version: int) -> dict[str, Any]:
    return {
        "ConditionExpression": "#version = :expected",
        "ExpressionAttributeNames": {"#version": "version"},
        "ExpressionAttributeValues": {":expected": _number(version)},
    }


def _lock_item(lock: OpLock) -> dict[str, dict[str, Any]]:
    return {
        "env": {"S": LOCK_PREFIX + lock.env},
        "holder": {"S": json.dumps(lock.holder.to_dict(), sort_keys=True)},
        "deadline": {"S": to_text(lock.deadline) or ""},
        "version": _number(lock.version),
    }


def _lock_from_item(env: str, item: dict[str, Any]) -> OpLock:
    deadline = from_text(item["deadline"]["S"])
    assert deadline is not None
    holder = Holder.from_dict(json.loads(item["holder"]["S"]))
    return OpLock(env=env, holder=holder, deadline=deadline, version=int(item["version"]["N"]))
