"""The plain-text tables of drift and reconcile."""

from __future__ import annotations

from ephemera.lifecycle import DriftReport, Finding


def format_drift(reports: list[DriftReport]) -> str:
    if not reports:
        return "drift: no deployed environment to check"
    lines = []
    for report in reports:
        health = {True: "healthy", False: "UNHEALTHY", None: "-"}[report.healthy]
        if report.error:
            verdict = f"ERROR: {report.error.splitlines()[0]}"
        elif report.changes:
            verdict = "DRIFTED: " + ", ".join(
                f"{c['address']} ({'/'.join(c['actions'])})" for c in report.changes
            )
        else:
            verdict = "no drift"
        lines.append(f"{report.env:<40} {health:<10} {verdict}")
    drifted = [r.env for r in reports if r.drifted]
    lines.append(
        f"drift: {len(drifted)} of {len(reports)} drifted"
        + (": " + ", ".join(drifted) if drifted else "")
    )
    return "\n".join(lines)


def format_findings(findings: list[Finding], dry_run: bool) -> str:
    if not findings:
        return "reconcile: files, leases and states agree"
    head = "reconcile (dry run: nothing changed)" if dry_run else "reconcile"
    lines = [head]
    for f in findings:
        done = "would " if dry_run else ""
        lines.append(f"  {f.kind:<11} {f.env}: {f.detail}; {done}{f.action}")
    return "\n".join(lines)
