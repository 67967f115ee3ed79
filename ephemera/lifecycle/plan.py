"""Validate, render, init and plan an environment; the gate reports on the plan.

A plan is saved (`plan.bin`, `plan.json`, both 0600) with the digest of the rendered
inputs it was made from, so apply can refuse a plan whose inputs changed since.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ephemera import config, gate
from ephemera.config import stackvars
from ephemera.environment import Environment
from ephemera.errors import CommandError, EphemeraError, ValidationError
from ephemera.files import write_private
from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.operation import operation
from ephemera.runs import recorded_run
from ephemera.terraform import initmark
from ephemera.terraform.render import Rendered, render

PLAN_FILE = "plan.bin"
PLAN_JSON = "plan.json"
PLAN_DIGEST = "plan.sha256"


@dataclass(frozen=True)
class PlanSummary:
    env: str
    added: int
    changed: int
    destroyed: int
    plan_json: Path
    digest: str
    resources: list[dict[str, Any]] = field(default_factory=list)
    outputs_changed: int = 0  # outputs whose value the apply would change
    # The state's outputs as the plan read them ({name: value}); None without a state.
    state_outputs: dict[str, Any] | None = None

    @property
    def has_changes(self) -> bool:
        """Whether applying would change anything (an output only change included: it
        reaches the state only through an apply)."""
        return bool(self.added or self.changed or self.destroyed or self.outputs_changed)

    def counts_text(self) -> str:
        """Resources added, changed, destroyed, as Terraform's plan line counts them; the
        outputs only when they are all that changes (else "+0 ~0 -0" would hide it)."""
        counts = f"+{self.added} ~{self.changed} -{self.destroyed}"
        resources = self.added or self.changed or self.destroyed
        if self.outputs_changed and not resources:
            counts += f", {self.outputs_changed} output(s)"
        return counts


def prepare(ctx: Context, name: str) -> tuple[Environment, Rendered]:
    """Validate (as `validate` does: files, ports and the stack's own validation blocks
    included) and render: nothing is written unless the environment will deploy."""
    ctx.phase("validate")
    env = config.load_environment(ctx.project, name, deployable=True, store=lambda: ctx.store)
    declared = set(stackvars.stack_variables(ctx.project, env.stack))
    return env, render(env, ctx.project, declared)


def init(ctx: Context, rendered: Rendered, log: IO[str]) -> None:
    """terraform init, unless the last one succeeded for exactly these inputs and left the
    data directory as it is now (`ephemera.terraform.initmark`)."""
    terraform = terraform_for(ctx, rendered.env)
    record = rendered.work_dir / initmark.RECORD_FILE

    def current() -> str:
        snapshot = rendered.work_dir / "tf"
        return initmark.fingerprint(
            rendered.root_dir,
            snapshot,
            rendered.backend_config,
            terraform.data_dir,
            terraform.environment(),
        )

    if initmark.is_current(record, current()):
        ctx.phase("init")
        ctx.say(f"==> {rendered.env}: terraform init: up to date (stack, backend and data dir)")
        return
    initmark.forget(record)
    with ctx.step(rendered.env, "terraform init", phase="init"):
        terraform.run(
            ["init", "-input=false", "-no-color", f"-backend-config={rendered.backend_config}"],
            cwd=rendered.root_dir,
            log=log,
            quiet=True,
            where=f"{rendered.env}: init",
        )
    initmark.remember(record, current())


def make_plan(
    ctx: Context,
    rendered: Rendered,
    log: IO[str],
    *,
    destroy: bool = False,
    replace: Sequence[str] = (),
) -> PlanSummary:
    """terraform plan -out plan.bin, then show -json → plan.json (both 0600); `replace`:
    resource addresses planned for replacement (`-replace`)."""
    ctx.phase("plan")
    ctx.say(f"==> {rendered.env}: terraform plan{' -destroy' if destroy else ''}")
    terraform = terraform_for(ctx, rendered.env)
    plan_file = rendered.work_dir / PLAN_FILE
    args = [
        "plan",
        "-input=false",
        "-no-color",
        f"-out={plan_file}",
        f"-var-file={rendered.tfvars}",
    ]
    if destroy:
        args.append("-destroy")
    args += [f"-replace={address}" for address in replace]
    try:
        terraform.run(args, cwd=rendered.root_dir, log=log, where=f"{rendered.env}: plan")
    except CommandError as exc:
        raise _in_yaml(ctx, rendered.env, exc) from None
    plan_file.chmod(0o600)
    return _saved(ctx, rendered)


def use_saved_plan(ctx: Context, rendered: Rendered, plan: bytes) -> PlanSummary:
    """Take `plan` (a plan.bin made elsewhere, from inputs the caller has checked are
    these) as this environment's saved plan: written 0600, shown as plan.json."""
    ctx.say(f"==> {rendered.env}: the saved plan ({len(plan)} bytes)")
    plan_file = rendered.work_dir / PLAN_FILE
    descriptor = os.open(plan_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(plan)
    return _saved(ctx, rendered)


def _saved(ctx: Context, rendered: Rendered) -> PlanSummary:
    """plan.json (show -json) and the inputs' digest beside the saved plan.bin."""
    shown = terraform_for(ctx, rendered.env).run(
        ["show", "-json", "-no-color", str(rendered.work_dir / PLAN_FILE)],
        cwd=rendered.root_dir,
        quiet=True,
        where=f"{rendered.env}: show",
    )
    plan_json = rendered.work_dir / PLAN_JSON
    write_private(plan_json, shown.stdout)
    write_private(rendered.work_dir / PLAN_DIGEST, rendered.digest + "\n")
    summary = summarize_plan(rendered.env, json.loads(shown.stdout), plan_json, rendered.digest)
    counts = {"added": summary.added, "changed": summary.changed, "destroyed": summary.destroyed}
    ctx.events("counts", counts)
    return summary


_VARIABLE = re.compile(r"\bvar\.([A-Za-z_][A-Za-z0-9_-]*)\b")


def _in_yaml(ctx: Context, name: str, exc: CommandError) -> EphemeraError:
    """A plan failure that names a variable the environment sets: one problem at its
    YAML line (Terraform's own output above says the rest). Anything else: as it is."""
    summary = next(
        (line.split("Error: ", 1)[1] for line in exc.stderr.splitlines() if "Error: " in line),
        None,
    )
    named = _VARIABLE.search(exc.stderr)
    env_file = ctx.project.environment_file(name)
    if summary is None or named is None or not env_file.exists():
        return exc
    variable = named.group(1)
    paragraphs = [p.strip() for p in exc.stderr.split("\n\n") if p.strip()]
    detail = next((p for p in reversed(paragraphs) if not p.startswith("This was checked")), "")
    message = f"terraform plan: {summary.strip()}"
    if detail and "│" not in detail and not detail.startswith("Error"):
        message += f": {' '.join(detail.split())}"
    try:
        return ValidationError([config.variable_problem(ctx.project, name, variable, message)])
    except EphemeraError:
        return exc


def summarize_plan(env: str, plan: dict[str, Any], plan_json: Path, digest: str) -> PlanSummary:
    added = changed = destroyed = 0
    for change in plan.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        added += "create" in actions
        destroyed += "delete" in actions
        changed += actions == ["update"]
    outputs = plan.get("output_changes") or {}
    outputs_changed = sum(o.get("actions") != ["no-op"] for o in outputs.values())
    return PlanSummary(
        env,
        added,
        changed,
        destroyed,
        plan_json,
        digest,
        plan.get("resource_changes", []),
        outputs_changed,
        _state_outputs(plan),
    )


def _state_outputs(plan: dict[str, Any]) -> dict[str, Any] | None:
    """The outputs of the state the plan was made against, as `terraform output -json`
    would give them ({name: value}), or None when the plan carries no state."""
    prior = plan.get("prior_state")
    if not isinstance(prior, dict) or not isinstance(prior.get("values"), dict):
        return None
    outputs = prior["values"].get("outputs") or {}
    return {name: item.get("value") for name, item in outputs.items()}


def plan(ctx: Context, name: str) -> tuple[PlanSummary, gate.GateResult]:
    """Plan and report what the gate says (policy, cost); applies nothing. Holds the
    environment's operation lock: a plan beside a deploy would read a moving state."""
    config.check_environment_name(ctx.project, name)
    gate.prestart(ctx.project)  # checkov loads while the plan is made
    with operation(ctx, name, "plan") as holder:
        env, rendered = prepare(ctx, name)
        with recorded_run(ctx.project, ctx.store, name, "plan", ctx.clock, holder.run_id) as run:
            init(ctx, rendered, run.log)
            summary = make_plan(ctx, rendered, run.log)
            run.counts(summary.added, summary.changed, summary.destroyed)
            checked = run_gate(ctx, env, summary)
    ctx.say(f"==> {env.name}: plan {summary.counts_text()} (saved {summary.plan_json})")
    return summary, checked


def run_gate(ctx: Context, env: Environment, summary: PlanSummary) -> gate.GateResult:
    with ctx.step(env.name, "policy gate and cost", phase="gate"):
        checked = gate.evaluate(ctx.project, env, summary.plan_json)
    ctx.say(gate.report(env, checked))
    ctx.events("gate", gate.verdict(checked))
    return checked
