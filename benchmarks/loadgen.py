"""A bounded HTTP/1.1 load generator for 127.0.0.1: `connections` keep-alive
connections, each sending one GET after another until `total` requests are done
(or `deadline` seconds have passed). A server that closes the connection after a
response (werkzeug's) is reconnected to, and the reconnect counts in that request's
latency, as it would for a real client."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    latencies: list[float]  # seconds, one per request
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def _connection(
    port: int, request: bytes, budget: list[int], latencies: list[float], stop_at: float
) -> int:
    errors = 0
    reader = writer = None
    while budget[0] > 0 and time.perf_counter() < stop_at:
        budget[0] -= 1
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert reader is not None
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = _framing(head)
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            errors += 1
            close = True
        latencies.append(time.perf_counter() - started)
        if close and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()
    return errors


def _framing(head: bytes) -> tuple[int, bool]:
    length, close = 0, head.startswith(b"HTTP/1.0")
    for line in head.lower().split(b"\r\n")[1:]:
        if line.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif line.startswith(b"connection:"):
            close = b"close" in line
    return length, close


async def _run(port: int, path: str, connections: int, total: int, deadline: float) -> Result:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n\r\n".encode()
    budget = [total]
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + deadline
    errors = await asyncio.gather(
        *(_connection(port, request, budget, latencies, stop_at) for _ in range(connections))
    )
    return Result(len(latencies), time.perf_counter() - started, latencies, sum(errors))


def load(
    port: int, path: str, *, connections: int = 32, total: int = 10_000, deadline: float = 20
) -> Result:
    """Run the load on its own event loop (uvloop when installed)."""
    try:
        import uvloop

        return uvloop.run(_run(port, path, connections, total, deadline))
    except ImportError:
        return asyncio.run(_run(port, path, connections, total, deadline))
