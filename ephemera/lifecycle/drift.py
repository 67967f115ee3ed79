"""drift: does what runs still match what was applied? A refresh-only plan (Terraform's
own drift detection) and the health check, per environment, under its operation lock."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ephemera.errors import EphemeraError
from ephemera.health import health_url, is_healthy
from ephemera.lifecycle.context import Context, terraform_for
from ephemera.lifecycle.operation import operation
from ephemera.lifecycle.plan import init, prepare
from ephemera.runs import recorded_run
from ephemera.terraform.render import Rendered

DRIFT_PLAN = "drift.bin"


@dataclass
class DriftReport:
    env: str
    drifted: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)  # {address, actions}
    healthy: bool | None = None  # None: the stack has no URL to probe
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def drift(ctx: Context, name: str, outputs: dict[str, Any]) -> DriftReport:
    """The drift of one deployed environment (`outputs`: its lease's, for the probe).
    Drifted: Terraform found changes made outside it, or the health check fails."""
    report = DriftReport(env=name)
    try:
        with operation(ctx, name, "drift") as holder:
            _, rendered = prepare(ctx, name)
            with recorded_run(
                ctx.project, ctx.store, name, "drift", ctx.clock, holder.run_id
            ) as run:
                init(ctx, rendered, run.log)
                report.changes = _refresh_only(ctx, rendered, run.log)
                run.counts(0, len(report.changes), 0)
    except EphemeraError as exc:
        report.error = exc.message
    url = health_url(outputs)
    report.healthy = is_healthy(url) if url else None
    report.drifted = bool(report.changes) or report.healthy is False
    return report


def _refresh_only(ctx: Context, rendered: Rendered, log: Any) -> list[dict[str, Any]]:
    """`terraform plan -refresh-only -detailed-exitcode`: its resource_drift (exit 2)."""
    ctx.say(f"==> {rendered.env}: terraform plan -refresh-only")
    terraform = terraform_for(ctx, rendered.env)
    plan_file = rendered.work_dir / DRIFT_PLAN
    planned = terraform.run(
        [
            "plan",
            "-refresh-only",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-out={plan_file}",
            f"-var-file={rendered.tfvars}",
        ],
        cwd=rendered.root_dir,
        log=log,
        quiet=True,
        ok_codes=(0, 2),
        where=f"{rendered.env}: drift",
    )
    try:
        if planned.returncode == 0:
            return []
        shown = terraform.run(
            ["show", "-json", "-no-color", str(plan_file)],
            cwd=rendered.root_dir,
            quiet=True,
            where=f"{rendered.env}: show",
        )
        found = json.loads(shown.stdout).get("resource_drift") or []
        return [
            {"address": c.get("address"), "actions": (c.get("change") or {}).get("actions", [])}
            for c in found
        ]
    finally:
        plan_file.unlink(missing_ok=True)
