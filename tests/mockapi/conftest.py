"""Fixtures of the mock API tests."""

from __future__ import annotations

import pytest

from .helpers import free_port


@pytest.fixture
def port() -> int:
    """A port nothing listens on right now."""
    return free_port()
