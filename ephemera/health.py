"""Is a deployed environment answering? One short HTTP request, never raises.

`probe` is the one HTTP probe of the project: `is_healthy` here (the `status`
command's health column) and `ephemera.mockapi.process.is_healthy` (is the local mock
API up?) both use it. A loopback URL (localhost, 127.0.0.0/8, ::1) is always reached
directly: HTTP_PROXY / HTTPS_PROXY are for leaving this machine, and a proxy cannot
reach our localhost. Other URLs follow the proxy variables (and NO_PROXY) unless the
caller asks for a direct connection.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

BODY_LIMIT = 64 * 1024  # bytes of the answer kept, at most
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
    except (OSError, ValueError):  # URLError is an OSError
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
    """True when `url` answers below 500; False when it does not; None without a url.
    A URL ending in `/status` (MockServer's) is asked with PUT, others with GET."""
    if url is None:
        return None
    method = "PUT" if url.endswith("/status") else "GET"
    answer = probe(url, method=method, timeout=timeout)
    return answer is not None and answer.status < 500


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
