"""The janitor Lambda against moto server: DynamoDB leases, SNS (read through SQS),
CodeBuild, Secrets Manager; a local stand-in for the GitHub API."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ephemera.errors import UsageError
from ephemera.leases import ACTIVE, DESTROYING, Lease
from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables
from tests.conftest import REPO_ROOT

HANDLER = REPO_ROOT / "lambda" / "ttl_janitor" / "handler.py"
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TABLE = "ephemera-leases"
PROJECT = "ephemera-destroy"


def load_handler():
    spec = importlib.util.spec_from_file_location("ttl_janitor_handler", HANDLER)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


janitor = load_handler()


def lease(env: str, expires_at: datetime, **fields) -> Lease:
    return Lease(
        env=env,
        target="aws",
        stack="mock-api",
        owner="alice@example.com",
        status=ACTIVE,
        created_at=expires_at - timedelta(hours=8),
        applied_at=expires_at - timedelta(hours=8),
        expires_at=expires_at,
        **fields,
    )


class Aws:
    """The control plane the bootstrap would create, on moto server."""

    def __init__(self, moto, monkeypatch) -> None:
        for name, value in moto.env().items():
            monkeypatch.setenv(name, value)  # boto3 finds moto through AWS_ENDPOINT_URL
        self.moto = moto
        create_tables(moto.client("dynamodb"), TABLE)
        self.store = DynamoLeaseStore(moto.client("dynamodb"), TABLE)
        sns = moto.client("sns")
        self.topic = sns.create_topic(Name="ephemera-notify")["TopicArn"]
        self.sqs = moto.client("sqs")
        self.queue = self.sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=queue_arn)
        self.codebuild = moto.codebuild_project(PROJECT)
        self.env = {
            "LEASE_TABLE": TABLE,
            "NOTIFY_TOPIC_ARN": self.topic,
            "DISPATCH": "codebuild",
            "CODEBUILD_PROJECT": PROJECT,
        }

    def settings(self, **extra: str):
        return janitor.Settings.from_environ({**self.env, **extra})

    def session(self):
        """A session whose clients record the StartBuild requests they send
        (moto does not keep environmentVariablesOverride)."""
        session = self.moto.session()
        self.started: list[dict] = []
        session.events.register(
            "before-send.codebuild.StartBuild",
            lambda request, **_: self.started.append(json.loads(request.body)),
        )
        return session

    def messages(self) -> list[dict]:
        found = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws(moto, monkeypatch) -> Aws:
    return Aws(moto, monkeypatch)


# ------------------------------------------------------------------ settings


def test_settings_defaults_and_parsing() -> None:
    settings = janitor.Settings.from_environ(
        {
            "LEASE_TABLE": "t",
            "NOTIFY_TOPIC_ARN": "arn:aws:sns:eu-west-1:1:n",
            "DISPATCH": "github",
            "GITHUB_REPO": "acme/infra",
            "GITHUB_TOKEN_SECRET": "ephemera/github-token",
            "DRY_RUN": "true",
            "MAX_DESTROYS": "3",
            "WARNINGS": "4h, 15m",
        }
    )
    assert settings.dispatch == "github" and settings.github_workflow == "destroy.yml"
    assert settings.dry_run is True and settings.max_destroys == 3
    assert settings.warnings == (timedelta(hours=4), timedelta(minutes=15))
    with pytest.raises(AttributeError):
        settings.dry_run = False  # frozen
    plain = janitor.Settings.from_environ(
        {
            "LEASE_TABLE": "t",
            "NOTIFY_TOPIC_ARN": "a",
            "DISPATCH": "codebuild",
            "CODEBUILD_PROJECT": "p",
        }
    )
    assert plain.dry_run is False and plain.max_destroys is None
    assert plain.warnings == (timedelta(hours=24), timedelta(hours=2), timedelta(minutes=30))


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(UsageError) as caught:
        janitor.Settings.from_environ(
            {"DISPATCH": "github", "DRY_RUN": "maybe", "MAX_DESTROYS": "-1", "WARNINGS": "2x"}
        )
    message = caught.value.message
    for needle in (
        "LEASE_TABLE is required",
        "NOTIFY_TOPIC_ARN is required",
        "GITHUB_REPO is required when DISPATCH=github",
        "GITHUB_TOKEN_SECRET is required",
        "DRY_RUN must be true or false",
        "MAX_DESTROYS must be a whole number",
        "WARNINGS:",
    ):
        assert needle in message
    with pytest.raises(UsageError, match="DISPATCH must be codebuild or github"):
        janitor.Settings.from_environ({"LEASE_TABLE": "t", "NOTIFY_TOPIC_ARN": "a"})


# ------------------------------------------------------------------ sweeps


def test_expired_lease_starts_a_codebuild_destroy(aws: Aws) -> None:
    aws.store.create(lease("qa-api", NOW - timedelta(minutes=1)))
    aws.store.create(lease("later", NOW + timedelta(days=3)))

    result = janitor.run(aws.settings(), aws.session(), NOW)

    [request] = aws.started
    assert request["projectName"] == PROJECT
    assert {"name": "ENV", "value": "qa-api", "type": "PLAINTEXT"} in request[
        "environmentVariablesOverride"
    ]
    qa = aws.store.get("qa-api")
    assert qa.status == DESTROYING
    builds = aws.codebuild.list_builds_for_project(projectName=PROJECT)["ids"]
    assert len(builds) == 1 and builds[0] in qa.status_reason
    assert [item["env"] for item in result["dispatched"]] == ["qa-api"]
    assert aws.store.get("later").status == ACTIVE
    [message] = aws.messages()
    assert message["MessageAttributes"]["kind"]["Value"] == "dispatched"
    assert "qa-api" in message["Subject"]

    # The next sweep leaves the destroying lease to its build.
    again = janitor.run(aws.settings(), aws.session(), NOW + timedelta(minutes=5))
    assert aws.started == [] and again["claimed"] == []


def test_warning_is_published_once(aws: Aws, capsys) -> None:
    aws.store.create(lease("qa-api", NOW + timedelta(minutes=90)))
    settings = aws.settings()

    first = janitor.run(settings, aws.session(), NOW)
    second = janitor.run(settings, aws.session(), NOW + timedelta(minutes=5))

    [message] = aws.messages()
    assert message["MessageAttributes"]["kind"]["Value"] == "warning"
    assert "invoke extend-ttl --env qa-api" in message["Message"]
    assert [item["env"] for item in first["warned"]] == ["qa-api"]
    assert second["warned"] == []
    assert aws.started == []
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2  # one JSON summary line per invocation
    assert json.loads(lines[0])["ttl_sweep"]["warned"][0]["env"] == "qa-api"


def test_warning_counts_resources_in_the_s3_state(aws: Aws) -> None:
    s3 = aws.moto.client("s3")
    s3.create_bucket(Bucket="ephemera-state")
    state = {
        "resources": [
            {"mode": "managed", "instances": [{}, {}]},
            {"mode": "managed", "instances": [{}]},
            {"mode": "data", "instances": [{}]},
        ]
    }
    s3.put_object(
        Bucket="ephemera-state",
        Key="envs/qa-api/terraform.tfstate",
        Body=json.dumps(state).encode(),
    )
    aws.store.create(lease("qa-api", NOW + timedelta(minutes=20)))
    janitor.run(aws.settings(STATE_BUCKET="ephemera-state"), aws.session(), NOW)
    [message] = aws.messages()
    assert "the 3 resources its Terraform state holds" in message["Message"]


def test_dry_run_and_max_destroys(aws: Aws) -> None:
    for i in range(3):
        aws.store.create(lease(f"env-{i}", NOW - timedelta(minutes=3 - i)))
    dry = janitor.run(aws.settings(DRY_RUN="1"), aws.session(), NOW)
    assert aws.started == [] and aws.messages() == []
    assert dry["dry_run"] is True and len(dry["claimed"]) == 3
    capped = janitor.run(aws.settings(MAX_DESTROYS="2"), aws.session(), NOW)
    started = [
        next(v["value"] for v in r["environmentVariablesOverride"] if v["name"] == "ENV")
        for r in aws.started
    ]
    assert started == ["env-0", "env-1"]  # the longest expired first
    assert [item["env"] for item in capped["skipped"]] == ["env-2"]
    assert aws.store.get("env-2").status == ACTIVE


def test_a_failed_dispatch_stops_no_other_environment(aws: Aws) -> None:
    aws.store.create(lease("a", NOW - timedelta(minutes=2)))
    aws.store.create(lease("b", NOW - timedelta(minutes=1)))
    aws.codebuild.delete_project(name=PROJECT)  # every StartBuild now fails
    result = janitor.run(aws.settings(), aws.session(), NOW)
    assert sorted(item["env"] for item in result["failed"]) == ["a", "b"]
    assert aws.store.get("a").attempts == 1 and aws.store.get("b").attempts == 1
    kinds = sorted(m["MessageAttributes"]["kind"]["Value"] for m in aws.messages())
    assert kinds == ["failed", "failed"]


def test_github_dispatch_from_lambda(aws: Aws) -> None:
    received = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            received.append((self.path, self.headers["Authorization"], self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        aws.moto.client("secretsmanager").create_secret(
            Name="ephemera/github-token", SecretString="ghp_lambda"
        )
        aws.store.create(lease("qa-api", NOW - timedelta(minutes=1)))
        settings = janitor.Settings.from_environ(
            {
                "LEASE_TABLE": TABLE,
                "NOTIFY_TOPIC_ARN": aws.topic,
                "DISPATCH": "github",
                "GITHUB_REPO": "acme/infra",
                "GITHUB_TOKEN_SECRET": "ephemera/github-token",
                "GITHUB_API_URL": f"http://127.0.0.1:{server.server_address[1]}",
            }
        )
        result = janitor.run(settings, aws.session(), NOW)
    finally:
        server.shutdown()
        server.server_close()
    [(path, auth, body)] = received
    assert path == "/repos/acme/infra/actions/workflows/destroy.yml/dispatches"
    assert auth == "Bearer ghp_lambda"
    assert json.loads(body) == {"ref": "main", "inputs": {"env": "qa-api"}}
    assert [item["env"] for item in result["dispatched"]] == ["qa-api"]


def test_handler_reads_settings_once_and_uses_the_system_clock(aws: Aws, monkeypatch) -> None:
    for name, value in aws.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(janitor, "_settings", None)
    aws.store.create(lease("old", datetime.now(UTC) - timedelta(minutes=1)))
    result = janitor.handler({}, None)
    assert [item["env"] for item in result["dispatched"]] == ["old"]
    assert aws.store.get("old").status == DESTROYING
    monkeypatch.setenv("LEASE_TABLE", "something-else")  # not re-read: cold start only
    assert janitor.settings().lease_table == TABLE
