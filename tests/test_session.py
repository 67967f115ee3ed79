"""What a command takes from its environment for the provisioning API: the run id the
API chose (EPHEMERA_RUN_ID) and the pipe its lifecycle events go to (EPHEMERA_EVENTS_FD)."""

from __future__ import annotations

import json
import os

import pytest

from ephemera.errors import UsageError
from ephemera.lifecycle import no_events
from ephemera.session import events_to_fd, given_run_id


def test_events_go_to_the_named_descriptor_as_json_lines(monkeypatch) -> None:
    read_end, write_end = os.pipe()
    monkeypatch.setenv("EPHEMERA_EVENTS_FD", str(write_end))
    send = events_to_fd()
    send("phase", {"phase": "init"})
    send("counts", {"added": 1, "changed": 0, "destroyed": 2})
    os.close(write_end)
    with os.fdopen(read_end) as stream:
        lines = [json.loads(line) for line in stream]
    assert lines == [
        {"event": "phase", "phase": "init"},
        {"event": "counts", "added": 1, "changed": 0, "destroyed": 2},
    ]
    send("phase", {"phase": "plan"})  # the reader went away: the run goes on


def test_without_the_variables_nothing_listens_and_ids_are_new(monkeypatch) -> None:
    monkeypatch.delenv("EPHEMERA_EVENTS_FD", raising=False)
    monkeypatch.delenv("EPHEMERA_RUN_ID", raising=False)
    assert events_to_fd() is no_events and given_run_id() is None


def test_bad_values_are_usage_errors(monkeypatch) -> None:
    monkeypatch.setenv("EPHEMERA_EVENTS_FD", "stdout")
    with pytest.raises(UsageError, match="EPHEMERA_EVENTS_FD"):
        events_to_fd()
    monkeypatch.setenv("EPHEMERA_RUN_ID", "../../etc/passwd")
    with pytest.raises(UsageError, match="not a run id"):
        given_run_id()
    monkeypatch.setenv("EPHEMERA_RUN_ID", "20261201T101332Z-apply-001949cf95")
    assert given_run_id() == "20261201T101332Z-apply-001949cf95"
