"""DynamoDB-specific behaviour: table layout, item format, Query-only `due`, paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ephemera.leases.base import ACTIVE, DESTROYED, FAILED, Lease, LeaseConflict, RunRecord
from ephemera.leases.dynamodb import (
    STATUS_EXPIRY_INDEX,
    DynamoLeaseStore,
    create_tables,
    runs_table_for,
    table_definitions,
)

TABLE = "leases-test"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def make_lease(env: str, **changes: Any) -> Lease:
    lease = Lease(
        env=env, target="aws", stack="mock-api", owner="alice", status=ACTIVE, created_at=NOW
    )
    return lease.evolve(**changes)


class CallLog:
    """Records every DynamoDB operation a client makes, with its parameters."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("before-parameter-build.dynamodb", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def client(moto) -> Any:
    dynamodb = moto.client("dynamodb")
    create_tables(dynamodb, TABLE)
    return dynamodb


@pytest.fixture
def store(client: Any) -> DynamoLeaseStore:
    return DynamoLeaseStore(client, TABLE)


def test_create_tables_matches_the_documented_layout(client: Any) -> None:
    table = client.describe_table(TableName=TABLE)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["KeySchema"] == [{"AttributeName": "env", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert sorted(
        (a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]
    ) == [("env", "S"), ("expires_at", "S"), ("status", "S")]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == STATUS_EXPIRY_INDEX == "status-expires_at"
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "expires_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "ALL"}

    runs = client.describe_table(TableName=f"{TABLE}-runs")["Table"]
    assert runs_table_for(TABLE) == f"{TABLE}-runs"
    assert runs["KeySchema"] == [
        {"AttributeName": "env", "KeyType": "HASH"},
        {"AttributeName": "run_key", "KeyType": "RANGE"},
    ]
    assert runs["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert not runs.get("GlobalSecondaryIndexes")


def test_table_definitions_name_the_run_table(moto) -> None:
    lease_table, runs_table = table_definitions("a", "b")
    assert (lease_table["TableName"], runs_table["TableName"]) == ("a", "b")
    client = moto.client("dynamodb")
    create_tables(client, "main", "history")
    store = DynamoLeaseStore(client, "main", "history")
    store.add_run(RunRecord("r1", "dev", "apply", "alice", None, NOW))
    assert [r.id for r in store.runs("dev")] == ["r1"]
    assert client.scan(TableName="history")["Count"] == 1


def test_lease_item_format(client: Any, store: DynamoLeaseStore) -> None:
    store.create(make_lease("bare"))
    item = client.get_item(TableName=TABLE, Key={"env": {"S": "bare"}})["Item"]
    assert item == {
        "env": {"S": "bare"},
        "target": {"S": "aws"},
        "stack": {"S": "mock-api"},
        "owner": {"S": "alice"},
        "status": {"S": "active"},
        "created_at": {"S": "2030-01-01T12:00:00.000000+00:00"},
        "protected": {"BOOL": False},
        "attempts": {"N": "0"},
        "version": {"N": "1"},
    }

    store.create(
        make_lease(
            "full",
            expires_at=NOW + HOUR,
            protected=True,
            warnings_sent=("24h",),
            attempts=2,
            outputs={"url": "http://x", "ratio": 0.5},
            last_run_id="r9",
        )
    )
    item = client.get_item(TableName=TABLE, Key={"env": {"S": "full"}})["Item"]
    assert item["expires_at"] == {"S": "2030-01-01T13:00:00.000000+00:00"}
    assert item["protected"] == {"BOOL": True}
    assert item["warnings_sent"] == {"L": [{"S": "24h"}]}
    assert item["attempts"] == {"N": "2"}
    assert json.loads(item["outputs"]["S"]) == {"url": "http://x", "ratio": 0.5}
    assert item["last_run_id"] == {"S": "r9"}
    assert "applied_at" not in item and "status_reason" not in item


def test_run_item_key(client: Any, store: DynamoLeaseStore) -> None:
    store.add_run(RunRecord("r1", "dev", "apply", "alice", None, NOW))
    [item] = client.scan(TableName=f"{TABLE}-runs")["Items"]
    assert item["env"] == {"S": "dev"}
    assert item["run_key"] == {"S": "2030-01-01T12:00:00.000000+00:00#r1"}
    assert item["added"] == {"N": "0"}
    assert "commit" not in item and "ended_at" not in item


def test_due_queries_the_index_and_never_scans(client: Any) -> None:
    store = DynamoLeaseStore(client, TABLE, page_size=2)
    for i in range(9):
        store.create(
            make_lease(
                f"env-{i}", status=(ACTIVE, FAILED, DESTROYED)[i % 3], expires_at=NOW - i * HOUR
            )
        )
    log = CallLog(client)
    due = store.due((ACTIVE, FAILED), NOW)
    assert [lease.env for lease in due] == ["env-7", "env-6", "env-4", "env-3", "env-1", "env-0"]
    assert "Scan" not in log.names()
    assert set(log.names()) == {"Query"}
    assert len(log.calls) >= 4  # 3 due leases per status, 2 per page: 2+ pages each
    for _, params in log.calls:
        assert params["IndexName"] == STATUS_EXPIRY_INDEX
        assert params["Limit"] == 2
    starts = [params.get("ExclusiveStartKey") for _, params in log.calls]
    assert starts[0] is None and any(starts)


def test_due_without_page_size_still_never_scans(client: Any, store: DynamoLeaseStore) -> None:
    blob = "y" * 150_000
    for i in range(8):  # 1.2 MB: more than one page
        store.create(make_lease(f"big-{i}", expires_at=NOW - i * HOUR, outputs={"b": blob}))
    log = CallLog(client)
    assert len(store.due((ACTIVE,), NOW)) == 8
    assert set(log.names()) == {"Query"}
    assert len(log.calls) >= 2


def test_list_scans_every_page(client: Any) -> None:
    store = DynamoLeaseStore(client, TABLE, page_size=3)
    for i in range(10):
        store.create(make_lease(f"env-{i:02d}"))
    log = CallLog(client)
    assert [lease.env for lease in store.list()] == [f"env-{i:02d}" for i in range(10)]
    assert set(log.names()) == {"Scan"}
    assert len(log.calls) >= 4


def test_runs_query_newest_first_and_stop_at_limit(client: Any, store: DynamoLeaseStore) -> None:
    for minute in range(20):
        store.add_run(
            RunRecord(
                f"r{minute:02d}", "dev", "plan", "ci", None, NOW + minute * timedelta(minutes=1)
            )
        )
    log = CallLog(client)
    assert [r.id for r in store.runs("dev", limit=3)] == ["r19", "r18", "r17"]
    [(name, params)] = log.calls
    assert name == "Query"
    assert params["ScanIndexForward"] is False and params["Limit"] == 3
    assert store.runs("dev", limit=0) == []


def test_condition_failures_are_conflicts_other_errors_are_not(client: Any) -> None:
    store = DynamoLeaseStore(client, TABLE)
    created = store.create(make_lease("dev"))
    with pytest.raises(LeaseConflict):
        store.create(make_lease("dev"))
    with pytest.raises(LeaseConflict):
        store.update(created.evolve(version=0))
    missing = DynamoLeaseStore(client, "no-such-table")
    with pytest.raises(ClientError) as caught:
        missing.create(make_lease("dev"))
    assert not isinstance(caught.value, LeaseConflict)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_from_session_uses_the_endpoint_variables(moto, monkeypatch) -> None:
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    create_tables(moto.client("dynamodb"), TABLE)
    store = DynamoLeaseStore.from_session(moto.session(), TABLE)
    assert store.client.meta.endpoint_url == moto.endpoint
    assert store.runs_table_name == f"{TABLE}-runs"
    store.create(make_lease("dev"))
    assert store.get("dev").version == 1


def test_create_tables_refuses_existing_tables(client: Any) -> None:
    with pytest.raises(ClientError) as caught:
        create_tables(client, TABLE)
    assert caught.value.response["Error"]["Code"] == "ResourceInUseException"
