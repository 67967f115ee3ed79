"""Is a deployed environment answering? One short HTTP request, never raises."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any


def health_url(outputs: dict[str, Any]) -> str | None:
    """The stack's `health_url` output, else its `url` output."""
    for key in ("health_url", "url"):
        value = outputs.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            return value
    return None


def is_healthy(url: str | None, timeout: float = 2.0) -> bool | None:
    """True when `url` answers below 500; False when it does not; None without a url."""
    if url is None:
        return None
    method = "PUT" if url.endswith("/status") else "GET"
    request = urllib.request.Request(url, method=method)  # noqa: S310 - health_url admits http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only
            return int(response.status) < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except (OSError, ValueError):
        return False
