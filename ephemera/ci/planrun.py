"""Planning one environment for CI, and the one gate over a batch of plans.

`plan_one`: an invalid environment is reported; one CI does not plan (its target,
`ephemera.ci.targets`) is validated as a deploy would validate it and reported with
why; the others are validated, rendered, initialised (init holds a lock per stack,
and the first init of each stack in a run also holds a global lock, so no two inits
fill the shared plugin cache at once), planned and shown. For target aws the state's
serial is read just before the plan, and with a `Keeping` the plan is sealed into
its directory with that serial and the fingerprint (`ephemera.ci.saved`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ephemera import config, gate, lifecycle
from ephemera.ci import actions, saved
from ephemera.ci.actions import Emit
from ephemera.ci.changes import DESTROY, Change
from ephemera.ci.outcome import Outcome
from ephemera.errors import EphemeraError
from ephemera.gate.evaluate import Planned
from ephemera.gate.policy import format_result
from ephemera.leases import LeaseStore
from ephemera.project import Project
from ephemera.terraform.render import Rendered
from ephemera.terraform.runner import Echo, cli_config


class InitLocks:
    """`terraform init` serialized per stack, without racing on the plugin cache.

    Inits of the same stack take turns (a lock per stack name). The first init
    of each stack in this run fills the shared plugin cache, so it also holds
    one global lock: two stacks never download into the cache at the same time.
    Once a stack has been initialised, its later inits only link from the
    cache and run beside other stacks' inits.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._stacks: dict[str, threading.Lock] = {}
        self._cold = threading.Lock()
        self._warm: set[str] = set()

    @contextmanager
    def hold(self, stack: str) -> Iterator[None]:
        with self._guard:
            lock = self._stacks.setdefault(stack, threading.Lock())
        with lock:
            if stack in self._warm:
                yield
                return
            with self._cold:
                yield
                self._warm.add(stack)


@dataclass(frozen=True)
class Keeping:
    """Where and how plans are kept for the apply: sealed with `key` into `directory`,
    each with its fingerprint (env → digest) at `commit`."""

    directory: Path
    key: bytes
    commit: str
    fingerprints: Mapping[str, str]


def show_plan(ctx: lifecycle.Context, rendered: Rendered) -> str:
    """The saved plan as text (`terraform show`): sensitive values redacted."""
    return (
        lifecycle.terraform_for(ctx, rendered.env)
        .run(
            ["show", "-no-color", str(rendered.work_dir / lifecycle.PLAN_FILE)],
            cwd=rendered.root_dir,
            quiet=True,
            where=f"{rendered.env}: show",
        )
        .stdout
    )


def _validate_only(ctx: lifecycle.Context, outcome: Outcome) -> Outcome:
    """A target CI does not plan: validated as a deploy would (the files it names, the
    stack's validation blocks) when it can be, but for its port: whether the runner's
    port is free says nothing of the machine it will run on. Reported with why it is
    not planned."""
    change = outcome.change
    if change.target == "local":
        config.load_environment(ctx.project, change.env, deployable=True, store=None)
    outcome.not_planned = change.not_planned
    ctx.say(f"==> {change.env}: {change.not_planned}")
    return outcome


def _keep(
    project: Project, keeping: Keeping, rendered: Rendered, state: saved.StateVersion
) -> Path:
    plan = (rendered.work_dir / lifecycle.PLAN_FILE).read_bytes()
    kept = saved.SavedPlan(
        env=rendered.env,
        fingerprint=keeping.fingerprints[rendered.env],
        commit=keeping.commit,
        state=state,
        root=str(project.root),
        plan=plan,
    )
    return saved.write(keeping.directory, kept, keeping.key)


def plan_one(
    project: Project,
    store: LeaseStore,
    change: Change,
    locks: InitLocks,
    ci_dir: Path,
    keeping: Keeping | None = None,
) -> Outcome:
    outcome = Outcome(change=change)
    echo: Echo = outcome.output.append
    ctx = lifecycle.Context(project=project, store=store, echo=echo)
    if change.problems:
        outcome.problems = change.problems
        echo(f"==> {change.env}: invalid\n" + "\n".join(change.problems) + "\n")
        return outcome
    try:
        if change.not_planned:
            return _validate_only(ctx, outcome)
        with (ci_dir / f"{change.env}.log").open("w", encoding="utf-8") as log:
            env, rendered = lifecycle.prepare(ctx, change.env)
            outcome.env = env
            with locks.hold(env.stack):
                lifecycle.init(ctx, rendered, log)
            state = saved.state_version(env) if env.target == "aws" else None
            outcome.summary = lifecycle.make_plan(ctx, rendered, log)
            outcome.plan_text = show_plan(ctx, rendered)
            (ci_dir / f"{change.env}.plan.txt").write_text(outcome.plan_text, encoding="utf-8")
            if keeping is not None and state is not None and change.env in keeping.fingerprints:
                _keep(project, keeping, rendered, state)
                outcome.saved = True
    except EphemeraError as exc:
        problems = getattr(exc, "problems", None)
        if problems is not None:
            outcome.problems = tuple(str(p) for p in problems)
        else:
            outcome.error = exc.message
        echo(f"==> {change.env}: failed\n{exc.message}\n")
    except Exception as exc:  # noqa: BLE001 - one environment's crash must not hide the others
        outcome.error = f"{change.env}: unexpected error: {exc!r}"
        echo(outcome.error + "\n")
    finally:
        lifecycle.close_terraform(ctx, change.env)
    return outcome


def gate_all(project: Project, outcomes: list[Outcome]) -> None:
    """The one gate over every plan at once (one checkov process for the batch)."""
    results = gate.evaluate_all(project, planned(outcomes))
    for outcome in outcomes:
        outcome.gate = results.get(outcome.name)


def planned(outcomes: list[Outcome]) -> Planned:
    """{env: (environment, plan.json)} of the outcomes that have a plan."""
    return {
        o.name: (o.env, o.summary.plan_json) for o in outcomes if o.summary and o.env is not None
    }


def gate_lines(outcomes: list[Outcome]) -> list[str]:
    """The console lines of the gate: each policy table and cost."""
    lines = []
    for outcome in outcomes:
        if outcome.policy is not None:
            lines.append(format_result(outcome.policy) + "\n")
        elif outcome.policy_error:
            lines.append(f"policy {outcome.name}: ERROR {outcome.policy_error}\n")
        if outcome.cost_text():
            lines.append(outcome.cost_text().rstrip("\n") + "\n")
    return lines


def plan_all(
    project: Project,
    store: LeaseStore,
    affected: list[Change],
    ci_dir: Path,
    emit: Emit,
    *,
    jobs: int,
    keeping: Keeping | None = None,
) -> list[Outcome]:
    """Plan every change but the destroys, `jobs` at a time, each environment's output
    emitted as one block when it finishes; the outcomes in the order of `affected`."""
    outcomes = {c.env: Outcome(change=c) for c in affected if c.action == DESTROY}
    locks = InitLocks()
    cli_config(project.plugin_cache)  # written once here, not raced by the first inits
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="ci-plan") as pool:
        futures = [
            pool.submit(plan_one, project, store, change, locks, ci_dir, keeping)
            for change in affected
            if change.action != DESTROY
        ]
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[outcome.name] = outcome
            title = f"{outcome.name} ({outcome.change.action}: {outcome.change.reason})"
            actions.group(title, outcome.output, emit)
    return [outcomes[c.env] for c in affected]
