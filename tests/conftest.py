"""Shared fixtures. Area-specific fixtures live in the conftest.py of their folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def free_port() -> int:
    """A TCP port nothing listens on right now (bound to 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class MotoServer:
    endpoint: str
    region: str = "us-east-1"

    def env(self) -> dict[str, str]:
        """Variables that point boto3 and Terraform's AWS code at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
        }

    def session(self):  # noqa: ANN201 - boto3 is imported lazily
        import boto3

        return boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=self.region,
        )

    def client(self, service: str):  # noqa: ANN201
        return self.session().client(service, endpoint_url=self.endpoint)

    def codebuild_project(self, name: str):  # noqa: ANN201 - a boto3 codebuild client
        """A CodeBuild project `name` (and the role it runs as) on this server; returns
        the codebuild client."""
        role = self.client("iam").create_role(
            RoleName=f"{name}-build", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        codebuild = self.client("codebuild")
        codebuild.create_project(
            name=name,
            source={"type": "S3", "location": "ephemera-source/repo.zip"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole=role,
        )
        return codebuild

    def reset(self) -> None:
        """Drop every resource (moto's reset API), so tests do not see each other's."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - loopback only


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A real moto server process on 127.0.0.1 and a free port, for the whole session
    (one request at a time, as DynamoDB's atomic conditional writes need: see
    tests/moto_serial_server.py)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).parent / "moto_serial_server.py"),
            "127.0.0.1",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_CALL_RESET_API": "true"},
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # noqa: S310
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
    try:
        yield MotoServer(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def moto(moto_server: MotoServer) -> MotoServer:
    """The session's moto server, emptied before the test."""
    moto_server.reset()
    return moto_server
