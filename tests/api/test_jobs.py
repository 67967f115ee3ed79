"""The run state machine and the book of runs: every edge, the refused ones, progress,
Idempotency-Keys, one active run per environment; the pool (threads, a launcher that
records what it was asked) and cancel of a queued run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ephemera.api.jobs import (
    CANCELED,
    FAILED,
    QUEUED,
    RUNNING,
    STATES,
    SUCCEEDED,
    TERMINAL,
    BadTransition,
    EnvironmentBusy,
    IdempotencyConflict,
    Job,
    JobBook,
)
from ephemera.api.worker import Outcome, Pool

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
EDGES = {
    (QUEUED, RUNNING),
    (QUEUED, CANCELED),
    (QUEUED, FAILED),
    (RUNNING, SUCCEEDED),
    (RUNNING, FAILED),
    (RUNNING, CANCELED),
}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def job(run_id: str = "r1", env: str = "dev", op: str = "deploy", tmp: Path = Path("/tmp")) -> Job:  # noqa: S108
    return Job(run_id, env, op, "alice", NOW, tmp / f"{run_id}.log")


def at(state: str) -> tuple[JobBook, Job]:
    """A book holding one run in `state`, reached through the machine's own edges."""
    book = JobBook(Clock())
    booked, _ = book.add(job(), None, "f")
    path = {QUEUED: [], RUNNING: [RUNNING], CANCELED: [CANCELED], FAILED: [FAILED]}
    for step in path.get(state, [RUNNING, state]):
        booked = book.move(booked.id, step)
    return book, booked


@pytest.mark.parametrize("source", STATES)
@pytest.mark.parametrize("target", STATES)
def test_every_edge_of_the_machine(source: str, target: str) -> None:
    book, booked = at(source)
    assert booked.state == source
    if (source, target) in EDGES:
        assert book.move(booked.id, target).state == target
    else:
        with pytest.raises(BadTransition):
            book.move(booked.id, target)
        assert book.get(booked.id).state == source


def test_times_and_progress_follow_the_state() -> None:
    clock = Clock()
    book = JobBook(clock)
    booked, _ = book.add(job(), None, "f")
    assert booked.progress() == {"step": 0, "of": 5} and booked.started_at is None
    clock.now = NOW + timedelta(seconds=3)
    running = book.move(booked.id, RUNNING)
    assert running.started_at == clock.now and running.ended_at is None
    assert book.note(booked.id, phase="plan").progress() == {"step": 3, "of": 5}
    clock.now = NOW + timedelta(seconds=9)
    done = book.move(booked.id, SUCCEEDED)
    assert done.ended_at == clock.now and done.progress() == {"step": 5, "of": 5}
    assert book.note(booked.id, phase="init").phase == "plan"  # an ended run is not noted
    assert job(op="destroy").progress() == {"step": 0, "of": 3}


def test_idempotency_keys_return_the_run_they_started() -> None:
    clock = Clock()
    book = JobBook(clock)
    first, new = book.add(job("r1"), ("token", "k"), "deploy dev")
    assert new
    again, new = book.add(job("r2"), ("token", "k"), "deploy dev")
    assert (again.id, new) == ("r1", False)
    with pytest.raises(IdempotencyConflict):
        book.add(job("r3"), ("token", "k"), "destroy dev")
    book.move("r1", CANCELED)
    other_token, new = book.add(job("r4"), ("another token", "k"), "deploy dev")
    assert (other_token.id, new) == ("r4", True)  # keys belong to their token
    book.move("r4", CANCELED)
    clock.now = NOW + timedelta(hours=25)  # keys are kept a day
    fresh, new = book.add(job("r5"), ("token", "k"), "destroy dev")
    assert (fresh.id, new) == ("r5", True)


def test_one_active_run_per_environment() -> None:
    book = JobBook(Clock())
    book.add(job("r1", env="dev"), None, "")
    with pytest.raises(EnvironmentBusy) as busy:
        book.add(job("r2", env="dev"), None, "")
    assert busy.value.job.id == "r1" and "r1 (deploy) is queued" in busy.value.message
    assert book.add(job("r3", env="qa"), None, "")[1]
    book.move("r1", RUNNING)
    book.move("r1", FAILED)
    assert book.add(job("r4", env="dev"), None, "")[1]


def test_the_book_forgets_the_oldest_ended_runs() -> None:
    book = JobBook(Clock(), keep=3)
    for n in range(5):
        book.add(job(f"r{n}", env=f"e{n}"), None, "")
        book.move(f"r{n}", CANCELED)
    assert [j.id for j in book.list()] == ["r4", "r3", "r2"]


class Recorder:
    """A launcher that waits for `release`, so tests hold runs where they want them."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = threading.Event()

    def run(self, job: Job, book: JobBook) -> Outcome:
        self.started.append(job.id)
        self.release.wait(10)
        return Outcome(SUCCEEDED, 0)


def test_the_pool_is_bounded_and_cancels_queued_runs_at_once(tmp_path: Path) -> None:
    book = JobBook(Clock())
    launcher = Recorder()
    pool = Pool(book, {"local": launcher}, workers=1)
    first, _ = book.add(job("r1", env="a", tmp=tmp_path), None, "")
    second, _ = book.add(job("r2", env="b", tmp=tmp_path), None, "")
    pool.submit(first)
    pool.submit(second)
    while book.get("r1").state != RUNNING:
        threading.Event().wait(0.01)
    assert book.get("r2").state == QUEUED  # one worker: the second waits
    canceled = pool.cancel("r2")
    assert canceled.state == CANCELED and canceled.cancel_requested
    assert "canceled before it started" in (tmp_path / "r2.log").read_text()
    asked = pool.cancel("r1")
    assert asked.state == RUNNING and asked.cancel_requested  # the launcher stops it
    launcher.release.set()
    pool.shutdown(timeout=10)
    assert launcher.started == ["r1"] and book.get("r1").state == SUCCEEDED
    assert {j.state for j in book.list()} <= set(TERMINAL)


def test_a_launcher_that_raises_fails_the_run_not_the_pool(tmp_path: Path) -> None:
    class Broken:
        def run(self, job: Job, book: JobBook) -> Outcome:
            raise OSError("no such program")

    book = JobBook(Clock())
    pool = Pool(book, {"local": Broken()}, workers=1)
    booked, _ = book.add(job("r1", tmp=tmp_path), None, "")
    pool.submit(booked)
    while not book.get("r1").done:
        threading.Event().wait(0.01)
    pool.shutdown(timeout=10)
    ended = book.get("r1")
    assert ended.state == FAILED and "could not start: no such program" in ended.error
