"""The static scan: checkov on Terraform source (default terraform/) with the custom
checks in policies/ (`invoke policy-scan`). `static_reports` is its raw scan, which
the tests of terraform/ read too, so they and the CLI cannot disagree."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ephemera.environment import PolicySkip
from ephemera.errors import EphemeraError, UsageError
from ephemera.gate.policy import (
    STATIC_FRAMEWORK,
    PolicyFinding,
    PolicyResult,
    checkov_path,
    rank,
    records_of,
    run_checkov,
)
from ephemera.project import Project


def static_target(project: Project, path: Path | None = None) -> Path:
    """The file or directory a static scan looks at (default: terraform/)."""
    return (path or project.root / "terraform").resolve()


def static_reports(project: Project, path: Path | None = None) -> list[dict[str, Any]]:
    """checkov's raw reports for Terraform source (default: terraform/) with the custom
    checks in policies/: the scan `scan_static` (`invoke policy-scan`) reads, and the
    tests of terraform/ too. Files checkov cannot parse are in the reports, not errors.

    With `--directory`, each record's `file_path` is relative to the scanned directory.
    """
    target = static_target(project, path)
    where = f"{project.relative(target)}: policy-scan"
    if not target.exists():
        raise UsageError(f"{where}: no such file or directory")
    executable = checkov_path(project)
    selector = ["--directory", str(target)] if target.is_dir() else ["--file", str(target)]
    return run_checkov(project, executable, ["--framework", STATIC_FRAMEWORK, *selector], where)


def scan_static(
    project: Project, path: Path | None = None, skips: Sequence[PolicySkip] = ()
) -> PolicyResult:
    """checkov on Terraform source (default: terraform/) with the custom checks; not cached.

    checkov itself honours the `#checkov:skip` comments here (skipped "in code");
    `skips` skip a check everywhere, like an environment's policy.skip. Checks that
    need a plan (tags via default_tags, max_tasks, load balancer membership) say
    nothing here; the plan gate is the authority.
    """
    reports = static_reports(project, path)
    name = project.relative(static_target(project, path))
    records, parse_errors = records_of(reports)
    if parse_errors:
        shown = ", ".join(project.relative(Path(p)) for p in parse_errors)
        raise EphemeraError(f"{name}: policy-scan: checkov could not parse {shown}")
    reasons = {skip.id: skip.reason for skip in skips}
    result = PolicyResult(env=name)
    for record in sorted(records, key=lambda r: (r.check_id, r.resource, r.path)):
        finding = PolicyFinding(
            check_id=record.check_id,
            resource=record.resource,
            message=record.message,
            file=project.relative(Path(record.path)),
        )
        if record.status == "passed":
            result.passed.append(finding)
        elif record.status == "skipped":  # checkov honoured a skip comment in the source
            rank(result, finding, reasons, (record.reason or "skipped in the source", finding.file))
        else:
            rank(result, finding, reasons)
    return result
