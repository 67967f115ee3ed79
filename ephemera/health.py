"""Is a deployed environment answering? One short HTTP request, never raises.

`probe` is the one HTTP probe of the project: `is_healthy` and `check_all` here (deploy's
and drift's health check; the `status` command's health column) and
`ephemera.mockapi.process.is_healthy` (is the local mock API up?) all use it. A loopback
URL (localhost, 127.0.0.0/8, ::1) is always reached directly: HTTP_PROXY / HTTPS_PROXY
are for leaving this machine, and a proxy cannot reach our localhost. Other URLs follow
the proxy variables (and NO_PROXY) unless the caller asks for a direct connection.

`check_all` probes many URLs at once under one total deadline (`status`: default 3 s,
`EPHEMERA_HEALTH_TIMEOUT` or `status --timeout`): a silent or unreachable host costs at
most the deadline, never more, and whatever did not answer by then is UNKNOWN, never
healthy.
"""

from __future__ import annotations

import ipaddress
import queue
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

BODY_LIMIT = 64 * 1024  # bytes of the answer kept, at most
DEFAULT_DEADLINE = 3.0  # seconds for every probe of a `check_all` together
MAX_PARALLEL = 128  # probes in flight at once (a silent host holds one until the deadline)
HEALTHY, UNHEALTHY, UNKNOWN = "healthy", "unhealthy", "unknown"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _TimedOut(Exception):
    """No answer within the time given: unknown, not unhealthy (see `check_all`)."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes  # at most BODY_LIMIT bytes


def health_url(outputs: dict[str, Any]) -> str | None:
    """The stack's `health_url` output, else its `url` output."""
    for key in ("health_url", "url"):
        value = outputs.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    return None


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe(
    url: str, *, method: str = "GET", timeout: float = 2.0, direct: bool = False
) -> Answer | None:
    """One `method` request to the http(s) `url`: its status and (the start of) its body,
    an error status included; None when nothing answered (refused, timed out, no such
    host, not an http(s) URL). Direct, never through a proxy, for a loopback host or
    when `direct`; otherwise as the proxy environment variables say."""
    try:
        return _request(url, method, timeout, direct)
    except _TimedOut:
        return None


def _request(url: str, method: str, timeout: float, direct: bool) -> Answer | None:
    """`probe`, raising _TimedOut when the time ran out before an answer."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return None
        request = urllib.request.Request(url, method=method)  # noqa: S310 - http(s) only
        direct = direct or is_loopback(parts.hostname)
        opener = _DIRECT if direct else urllib.request.build_opener()  # proxies read now
        with opener.open(request, timeout=timeout) as response:
            return Answer(int(response.status), response.read(BODY_LIMIT))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, _drain(exc))
    except (OSError, ValueError) as exc:  # URLError is an OSError
        if isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError):
            raise _TimedOut from exc
        return None


def _drain(exc: urllib.error.HTTPError) -> bytes:
    """The body of an error answer (closed once read)."""
    try:
        return exc.read(BODY_LIMIT)
    except (OSError, ValueError):
        return b""
    finally:
        exc.close()


def is_healthy(url: str | None, timeout: float = 2.0) -> bool | None:
    """True when `url` answers below 500; False when it does not (in `timeout`); None
    without a url."""
    if url is None:
        return None
    return health(url, timeout) == HEALTHY


def health(url: str, timeout: float) -> str:
    """HEALTHY when `url` answers below 500, UNHEALTHY when it answers otherwise or
    nothing takes the connection, UNKNOWN when no answer came within `timeout`. A URL
    ending in `/status` (MockServer's) is asked with PUT, others with GET."""
    method = "PUT" if url.endswith("/status") else "GET"
    try:
        answer = _request(url, method, timeout, direct=False)
    except _TimedOut:
        return UNKNOWN
    return HEALTHY if answer is not None and answer.status < 500 else UNHEALTHY


def check_all(urls: Iterable[str], deadline: float = DEFAULT_DEADLINE) -> dict[str, str]:
    """`health` of every URL, probed concurrently, all within `deadline` seconds from now:
    a probe gets the time that is left when it starts, one still unanswered at the
    deadline (or never started, behind MAX_PARALLEL silent hosts) is UNKNOWN.

    The probes run in daemon threads that nobody waits for after the deadline: a name
    lookup, or a server sending a byte at a time, can outlive a socket timeout, and a
    pool's threads would be joined at exit (`make status` would wait for them)."""
    results = dict.fromkeys(urls, UNKNOWN)
    if not results:
        return results
    end = time.monotonic() + deadline
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for url in results:
        pending.put(url)
    found: dict[str, str] = {}
    lock = threading.Lock()
    workers = [
        threading.Thread(target=_probe_until, args=(pending, found, lock, end), daemon=True)
        for _ in range(min(MAX_PARALLEL, len(results)))
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(end - time.monotonic(), 0))
    with lock:  # what a straggler finds after this is not read
        results.update(found)
        found.clear()
    return results


def _probe_until(
    pending: queue.SimpleQueue[str], found: dict[str, str], lock: threading.Lock, end: float
) -> None:
    """Probe URLs from `pending` while time is left; each result into `found`."""
    while (left := end - time.monotonic()) > 0:
        try:
            url = pending.get_nowait()
        except queue.Empty:
            return
        result = health(url, left)
        with lock:
            found[url] = result


def connect_host(bind: str) -> str:
    """Where to reach a server bound to `bind`: loopback for a wildcard address."""
    try:
        address = ipaddress.ip_address(bind)
    except ValueError:
        return bind  # a host name
    if address.is_unspecified:
        return "::1" if address.version == 6 else "127.0.0.1"
    return bind


def endpoint(url: Any) -> tuple[str, int] | None:
    """(host, port) a URL names, a wildcard address as loopback; None for no URL."""
    if not isinstance(url, str):
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.hostname is None:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return connect_host(parts.hostname), port
