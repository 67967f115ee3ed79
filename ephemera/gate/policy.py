"""The policy gate: checkov on plan.json files with the project's custom checks.

checkov runs in its own virtualenv as a subprocess, fully offline, through
`ephemera.gate.checkov` (finding it, its environment, its JSON). Its JSON report is
parsed, never grepped.

Several environments are checked by one checkov process (`check_plans`): each
plan is copied to `<tmp>/<n>/plan.json`, all are passed with `-f`, and results
are mapped back to environments by file path. checkov runs with nothing
skipped; skips are applied when mapping back, so a skipped failure is still
shown, as skipped, with its reason and where the skip is:

- "in code": a `#checkov:skip=ID:reason` comment in the resource's block in the
  stack or its modules (`ephemera.gate.skips`; a plan.json carries no comments,
  so checkov cannot see them itself);
- "policy.skip": the environment file's `policy.skip` list (by check ID).

(`--skip-check` would not do: checkov then drops the check's records entirely,
and one process can't have a different skip list per file.)

Results are cached raw (before any skip) by `ephemera.gate.policycache`, so an
unchanged re-run does not start checkov (`PolicyResult.cached`) and a changed skip
applies without a re-run. `rank` is the one skip ranking, which the static scan
(`ephemera.gate.static`, `invoke policy-scan`) uses too.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ephemera.environment import PolicySkip
from ephemera.errors import EphemeraError, UsageError
from ephemera.gate import checkov, policycache
from ephemera.gate.skips import CodeSkips
from ephemera.project import Project

PLAN_FRAMEWORK = "terraform_plan"
STATIC_FRAMEWORK = "terraform"
IN_CODE = "in code"
IN_POLICY = "policy.skip"


@dataclass(frozen=True)
class PolicyFinding:
    check_id: str
    resource: str  # the resource address, e.g. module.service.aws_lb.this
    message: str  # the check's name, plus its details when it gives any
    file: str  # the plan.json (plan scans) or the .tf file (static scans)


@dataclass
class PolicyResult:
    env: str
    passed: list[PolicyFinding] = field(default_factory=list)
    failed: list[PolicyFinding] = field(default_factory=list)
    skipped: list[tuple[PolicyFinding, str]] = field(default_factory=list)  # (finding, reason)
    cached: bool = False
    # The skipped findings a comment in the code skips, and where: "modules/x/main.tf:12"
    # (plan scans), the .tf file (static scans). The others are skipped by policy.skip.
    in_code: dict[PolicyFinding, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def skipped_by(self, finding: PolicyFinding) -> str:
        """What skips `finding`: "in code" or "policy.skip"."""
        return IN_CODE if finding in self.in_code else IN_POLICY


# --- checkov (ephemera.gate.checkov runs it) -------------------------------------------------


def checkov_path(project: Project) -> str:
    """`EPHEMERA_CHECKOV`, else `.venv-checkov/bin/checkov` of the project (or of the
    checkout Ephemera runs from), else `checkov` on PATH."""
    return checkov.checkov_path(project.root)


def prestart(project: Project) -> None:
    """Have the resident checker load checkov while the caller plans (`checkov.prestart`);
    nothing when checkov cannot be found (the gate reports that when it runs)."""
    try:
        checkov.prestart(checkov_path(project))
    except EphemeraError:
        return


def checkov_version(project: Project, executable: str) -> str:
    """The checkov version (from its install, else `checkov --version`, remembered)."""
    return checkov.version(executable, policycache.cache_dir(project) / "checkov-version.json")


def run_checkov(
    project: Project, executable: str, args: Sequence[str], where: str
) -> list[dict[str, Any]]:
    """checkov with the project's custom checks (`--external-checks-dir policies`)."""
    checks = policycache.policies_dir(project)
    if not (checks / "__init__.py").is_file():
        raise EphemeraError(
            f"policy: {project.relative(checks)}/__init__.py is missing: checkov loads no "
            "custom check from a directory without it"
        )
    return checkov.run(executable, [*args, "--external-checks-dir", str(checks)], where=where)


@dataclass(frozen=True)
class _Record:
    path: str  # file_abs_path
    status: str  # "passed" | "failed" | "skipped" (an inline #checkov:skip, static scans only)
    check_id: str
    resource: str
    message: str
    reason: str = ""


def records_of(reports: Iterable[dict[str, Any]]) -> tuple[list[_Record], list[str]]:
    records: list[_Record] = []
    parse_errors: list[str] = []
    for report in reports:
        results = report["results"]
        for status in ("passed", "failed", "skipped"):
            for raw in results.get(f"{status}_checks") or []:
                records.append(_record(raw, status))
        parse_errors.extend(str(p) for p in results.get("parsing_errors") or [])
    return records, parse_errors


def _record(raw: dict[str, Any], status: str) -> _Record:
    message = str(raw.get("check_name") or "")
    details = [str(d) for d in raw.get("details") or [] if str(d).strip()]
    if details:
        message = f"{message}: {'; '.join(details)}"
    return _Record(
        path=str(raw.get("file_abs_path") or raw.get("file_path") or ""),
        status=status,
        check_id=str(raw.get("check_id") or "?"),
        resource=str(raw.get("resource_address") or raw.get("resource") or "?"),
        message=message,
        reason=str((raw.get("check_result") or {}).get("suppress_comment") or ""),
    )


# --- plans: batch run, cache, skips ----------------------------------------------------


def check_plans(
    project: Project,
    plans: Mapping[str, Path],
    skips: Mapping[str, Sequence[PolicySkip]] | None = None,
    code_skips: Mapping[str, CodeSkips] | None = None,
) -> dict[str, PolicyResult]:
    """Check each environment's plan.json; one checkov process for all cache misses.

    `skips` are the environments' `policy.skip` lists; `code_skips` the inline skip
    comments of the stack each plan was made from (`codeskips.find_code_skips`). Both
    apply after the cache: they are not part of its key.
    """
    skips = skips or {}
    code_skips = code_skips or {}
    for env, env_skips in skips.items():
        for skip in env_skips:
            if not skip.reason.strip():
                raise UsageError(f"{env}: policy.skip: {skip.id} needs a reason")
    if not plans:
        return {}
    executable = checkov_path(project)
    version = checkov_version(project, executable)
    digest = policycache.policies_digest(project)
    contents: dict[str, bytes] = {}
    keys: dict[str, str] = {}
    raw: dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]] = {}
    cached: set[str] = set()
    for env, plan in plans.items():
        try:
            contents[env] = Path(plan).read_bytes()
        except OSError as exc:
            raise EphemeraError(f"{env}: policy: cannot read {plan}: {exc.strerror}") from exc
        keys[env] = policycache.cache_key(contents[env], digest, version)
        hit = policycache.read(project, keys[env])
        if hit is not None:
            raw[env] = hit
            cached.add(env)
    todo = [env for env in plans if env not in raw]
    if todo:
        fresh = _scan_plans(project, executable, {env: contents[env] for env in todo}, plans)
        for env in todo:
            raw[env] = fresh[env]
            policycache.write(project, keys[env], version, *fresh[env])
    return {
        env: _result(
            env,
            str(plans[env]),
            *raw[env],
            skips.get(env, ()),
            code_skips.get(env) or CodeSkips(),
            cached=env in cached,
        )
        for env in plans
    }


def check_plan(
    project: Project,
    env: str,
    plan: Path,
    skips: Sequence[PolicySkip] = (),
    code_skips: CodeSkips | None = None,
) -> PolicyResult:
    """`check_plans` for one environment."""
    code = {env: code_skips} if code_skips is not None else None
    return check_plans(project, {env: plan}, {env: tuple(skips)}, code)[env]


def _scan_plans(
    project: Project, executable: str, contents: Mapping[str, bytes], plans: Mapping[str, Path]
) -> dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]]:
    where = "policy" if len(contents) > 1 else f"{next(iter(contents))}: policy"
    with tempfile.TemporaryDirectory(prefix="ephemera-policy-") as tmp:
        scratch = Path(tmp).resolve()
        by_path: dict[str, str] = {}
        files = []
        for index, (env, data) in enumerate(contents.items()):
            folder = scratch / "plans" / str(index)
            folder.mkdir(parents=True)
            copy = folder / "plan.json"
            copy.write_bytes(data)
            by_path[str(copy)] = env
            files.append(str(copy))
        reports = run_checkov(
            project, executable, ["--framework", PLAN_FRAMEWORK, "--file", *files], where
        )
        records, parse_errors = records_of(reports)
        if parse_errors:
            names = [
                f"{by_path.get(_norm(p), p)} ({plans.get(by_path.get(_norm(p), ''), p)})"
                for p in parse_errors
            ]
            raise EphemeraError(f"{where}: checkov could not parse the plan of " + ", ".join(names))
        out: dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]] = {
            env: ([], []) for env in contents
        }
        for record in records:
            env = by_path.get(_norm(record.path))
            if env is None:
                raise EphemeraError(f"{where}: checkov reported an unknown file {record.path}")
            if record.status == "skipped":
                continue  # only inline comments skip inside checkov, and plans have none
            entry = {
                "check_id": record.check_id,
                "resource": record.resource,
                "message": record.message,
            }
            out[env][0 if record.status == "passed" else 1].append(entry)
    return out


def _norm(path: str) -> str:
    return str(Path(path).resolve())


def _result(
    env: str,
    file: str,
    passed: list[dict[str, str]],
    failed: list[dict[str, str]],
    skips: Sequence[PolicySkip],
    code_skips: CodeSkips,
    *,
    cached: bool,
) -> PolicyResult:
    """The raw (cached or fresh) results with the skips applied (`rank`)."""
    reasons = {skip.id: skip.reason for skip in skips}
    result = PolicyResult(env=env, cached=cached)
    for entry in sorted(passed, key=_order):
        result.passed.append(PolicyFinding(file=file, **entry))
    for entry in sorted(failed, key=_order):
        finding = PolicyFinding(file=file, **entry)
        in_code = code_skips.match(finding.check_id, finding.resource)
        rank(result, finding, reasons, (in_code.reason, in_code.where) if in_code else None)
    return result


def rank(
    result: PolicyResult,
    finding: PolicyFinding,
    reasons: Mapping[str, str],
    in_code: tuple[str, str] | None = None,
) -> None:
    """The one skip ranking of a failed finding: a skip comment on the resource in the
    code first (`in_code` = its reason and where it is), then the environment's
    policy.skip (`reasons`, by check id); otherwise it fails."""
    if in_code is not None:
        reason, where = in_code
        result.skipped.append((finding, reason))
        result.in_code[finding] = where
    elif finding.check_id in reasons:
        result.skipped.append((finding, reasons[finding.check_id]))
    else:
        result.failed.append(finding)


def _order(entry: dict[str, str]) -> tuple[str, str]:
    return entry["check_id"], entry["resource"]


# --- output -------------------------------------------------------------------


def format_result(result: PolicyResult) -> str:
    """A summary line, a table of failed checks, the skipped ones with what skips them
    ("in code" or "policy.skip") and why."""
    verdict = "passed" if result.ok else "FAILED"
    counts = (
        f"{len(result.failed)} failed, {len(result.passed)} passed, {len(result.skipped)} skipped"
    )
    note = " (cached: checkov not run, plan and policies unchanged)" if result.cached else ""
    lines = [f"policy {result.env}: {verdict} ({counts}){note}"]
    if result.failed:
        lines += _table(
            ("CHECK", "RESOURCE", "MESSAGE"),
            [(f.check_id, f.resource, f.message) for f in result.failed],
        )
    if result.skipped:
        lines.append("skipped:")
        lines += _table(
            ("CHECK", "RESOURCE", "SKIPPED BY", "REASON"),
            [
                (f.check_id, f.resource, result.skipped_by(f), reason)
                for f, reason in result.skipped
            ],
        )
    return "\n".join(lines)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    """Columns padded to their widest cell, the last one not padded."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append(("  " + "  ".join([*cells, row[-1]])).rstrip())
    return lines
