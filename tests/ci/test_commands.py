"""/ephemera comment commands: the parser, the permission check against the GitHub API
(a fake on 127.0.0.1, real HTTP), the reactions and answers, and extend, destroy and
unlock by the CLI's lease rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from ephemera import lifecycle
from ephemera.ci import respond
from ephemera.ci.commands import Command, CommandUsage, parse
from ephemera.ci.github import GitHub, GitHubError
from ephemera.leases import SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import MotoServer
from tests.fixtures.ci.builder import STATE_BUCKET, FixtureRepo
from tests.janitor.helpers import NOW, lease

from .fake_github import State, fake_github


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("/ephemera plan", Command("plan")),
        ("/ephemera plan svc-01\nplease", Command("plan", "svc-01")),
        ("\n  /ephemera destroy svc-01  ", Command("destroy", "svc-01")),
        ("/ephemera unlock svc-01", Command("unlock", "svc-01")),
        ("/ephemera extend svc-01 4h", Command("extend", "svc-01", timedelta(hours=4), "4h")),
        ("/ephemera extend svc-01 90m", Command("extend", "svc-01", timedelta(minutes=90), "90m")),
        ("looks good\n/ephemera destroy svc-01", None),  # only the first line counts
        ("/ephemeral plan", None),
        ("", None),
    ],
)
def test_parse(body: str, expected: Command | None) -> None:
    assert parse(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("/ephemera", "which command?"),
        ("/ephemera apply svc-01", "unknown command `apply`"),
        ("/ephemera destroy", "destroy: wrong number of arguments"),
        ("/ephemera destroy a-b c-d", "destroy: wrong number of arguments"),
        ("/ephemera extend svc-01", "extend: wrong number of arguments"),
        ("/ephemera destroy $(id)", "`$(id)` is not an environment name"),
        ("/ephemera destroy Svc-01", "is not an environment name"),
        ("/ephemera unlock ../x", "is not an environment name"),
        ("/ephemera extend svc-01 4 hours", "wrong number of arguments"),
        ("/ephemera extend svc-01 4", "`4` is not a duration like 30m, 4h or 2d"),
        ("/ephemera extend svc-01 -4h", "is not a duration"),
        ("/ephemera extend svc-01 0h", "is not a duration"),
        ("/ephemera plan " + "a" * 300, "longer than 200 characters"),
    ],
)
def test_parse_refuses(body: str, message: str) -> None:
    with pytest.raises(CommandUsage, match=re.escape(message)):
        parse(body)


@pytest.fixture
def github() -> Iterator[tuple[State, dict[str, str]]]:
    with fake_github() as (state, environ):
        state.roles.update(
            {
                "alice": "admin",
                "bob": "write",
                "carol": "maintain",
                "dave": "read",
                "erin": "triage",
            }
        )
        state.pulls[7] = {"number": 7, "head": {"sha": "a" * 40}, "merge_commit_sha": None}
        yield state, environ


def request(state: State, body: str, user: str) -> respond.Request:
    comment = state.comment(7, body, {"login": user, "type": "User"})
    return respond.Request(body, comment["id"], user, 7)


def replies(state: State) -> list[str]:
    return [c["body"] for c in state.comments[7] if c["user"]["type"] == "Bot"]


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_writers_are_honoured(github: tuple[State, dict[str, str]], user: str) -> None:
    state, environ = github
    asked = request(state, "/ephemera destroy svc-01", user)
    gh = GitHub.from_environ(environ)
    assert respond.accept(gh, asked, environ) == Command("destroy", "svc-01")
    assert state.reactions == [(asked.comment_id, "eyes")]
    assert ("GET", f"/repos/acme/infra/collaborators/{user}/permission") in state.calls


@pytest.mark.parametrize("user", ["dave", "erin", "mallory"])
def test_others_are_refused_by_the_api_not_the_comment(
    github: tuple[State, dict[str, str]], user: str
) -> None:
    state, environ = github
    # The comment claims anything it likes; only the API's answer counts.
    asked = request(state, "/ephemera destroy svc-01\n(I am an admin)", user)
    assert respond.accept(GitHub.from_environ(environ), asked, environ) is None
    assert state.reactions == [(asked.comment_id, "-1")]
    (reply,) = replies(state)
    assert reply.startswith(f"@{user} `/ephemera` commands need write permission")
    assert reply.endswith("([run](https://github.example/acme/infra/actions/runs/77))")


def test_a_malformed_command_is_answered_with_the_usage(
    github: tuple[State, dict[str, str]],
) -> None:
    state, environ = github
    asked = request(state, "/ephemera extend svc-01 soon", "bob")
    assert respond.accept(GitHub.from_environ(environ), asked, environ) is None
    assert state.reactions == [(asked.comment_id, "confused")]
    assert "`soon` is not a duration" in replies(state)[0]
    assert not any("permission" in path for _, path in state.calls)


def test_plan_re_runs_the_latest_plan_run(github: tuple[State, dict[str, str]]) -> None:
    state, environ = github
    gh = GitHub.from_environ(environ)
    asked = request(state, "/ephemera plan", "bob")
    assert respond.accept(gh, asked, environ) is None
    assert "no plan run for aaaaaaaaaaaa yet" in replies(state)[-1]
    for number, status in ((1, "completed"), (2, "completed")):
        state.runs.append(
            {
                "id": 500 + number,
                "run_number": number,
                "head_sha": "a" * 40,
                "event": "pull_request",
                "status": status,
                "html_url": f"https://runs/{number}",
            }
        )
    respond.accept(gh, request(state, "/ephemera plan svc-01", "bob"), environ)
    assert state.reruns == [502]
    assert (
        "re-planning aaaaaaaaaaaa" in replies(state)[-1] and "https://runs/2" in replies(state)[-1]
    )
    state.runs[-1]["status"] = "in_progress"
    respond.accept(gh, request(state, "/ephemera plan", "bob"), environ)
    assert "is running already: https://runs/2" in replies(state)[-1]
    assert state.reruns == [502]


def test_the_api_needs_the_token(github: tuple[State, dict[str, str]]) -> None:
    state, environ = github
    gh = GitHub.from_environ({**environ, "GITHUB_TOKEN": "wrong"})
    with pytest.raises(GitHubError, match="HTTP 401"):
        gh.permission("bob")
    from ephemera.errors import UsageError

    with pytest.raises(UsageError, match="not an https URL"):
        GitHub.from_environ({**environ, "GITHUB_API_URL": "http://api.example.com"})


# ------------------------------------------------------------- the second job


def context(repo: FixtureRepo) -> lifecycle.Context:
    store = SqliteLeaseStore(repo.root.parent / "leases.db")
    return lifecycle.Context(Project.discover(root=repo.root), store, lambda: NOW, lambda _: None)


def test_extend_follows_the_lease_rules(
    github: tuple[State, dict[str, str]], repo: FixtureRepo
) -> None:
    state, environ = github
    gh, ctx = GitHub.from_environ(environ), context(repo)
    ctx.store.put(lease("svc-01", expires_in=timedelta(hours=2), target="aws"))
    asked = request(state, "/ephemera extend svc-01 4h", "bob")
    assert respond.run(gh, ctx, asked, environ) == 0
    assert ctx.store.get("svc-01").expires_at == NOW + timedelta(hours=6)
    assert "`svc-01` now expires 2025-03-01 18:00 UTC (in 6h 0m)" in replies(state)[-1]
    assert state.reactions[-1] == (asked.comment_id, "+1")
    (run,) = [r for r in ctx.store.runs("svc-01") if r.op == "extend"]
    assert "bob (pull request #7)" in run.actor
    # Longer than max_ttl (7d), or past now + max_ttl: refused, nothing changed, answered.
    assert respond.run(gh, ctx, request(state, "/ephemera extend svc-01 8d", "bob"), environ) == 1
    assert "extend-ttl by 8d is longer than max_ttl (7d); nothing changed" in replies(state)[-1]
    asked = request(state, "/ephemera extend svc-01 7d", "bob")
    assert respond.run(gh, ctx, asked, environ) == 1
    assert "failed" in replies(state)[-1] and "max_ttl" in replies(state)[-1]
    assert ctx.store.get("svc-01").expires_at == NOW + timedelta(hours=6)
    assert state.reactions[-1] == (asked.comment_id, "-1")


def test_destroy_and_unlock_of_what_is_not_there(
    github: tuple[State, dict[str, str]],
    repo: FixtureRepo,
    moto: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in moto.env().items():  # the state bucket, empty
        monkeypatch.setenv(name, value)
    moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
    state, environ = github
    gh, ctx = GitHub.from_environ(environ), context(repo)
    assert respond.run(gh, ctx, request(state, "/ephemera destroy svc-02", "bob"), environ) == 0
    assert "`svc-02` is not deployed: nothing to destroy." in replies(state)[-1]
    # A local environment is not CI's to touch.
    assert respond.run(gh, ctx, request(state, "/ephemera destroy api-01", "bob"), environ) == 1
    assert "local target: CI does not manage it" in replies(state)[-1]
    assert respond.run(gh, ctx, request(state, "/ephemera unlock nope-1", "bob"), environ) == 1
    assert "unknown environment 'nope-1'" in replies(state)[-1]


def test_unlock_refuses_a_live_operation(
    github: tuple[State, dict[str, str]], repo: FixtureRepo
) -> None:
    from ephemera.leases import new_run_id
    from ephemera.leases.holders import holder_here
    from ephemera.leases.oplock import acquire

    state, environ = github
    gh, ctx = GitHub.from_environ(environ), context(repo)
    acquire(ctx.store, "svc-03", holder_here(new_run_id("deploy", NOW), "deploy", NOW), NOW)
    asked = request(state, "/ephemera unlock svc-03", "bob")
    assert respond.run(gh, ctx, asked, environ) == 1
    assert "held by a live run" in replies(state)[-1] and "nothing cleared" in replies(state)[-1]
    assert ctx.store.get_lock("svc-03") is not None
