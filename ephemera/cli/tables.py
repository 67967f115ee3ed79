"""The tables people read: status, history, drift and reconcile (rich tables that fit
the terminal's width; colour only on a terminal)."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text

from ephemera.cli.output import console, when
from ephemera.gate.cost import money
from ephemera.leases import RunRecord
from ephemera.lifecycle import DriftReport, Finding
from ephemera.status import StatusRow

STATUS_STYLE = {
    "active": "green",
    "deploying": "yellow",
    "destroying": "yellow",
    "failed": "bold red",
    "untracked": "bold magenta",
    "destroyed": "dim",
    "not deployed": "dim",
}
HEALTH = {True: Text("healthy", "green"), False: Text("unhealthy", "bold red"), None: Text("-")}


def _table(*headers: str, keep: tuple[str, ...] = ()) -> Table:
    """A borderless table; the `keep` columns are never wrapped, the others fold."""
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header in keep)
    return table


def _cost(row: StatusRow) -> str:
    if row.cost_so_far_usd is None or row.cost_remaining_usd is None:
        return "-"
    return f"{money(row.cost_so_far_usd)} / {money(row.cost_remaining_usd)}"


def next_step(row: StatusRow) -> str | None:
    """What to do about an environment that needs someone, in one line."""
    if row.status == "failed":
        return f"{row.reason or 'failed'} → make deploy ENV={row.env} or make destroy ENV={row.env}"
    if row.status == "untracked":
        return f"{row.reason} (then the janitor collects it)"
    if row.orphan:
        return (
            f"its file environments/{row.env}.yaml was deleted: the janitor destroys it at expiry"
        )
    if row.status in ("deploying", "destroying") and row.holder:
        return f"held by {row.holder}"
    return None


def print_status(rows: list[StatusRow], now: datetime, *, utc: bool = False) -> None:
    """The status table. TARGET and COST are left out when they would say nothing (every
    environment local, nothing billed), which keeps three environments in 80 columns."""
    out = console()
    if not rows:
        out.print("no environments: add one with `ephemera new`")
        return
    targets = any(row.target not in ("local", None) for row in rows)
    costs = any(row.cost_so_far_usd or row.cost_remaining_usd for row in rows)
    headers = ["ENV", "STATUS", *(["TARGET"] if targets else []), "EXPIRES", "URL", "HEALTH"]
    table = _table(*headers, *(["COST"] if costs else []), keep=("ENV", "STATUS", "HEALTH", "COST"))
    url_column = table.columns[headers.index("URL")]
    url_column.min_width = min(max((len(row.url or "-") for row in rows), default=1), 32)
    notes = []
    for row in rows:
        cells = [row.env, Text(row.status, STATUS_STYLE.get(row.status, ""))]
        cells += [row.target or "-"] if targets else []
        cells += [when(row.expires_at, now, utc=utc), row.url or "-", HEALTH[row.healthy]]
        table.add_row(*cells, *([_cost(row)] if costs else []))
        note = next_step(row)
        if note:
            notes.append(f"{row.env}: {note}")
    out.print(table)
    if costs:
        out.print(Text("COST: so far / to go, from the last plan's estimate", "dim"))
    for note in notes:
        out.print(Text(note, "yellow"), soft_wrap=False)  # wrapped to the width


def print_history(env: str, runs: list[RunRecord], now: datetime, *, utc: bool = False) -> None:
    out = console()
    if not runs:
        out.print(f"{env}: no runs recorded")
        return
    table = _table("STARTED", "OP", "RESULT", "+ ~ -", "ACTOR", "DETAIL")
    for run in runs:
        style = {"ok": "green", "failed": "bold red", "interrupted": "yellow"}.get(run.result, "")
        table.add_row(
            when(run.started_at, now, utc=utc),
            run.op,
            Text(run.result, style),
            f"+{run.added} ~{run.changed} -{run.destroyed}",
            run.actor,
            run.detail or "",
        )
    out.print(table)


def print_drift(reports: list[DriftReport]) -> None:
    out = console()
    if not reports:
        out.print("drift: no deployed environment to check")
        return
    table = _table("ENV", "HEALTH", "TERRAFORM")
    for report in reports:
        if report.error:
            verdict = Text(f"ERROR: {report.error.splitlines()[0]}", "bold red")
        elif report.changes:
            changed = ", ".join(
                f"{c['address']} ({'/'.join(c['actions'])})" for c in report.changes
            )
            verdict = Text(f"DRIFTED: {changed}", "bold red")
        else:
            verdict = Text("no drift", "green")
        health = (
            Text("UNHEALTHY", "bold red") if report.healthy is False else HEALTH[report.healthy]
        )
        table.add_row(report.env, health, verdict)
    out.print(table)
    drifted = [r.env for r in reports if r.drifted]
    tail = ": " + ", ".join(drifted) if drifted else ""
    out.print(f"drift: {len(drifted)} of {len(reports)} drifted{tail}")


def print_findings(findings: list[Finding], dry_run: bool) -> None:
    out = console()
    if not findings:
        out.print("reconcile: files, leases and states agree")
        return
    out.print("reconcile (dry run: nothing changed)" if dry_run else "reconcile")
    table = _table("ENV", "KIND", "FOUND", "DONE" if not dry_run else "WOULD DO")
    for finding in findings:
        table.add_row(finding.env, finding.kind, finding.detail, finding.action)
    out.print(table)
