"""The Invoke tasks: thin, typed entry points of `ephemera` (and of `invoke` in a
checkout, through tasks.py); the logic lives in `ephemera.cli.commands`.

Each task imports `ephemera.cli.commands` when it runs (so listing them stays fast) and
names the function it calls. The environment is positional where a task needs one
(`ephemera deploy local-demo`; `--env` works too).
"""

from __future__ import annotations

from invoke import Collection, Context, task

# the provisioning API's tasks (serve, token-create, token-list, token-revoke)
from ephemera.cli.apitasks import serve, token_create, token_list, token_revoke  # noqa: F401
from ephemera.cli.taskbase import Whole, prestart_terraform
from ephemera.cli.taskbase import run_command as _run

ENV_HELP = {"env": "environment name (a file environments/<name>.yaml); positional"}


@task(help={"env": "validate only this environment", "json": "the verdict as JSON (docs/json.md)"})
def validate(c: Context, env: str = "", json: bool = False) -> None:
    """Validate environment files: structure, schema, stack variables, rules."""
    from ephemera.cli import commands

    _run(commands.validate, env, json)


@task
def schema(c: Context) -> None:
    """Write schemas/stacks/<stack>.schema.json from each stack's variables.tf."""
    from ephemera.cli import tools

    _run(tools.write_schemas)


@task(name="tf-validate", help={"path": "directory to check (default terraform/)"})
def tf_validate(c: Context, path: str = "") -> None:
    """Check every resource, data source, block and module call against the provider schema."""
    from ephemera.cli import tools

    _run(tools.tf_validate, path)


@task(name="provider-schema")
def provider_schema(c: Context) -> None:
    """Derive terraform/provider-schemas/aws.json.gz from the pinned npm package (needs npm)."""
    from ephemera.cli import tools

    _run(tools.provider_schema)


@task(
    iterable=["set"],
    help={
        "stack": "a directory of terraform/stacks/ (asked for when not given)",
        "name": "the environment's name",
        "owner": "the owner's email",
        "ttl": "how long it lives: 30m, 8h, 2d (default: _defaults.yaml's)",
        "target": "local or aws (default: from the stack)",
        "region": "AWS region (target aws)",
        "email": "where warnings go (notify.email)",
        "set": "a stack variable, key=value (repeatable)",
        "yes": "ask nothing: everything from the flags",
        "deploy": "deploy it once written",
    },
)
def new(
    c: Context,
    stack: str = "",
    name: str = "",
    owner: str = "",
    ttl: str = "",
    target: str = "",
    region: str = "",
    email: str = "",
    set: list[str] | None = None,  # noqa: A002 - the flag is --set
    yes: bool = False,
    deploy: bool = False,
) -> None:
    """Create an environment file, asking for each setting; then offer to deploy it."""
    from ephemera.cli import commands

    settings = (stack, name, owner, ttl, target, region, email, set or [])
    _run(commands.new, settings, yes, deploy)


@task(
    positional=["env"],
    help={
        **ENV_HELP,
        "detailed_exitcode": "exit 0 when nothing would change, 2 when something would, 1 on error",
    },
)
def plan(c: Context, env: str, detailed_exitcode: bool = False) -> None:
    """Validate, render, init and plan an environment; report the gate (policy, cost)."""
    prestart_terraform(env)
    from ephemera.cli import commands

    _run(commands.plan, env, detailed_exitcode)


@task(
    positional=["env"],
    help={**ENV_HELP, "yes": "apply without asking (target aws asks; also AUTO_APPROVE=1)"},
)
def deploy(c: Context, env: str, yes: bool = False) -> None:
    """Validate, render, plan, check and apply an environment; creates or renews its lease."""
    prestart_terraform(env)
    from ephemera.cli import commands

    _run(commands.deploy, env, yes)


@task(
    positional=["env"],
    help={**ENV_HELP, "yes": "do not ask for confirmation (also AUTO_APPROVE=1)"},
)
def destroy(c: Context, env: str, yes: bool = False) -> None:
    """Destroy an environment and mark its lease destroyed."""
    prestart_terraform(env)
    from ephemera.cli import commands

    _run(commands.destroy, env, yes)


@task(
    name="status",
    help={
        "json": "print a JSON object (docs/json.md)",
        "all": "list destroyed environments too",
        "utc": "show times in UTC instead of local time",
        "timeout": "a whole number: seconds for all health checks together "
        "(default EPHEMERA_HEALTH_TIMEOUT, else 3); no answer by then is 'unknown'",
    },
)
def status_(
    c: Context,
    json: bool = False,
    all: bool = False,  # noqa: A002 - the flag is --all
    utc: bool = False,
    timeout: int = Whole(0),
) -> None:
    """Show every environment: status, target, owner, expiry, url, health, cost."""
    from ephemera.cli import commands

    _run(commands.status, json, all, utc, timeout)


@task(positional=["env"], help={**ENV_HELP, "json": "print a JSON object (docs/json.md)"})
def outputs(c: Context, env: str, json: bool = False) -> None:
    """Print the stack outputs of an environment."""
    from ephemera.cli import commands

    _run(commands.outputs, env, json)


@task(
    positional=["env"],
    help={
        **ENV_HELP,
        "json": "print a JSON object (docs/json.md)",
        "utc": "show times in UTC instead of local time",
    },
)
def history(c: Context, env: str, json: bool = False, utc: bool = False) -> None:
    """List the recorded runs (plan, apply, destroy, extend) of an environment."""
    from ephemera.cli import commands

    _run(commands.history, env, json, utc)


@task(
    positional=["env"],
    help={**ENV_HELP, "yes": "do not ask for confirmation (also AUTO_APPROVE=1)"},
)
def unlock(c: Context, env: str, yes: bool = False) -> None:
    """Show who holds an environment's locks; clear them after confirmation.

    The operation lock (Ephemera's) first, then Terraform's state lock."""
    from ephemera.cli import commands

    _run(commands.unlock, env, yes)


@task(
    help={
        "env": "check only this environment (default: every active one)",
        "target": "check only environments of this target (local or aws)",
        "json": "print a JSON object (docs/json.md)",
    }
)
def drift(c: Context, env: str = "", target: str = "", json: bool = False) -> None:
    """Terraform drift and health of live environments (exit 2 when something drifted).

    A refresh-only plan and the health check of each; exit 0 none, 2 drifted, 1 an error."""
    from ephemera.cli import commands

    _run(commands.drift, env, target, json)


@task(
    help={
        "dry_run": "change nothing; print what would be done",
        "json": "print a JSON object (docs/json.md)",
    }
)
def reconcile(c: Context, dry_run: bool = False, json: bool = False) -> None:
    """Resolve what environment files, leases and states disagree on.

    Orphans, untracked states and leases whose state is gone (docs/lifecycle.md)."""
    from ephemera.cli import commands

    _run(commands.reconcile, dry_run, json)


@task(
    name="extend-ttl",
    positional=["env", "duration"],
    help={
        **ENV_HELP,
        "duration": "how much longer: 30m, 4h, 2d (a bare number is hours); positional",
        "reason": "why (kept in history)",
    },
)
def extend_ttl(c: Context, env: str, duration: str, reason: str = "") -> None:
    """Push an environment's expiry back (up to now + max_ttl)."""
    from ephemera.cli import commands

    _run(commands.extend_ttl, env, duration, reason)


@task(
    help={
        "dry_run": "change nothing; print what would be done",
        "max_destroys": "a whole number: destroy at most this many in this sweep (-1: no cap)",
        "json": "print the summary as JSON (docs/json.md)",
    }
)
def ttl(
    c: Context, dry_run: bool = False, max_destroys: int = Whole(-1), json: bool = False
) -> None:
    """The janitor: destroy expired environments, warn those about to expire."""
    from ephemera.cli import commands

    _run(commands.ttl_sweep, dry_run, max_destroys, json)


@task(name="lambda-package")
def lambda_package(c: Context) -> None:
    """Build dist/ttl_janitor.zip (the janitor handler + the ephemera modules it imports)."""
    from ephemera.cli import tools

    _run(tools.lambda_package)


@task(
    help={
        "region": "AWS region of the control plane (e.g. eu-west-1)",
        "repo": "GitHub repository holding the environments, as owner/name",
        "state_bucket": "keep the bootstrap's state in this bucket (moves a local state there)",
        "yes": "do not ask before applying (also AUTO_APPROVE=1)",
    }
)
def bootstrap(
    c: Context, region: str = "", repo: str = "", state_bucket: str = "", yes: bool = False
) -> None:
    """Create or update the AWS control plane (terraform/bootstrap) with the embedded Terraform."""
    from ephemera.cli import tools

    _run(tools.bootstrap, region, repo, state_bucket, yes)


@task(name="policy-scan", help={"path": "directory to scan (default terraform/)"})
def policy_scan(c: Context, path: str = "") -> None:
    """Static checkov scan of the Terraform code with the custom checks in policies/."""
    from ephemera.cli import tools

    _run(tools.policy_scan, path)


@task(
    name="ci-plan",
    auto_shortflags=False,
    help={
        "base": "base revision (the pull request's base)",
        "head": "head revision (default HEAD, which must be checked out)",
        "jobs": "a whole number: environments planned in parallel",
        "output": "where to write the comment (default plan-comment.md)",
    },
)
def ci_plan(
    c: Context, base: str = "", head: str = "HEAD", jobs: int = Whole(4), output: str = ""
) -> None:
    """Plan the environments a change affects; write plan-comment.md (exit 1 on failures);
    with EPHEMERA_PLAN_KEY, keep each plan sealed for the apply on merge."""
    from ephemera.cli import tools

    _run(tools.ci_plan, base, head, jobs, output)


@task(
    name="ci-merge",
    auto_shortflags=False,
    help={
        "base": "base revision (before the push)",
        "head": "head revision (the merge commit, checked out)",
        "saved": "directory of ci-plan's sealed saved plans (from its artifact)",
        "replan": "where the re-plans are sealed (default .ephemera/ci-replan)",
        "results": "write the skipped, failed and waiting environments' results here",
    },
)
def ci_merge(
    c: Context,
    base: str = "",
    head: str = "HEAD",
    saved: str = "",
    replan: str = "",
    results: str = "",
) -> None:
    """On merge: which saved plans still hold (apply), which are re-planned (approve)."""
    from ephemera.cli import tools

    _run(tools.ci_merge, base, head, saved, replan, results)


@task(
    name="ci-apply",
    auto_shortflags=False,
    help={
        "base": "base revision (before the push)",
        "head": "head revision (the merge commit, checked out)",
        "env": "apply only this one",
        "saved": "directory of the sealed saved plans (the plan's, or the merge's re-plans)",
        "results": "write each environment's result (JSON) into this directory",
    },
)
def ci_apply(
    c: Context,
    base: str = "",
    head: str = "HEAD",
    env: str = "",
    saved: str = "",
    results: str = "",
) -> None:
    """Apply the saved plans that still hold (gate included); destroy deleted environments."""
    from ephemera.cli import tools

    _run(tools.ci_apply, base, head, env, saved, results)


@task(
    name="ci-publish",
    auto_shortflags=False,
    help={
        "pr": "pull request number",
        "comment": "the sticky comment: create or replace it with this file",
        "labels": "labels.json of ci-plan: add or remove the destroy/replace labels",
        "section": "a section (e.g. the merge's re-plan) to put into the sticky comment",
        "results": "a directory of apply results to append to the sticky comment",
        "find_plan": "a merge commit: write its pull request and plan run to GITHUB_OUTPUT",
    },
)
def ci_publish(
    c: Context,
    pr: str = "",
    comment: str = "",
    labels: str = "",
    section: str = "",
    results: str = "",
    find_plan: str = "",
) -> None:
    """Put plans, labels and results on a pull request (GITHUB_TOKEN, GITHUB_REPOSITORY)."""
    from ephemera.cli import tools

    _run(tools.ci_publish, pr, comment, labels, section, results, find_plan)


@task(
    name="ci-command",
    auto_shortflags=False,
    help={
        "accept": "parse COMMENT_BODY, check COMMENT_USER's permission, react, re-plan",
        "run": "run the accepted extend, destroy or unlock and answer in the thread",
    },
)
def ci_command(c: Context, accept: bool = False, run: bool = False) -> None:
    """A /ephemera command from a pull-request comment."""
    from ephemera.cli import tools

    _run(tools.ci_command, accept, run)


namespace = Collection.from_module(__import__(__name__, fromlist=["*"]))
