"""A moto server on 127.0.0.1 for the benchmarks that need AWS (the S3 state backend,
DynamoDB leases): started on a free port, stopped when the `with` block ends."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from benchmarks.project import free_port

REGION = "us-east-1"


@dataclass(frozen=True)
class Moto:
    endpoint: str

    def env(self) -> dict[str, str]:
        """Variables that point boto3 and Terraform's S3 backend at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }

    def client(self, service: str) -> Any:
        import boto3

        env = self.env()
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )
        return session.client(service, endpoint_url=self.endpoint)


@contextmanager
def moto_server() -> Iterator[Moto]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        moto = Moto(f"http://127.0.0.1:{port}")
        _wait(moto.endpoint)
        yield moto
    finally:
        server.terminate()
        server.wait(timeout=10)


def _wait(endpoint: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # noqa: S310
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not start")
