"""One JSON POST over urllib, for the webhook notifier and the GitHub dispatcher.

Stdlib only: the Lambda package carries it without extra dependencies.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

Opener = Callable[..., Any]


class PostFailed(Exception):
    """The POST did not get an answer, or got an HTTP error: `detail` says which."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def post_json(
    url: str,
    payload: Any,
    *,
    headers: Mapping[str, str] | None = None,
    opener: Opener | None = None,
    timeout: float = 10.0,
) -> tuple[int, str]:
    """POST `payload` as JSON; returns (status, body text) or raises PostFailed."""
    if not url.startswith(("https://", "http://")):
        raise PostFailed(f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=json.dumps(payload, sort_keys=True, default=str).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "ephemera", **(headers or {})},
    )
    try:
        with (opener or urllib.request.urlopen)(request, timeout=timeout) as response:
            return int(getattr(response, "status", 200)), response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        raise PostFailed(f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:1000]}") from exc
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections
        raise PostFailed(f"{type(exc).__name__}: {exc}") from exc
