"""A pull-request comment command honoured and answered (`ephemera.ci.commands`).

`accept` (the first job, no AWS): parse the comment, check the commenter's
permission with the API (write, maintain or admin: never the comment's text), react
(👀 accepted, 👎 refused, 😕 malformed), and for `plan` re-run the pull request's
latest plan run, answering with its link. `run` (the second job: the apply role, the
environment's concurrency group) does extend, destroy or unlock by the CLI's rules
(`janitor.extend`, `lifecycle.destroy`, the operation and state locks) and answers in
the thread with the result and a link to the run (👍 done, 👎 failed).

What they read comes from the job's environment: COMMENT_BODY, COMMENT_ID,
COMMENT_USER, PR_NUMBER.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ephemera import config, lifecycle, session
from ephemera.ci import actions, publish, targets
from ephemera.ci.commands import Command, CommandUsage, parse
from ephemera.ci.github import WRITE, GitHub, GitHubError
from ephemera.durations import format_remaining, format_when
from ephemera.errors import EphemeraError, UsageError
from ephemera.janitor.extend import extend_by
from ephemera.leases.oplock import is_live

NOT_CONFIGURED = (
    "set the repository variables EPHEMERA_APPLY_ROLE_ARN and AWS_REGION "
    "(the outputs of make bootstrap; README, The AWS path)"
)


@dataclass(frozen=True)
class Request:
    """Who asked what, where."""

    body: str
    comment_id: int
    user: str
    pr: int

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Request:
        try:
            return cls(
                environ.get("COMMENT_BODY", ""),
                int(environ.get("COMMENT_ID", "")),
                environ.get("COMMENT_USER", ""),
                int(environ.get("PR_NUMBER", "")),
            )
        except ValueError:
            raise EphemeraError("COMMENT_ID and PR_NUMBER must be numbers") from None

    def reply(self, gh: GitHub, text: str, environ: Mapping[str, str]) -> None:
        url = actions.run_url(environ)
        link = f" ([run]({url}))" if url else ""
        gh.create_comment(self.pr, f"@{self.user} {text}{link}")


def accept(gh: GitHub, request: Request, environ: Mapping[str, str]) -> Command | None:
    """The command to run next (extend, destroy, unlock); None when there is none
    (not a command, malformed, refused, or `plan`, done here)."""
    try:
        command = parse(request.body)
    except CommandUsage as exc:
        gh.react(request.comment_id, "confused")
        request.reply(gh, exc.message, environ)
        return None
    if command is None:
        return None
    role = gh.permission(request.user)
    if role not in WRITE:
        gh.react(request.comment_id, "-1")
        request.reply(
            gh,
            f"`/ephemera` commands need write permission on this repository (yours: {role}).",
            environ,
        )
        return None
    gh.react(request.comment_id, "eyes")
    if command.name == "plan":
        request.reply(gh, _replan(gh, request.pr, command), environ)
        return None
    return command


def _replan(gh: GitHub, pr: int, command: Command) -> str:
    head = (gh.pull_request(pr).get("head") or {}).get("sha") or ""
    run = publish.latest_plan_run(gh, head, completed=False)
    if run is None:
        return (
            f"`{command}`: no plan run for {head[:12]} yet (the plan workflow runs when a "
            "push touches environments, stacks, templates, schemas, policies or prices)."
        )
    link = run.get("html_url", "")
    if run.get("status") != "completed":
        return f"`{command}`: a plan of {head[:12]} is running already: {link}"
    try:
        gh.rerun(int(run["id"]))
    except GitHubError as exc:
        return f"`{command}`: the plan could not be re-run: {exc.message}"
    which = f" (`{command.env}` is planned if this pull request affects it)" if command.env else ""
    return f"`{command}`: re-planning {head[:12]}, every affected environment{which}: {link}"


def run(gh: GitHub, ctx: lifecycle.Context, request: Request, environ: Mapping[str, str]) -> int:
    """Run the accepted command of `request`; answer in the thread. Exit code 1 on failure."""
    command = parse(request.body)
    assert command is not None and command.name in ("extend", "destroy", "unlock")
    if targets.no_aws_role(environ):
        answer = "AWS is not configured for this repository's workflows: " + NOT_CONFIGURED
        actions.add_summary(f"### /ephemera {command.name} skipped\n\n{answer}\n", environ)
        request.reply(gh, f"`{command}`: {answer}", environ)
        return 0
    try:
        answer = _do(ctx, command, request)
    except EphemeraError as exc:
        gh.react(request.comment_id, "-1")
        request.reply(gh, f"`{command}` failed: {_first_lines(exc.message)}", environ)
        return 1
    gh.react(request.comment_id, "+1")
    request.reply(gh, f"`{command}`: {answer}", environ)
    return 0


def _first_lines(text: str, count: int = 6) -> str:
    lines = text.splitlines()
    shown = "\n".join(lines[:count]) + ("\n…" if len(lines) > count else "")
    return f"\n```\n{shown.replace('```', '')}\n```"


def _do(ctx: lifecycle.Context, command: Command, request: Request) -> str:
    env = config.load_environment(ctx.project, command.env)
    if env.target == "local":
        raise EphemeraError(
            f"{env.name}: local target: CI does not manage it (its lease is on the "
            "machine that deployed it); run make there"
        )
    who = f"{request.user} (pull request #{request.pr})"
    if command.name == "extend":
        now = ctx.clock()
        lease = extend_by(
            ctx.store,
            env.name,
            command.duration,
            now=now,
            max_ttl=env.max_ttl,
            actor=who,
            reason=f"/ephemera extend {command.duration_text}",
        )
        assert lease.expires_at is not None
        remaining = format_remaining(lease.expires_at - now)
        return f"`{env.name}` now expires {format_when(lease.expires_at)} (in {remaining})."
    if command.name == "destroy":
        if lifecycle.never_deployed(ctx, env.name, ctx.store.get(env.name)):
            return f"`{env.name}` is not deployed: nothing to destroy."
        left = lifecycle.destroy(ctx, env.name, reason=f"/ephemera destroy by {who}")
        if left:
            raise EphemeraError(f"{env.name}: destroy left resources behind: {', '.join(left)}")
        return f"`{env.name}` is destroyed."
    return _unlock(ctx, env.name)


def _unlock(ctx: lifecycle.Context, name: str) -> str:
    """The CLI's unlock, confirmed by the comment: only a dead run's locks are cleared."""
    held = ctx.store.get_lock(name)
    if is_live(held, ctx.clock()):
        assert held is not None
        raise EphemeraError(
            f"{name}: the operation lock is held by a live run ({held.holder.describe()}): "
            "wait for it; nothing cleared"
        )
    done = []
    if held is not None:
        ctx.store.delete_lock(held)
        done.append(f"cleared the operation lock of {held.holder.describe()}")
    lock = lifecycle.find_lock(ctx, name)
    if lock is not None:
        lifecycle.force_unlock(ctx, name, lock["ID"])
        done.append(f"released the state lock of {lock.get('Who', '?')}")
    return ("; ".join(done) or f"`{name}` holds no lock") + "."


def command_entry(step: str, environ: Mapping[str, str] = os.environ) -> int:
    """`invoke ci-command --accept | --run`: the two jobs of the commands workflow.
    `--accept` writes `command` and `env` to $GITHUB_OUTPUT ("" when nothing is left
    to run)."""
    gh, request = GitHub.from_environ(environ), Request.from_environ(environ)
    if step == "accept":
        command = accept(gh, request, environ)
        actions.set_outputs(
            {"command": command.name if command else "", "env": command.env if command else ""},
            environ,
        )
        return 0
    if step == "run":
        return run(gh, session.context(), request, environ)
    raise UsageError("ci-command: --accept or --run")
