"""Dispatchers: local, CodeBuild (moto server), GitHub (a local stand-in for its API),
and the tagged-leftovers check (moto's Resource Groups Tagging API)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ephemera.errors import CommandError
from ephemera.janitor.dispatch import (
    CodeBuildDispatcher,
    DispatchResult,
    GitHubDispatcher,
    LocalDispatcher,
    tagged_leftovers,
)
from ephemera.leases import DESTROYING, Lease

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LEASE = Lease(
    env="qa-api",
    target="aws",
    stack="mock-api",
    owner="alice@example.com",
    status=DESTROYING,
    created_at=NOW,
    expires_at=NOW,
)


def test_dispatch_result_outcomes_are_checked() -> None:
    with pytest.raises(ValueError):
        DispatchResult("maybe")


# ------------------------------------------------------------------ local


def test_local_dispatcher_destroyed_when_nothing_is_left() -> None:
    calls = []
    result = LocalDispatcher(lambda env: calls.append(env) or []).destroy(LEASE)
    assert calls == ["qa-api"]
    assert result.outcome == "destroyed" and result.leftovers == []


def test_local_dispatcher_failed_with_leftovers_or_errors() -> None:
    left = LocalDispatcher(lambda env: ["aws_s3_bucket.site", "aws_sns_topic.t"]).destroy(LEASE)
    assert left.outcome == "failed"
    assert left.leftovers == ["aws_s3_bucket.site", "aws_sns_topic.t"]
    assert "2 resource(s) still in the state" in left.detail

    def crash(env: str) -> list[str]:
        raise CommandError("terraform destroy qa-api", ["terraform", "destroy"], 1, "", "boom")

    failed = LocalDispatcher(crash).destroy(LEASE)
    assert failed.outcome == "failed" and "exit code 1" in failed.detail


# ------------------------------------------------------------------ codebuild


def test_codebuild_dispatcher_starts_a_build_with_env(moto) -> None:
    codebuild = moto.codebuild_project("ephemera-destroy")
    # moto does not keep environmentVariablesOverride, so record the request botocore sends.
    sent = []
    codebuild.meta.events.register(
        "before-send.codebuild.StartBuild", lambda request, **_: sent.append(request.body)
    )

    result = CodeBuildDispatcher(codebuild, "ephemera-destroy").destroy(LEASE)

    assert result.outcome == "dispatched"
    build_id = result.detail.removeprefix("codebuild build ")
    assert build_id.startswith("ephemera-destroy:")
    [build] = codebuild.batch_get_builds(ids=[build_id])["builds"]
    assert build["projectName"] == "ephemera-destroy"
    [body] = sent
    request = json.loads(body)
    assert request["projectName"] == "ephemera-destroy"
    assert {"name": "ENV", "value": "qa-api", "type": "PLAINTEXT"} in request[
        "environmentVariablesOverride"
    ]
    assert {"name": "AUTO_APPROVE", "value": "1", "type": "PLAINTEXT"} in request[
        "environmentVariablesOverride"
    ]


def test_codebuild_dispatcher_failed_for_a_missing_project(moto) -> None:
    result = CodeBuildDispatcher(moto.client("codebuild"), "nope").destroy(LEASE)
    assert result.outcome == "failed" and "StartBuild failed" in result.detail


# ------------------------------------------------------------------ github


class FakeGitHub:
    """A local HTTP server standing in for api.github.com."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 204
        self.reply = b""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(
                    {"path": self.path, "headers": self.headers, "body": self.rfile.read(length)}
                )
                self.send_response(fake.status)
                self.send_header("Content-Length", str(len(fake.reply)))
                self.end_headers()
                self.wfile.write(fake.reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    yield fake
    fake.close()


@pytest.fixture
def secrets(moto):
    client = moto.client("secretsmanager")
    client.create_secret(Name="ephemera/github-token", SecretString="ghp_testtoken123")
    client.create_secret(Name="ephemera/github-json", SecretString='{"token": "ghs_fromjson"}')
    return client


def test_github_dispatcher_posts_workflow_dispatch(github: FakeGitHub, secrets) -> None:
    dispatcher = GitHubDispatcher(
        secrets, "ephemera/github-token", "acme/infra", api_url=github.url
    )
    result = dispatcher.destroy(LEASE)
    assert result.outcome == "dispatched", result.detail
    [request] = github.requests
    assert request["path"] == "/repos/acme/infra/actions/workflows/destroy.yml/dispatches"
    assert request["headers"]["Authorization"] == "Bearer ghp_testtoken123"
    assert request["headers"]["Accept"] == "application/vnd.github+json"
    assert json.loads(request["body"]) == {"ref": "main", "inputs": {"env": "qa-api"}}


def test_github_dispatcher_token_may_be_json_and_ref_workflow_custom(
    github: FakeGitHub, secrets
) -> None:
    dispatcher = GitHubDispatcher(
        secrets,
        "ephemera/github-json",
        "acme/infra",
        workflow="teardown.yml",
        ref="release",
        api_url=github.url + "/",
    )
    assert dispatcher.destroy(LEASE).outcome == "dispatched"
    [request] = github.requests
    assert request["path"] == "/repos/acme/infra/actions/workflows/teardown.yml/dispatches"
    assert request["headers"]["Authorization"] == "Bearer ghs_fromjson"
    assert json.loads(request["body"])["ref"] == "release"


def test_github_dispatcher_4xx_is_failed_with_the_response_text(
    github: FakeGitHub, secrets
) -> None:
    github.status = 422
    github.reply = b'{"message": "Unexpected inputs provided: [\\"env\\"]"}'
    result = GitHubDispatcher(
        secrets, "ephemera/github-token", "acme/infra", api_url=github.url
    ).destroy(LEASE)
    assert result.outcome == "failed"
    assert "HTTP 422" in result.detail and "Unexpected inputs provided" in result.detail


def test_github_dispatcher_non_204_success_and_missing_secret(github, secrets) -> None:
    github.status = 200
    github.reply = b"hello"
    result = GitHubDispatcher(
        secrets, "ephemera/github-token", "acme/infra", api_url=github.url
    ).destroy(LEASE)
    assert result.outcome == "failed" and "expected HTTP 204, got 200" in result.detail

    missing = GitHubDispatcher(secrets, "ephemera/nope", "acme/infra", api_url=github.url)
    result = missing.destroy(LEASE)
    assert result.outcome == "failed" and "cannot read the token ephemera/nope" in result.detail


def test_github_dispatcher_unreachable_api(secrets) -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = GitHubDispatcher(
        secrets, "ephemera/github-token", "acme/infra", api_url=f"http://127.0.0.1:{port}"
    ).destroy(LEASE)
    assert result.outcome == "failed" and "github acme/infra destroy.yml" in result.detail


# ------------------------------------------------------------------ tagged leftovers


def test_tagged_leftovers_finds_tagged_resources(moto) -> None:
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="qa-api-site")
    s3.put_bucket_tagging(
        Bucket="qa-api-site",
        Tagging={"TagSet": [{"Key": "ephemera:env", "Value": "qa-api"}]},
    )
    s3.create_bucket(Bucket="other-site")
    s3.put_bucket_tagging(
        Bucket="other-site", Tagging={"TagSet": [{"Key": "ephemera:env", "Value": "other"}]}
    )
    sns = moto.client("sns")
    topic = sns.create_topic(
        Name="qa-api-alerts", Tags=[{"Key": "ephemera:env", "Value": "qa-api"}]
    )
    tagging = moto.client("resourcegroupstaggingapi")

    found = tagged_leftovers(tagging, "qa-api")

    assert found == sorted(["arn:aws:s3:::qa-api-site", topic["TopicArn"]])
    assert tagged_leftovers(tagging, "gone") == []


def test_tagged_leftovers_reads_every_page() -> None:
    class Pages:
        def get_paginator(self, name):
            assert name == "get_resources"
            return self

        def paginate(self, TagFilters):  # noqa: N803 - boto3's naming
            assert TagFilters == [{"Key": "ephemera:env", "Values": ["qa"]}]
            yield {"ResourceTagMappingList": [{"ResourceARN": "arn:b"}]}
            yield {"ResourceTagMappingList": [{"ResourceARN": "arn:a"}, {"ResourceARN": "arn:b"}]}
            yield {}

    assert tagged_leftovers(Pages(), "qa") == ["arn:a", "arn:b"]
