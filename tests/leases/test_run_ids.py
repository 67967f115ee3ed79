"""ephemera.leases.new_run_id: the one run id, used by ephemera.runs and the janitor."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from ephemera import runs
from ephemera.janitor import extend, sweep
from ephemera.leases import new_run_id

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_the_id_names_the_utc_second_and_the_op() -> None:
    assert re.fullmatch(r"20261122T120000Z-extend-[0-9a-f]{10}", new_run_id("extend", NOW))
    two_hours_east = NOW.astimezone(timezone(timedelta(hours=2)))
    assert new_run_id("deploy", two_hours_east).startswith("20261122T120000Z-deploy-")


def test_ids_sharing_one_now_are_distinct() -> None:
    assert len({new_run_id("extend", NOW) for _ in range(10_000)}) == 10_000


def test_ids_sort_by_time() -> None:
    times = [NOW + timedelta(seconds=s) for s in (0, 1, 59, 3600, 86400 * 40)]
    ids = [new_run_id(op, t) for t, op in zip(times, "zyxwv", strict=True)]
    assert sorted(ids) == ids


def test_runs_and_the_janitor_use_the_same_function() -> None:
    assert runs.new_run_id is new_run_id
    assert extend.new_run_id is new_run_id and sweep.new_run_id is new_run_id
    assert not hasattr(sweep, "_new_run_id") and not hasattr(extend, "_new_run_id")
