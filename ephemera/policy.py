"""The policy gate: checkov on plan.json files with the project's custom checks.

checkov runs in its own virtualenv as a subprocess (`checkov_path`), fully
offline: `--skip-download`, `CKV_SKIP_PACKAGE_UPDATE_CHECK=true`, no API key
(every `BC_*`, `CKV_*`, `PRISMA_*`, `CHECKOV_*` variable of the caller is
dropped, and HOME and the working directory are an empty temporary directory,
so no `.checkov.yaml` is read). Its JSON report is parsed, never grepped.

Several environments are checked by one checkov process (`check_plans`): each
plan is copied to `<tmp>/<n>/plan.json`, all are passed with `-f`, and results
are mapped back to environments by file path. checkov runs with nothing
skipped; each environment's skips (`policy.skip` in its file) are applied when
mapping back, so a skipped failure is still shown, as skipped, with its reason.
(`--skip-check` would not do: checkov then drops the check's records entirely,
and one process can't have a different skip list per file.)

Results are cached under `<home>/policy-cache/`, keyed by the plan's bytes,
the contents of every file under `policies/` and the checkov version, so an
unchanged re-run does not start checkov (`PolicyResult.cached`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ephemera.errors import CommandError, EphemeraError, UsageError
from ephemera.model import PolicySkip
from ephemera.project import Project

CACHE_FORMAT = 1
PLAN_FRAMEWORK = "terraform_plan"
STATIC_FRAMEWORK = "terraform"
TIMEOUT_SECONDS = 900
# The caller's variables that could point checkov at a platform, an API key, a
# config or a different check selection.
DROPPED_ENV_PREFIXES = ("BC_", "CKV_", "PRISMA_", "CHECKOV_")
OFFLINE_ENV = {
    "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
    "BC_SKIP_MAPPING": "TRUE",
    "PYTHONDONTWRITEBYTECODE": "1",
}


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

    @property
    def ok(self) -> bool:
        return not self.failed


# --- finding checkov ------------------------------------------------------------


INSTALL_ROOT = Path(__file__).resolve().parent.parent


def checkov_path(project: Project) -> str:
    """`EPHEMERA_CHECKOV`, else `.venv-checkov/bin/checkov` of the project (or of the
    checkout Ephemera runs from), else `checkov` on PATH."""
    configured = os.environ.get("EPHEMERA_CHECKOV")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise EphemeraError(
                f"policy: EPHEMERA_CHECKOV={configured} is not an executable file; "
                "fix it, or unset it to use .venv-checkov (run make setup)"
            )
        return found
    venv = project.root / ".venv-checkov" / "bin" / "checkov"
    for candidate in (venv, INSTALL_ROOT / ".venv-checkov" / "bin" / "checkov"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("checkov")
    if on_path:
        return on_path
    raise EphemeraError(
        f"policy: checkov not found (not in {project.relative(venv)}, not on PATH, "
        "EPHEMERA_CHECKOV not set); run make setup"
    )


def checkov_version(project: Project, executable: str) -> str:
    """The checkov version, without starting checkov when it can be read from its install.

    The interpreter of the script's shebang (or the script's own virtualenv) is looked
    up for a `checkov-<version>.dist-info`; failing that (a wrapper script, say),
    `checkov --version` runs once and is remembered per executable size and mtime.
    """
    installed = _installed_version(executable)
    if installed:
        return installed
    resolved = Path(executable).resolve()
    stat = resolved.stat()
    ident = f"{resolved}:{stat.st_size}:{stat.st_mtime_ns}"
    memo_file = cache_dir(project) / "checkov-version.json"
    memo = _read_json(memo_file) or {}
    if isinstance(memo.get(ident), str):
        return str(memo[ident])
    with tempfile.TemporaryDirectory(prefix="ephemera-checkov-") as scratch:
        argv = [executable, "--version"]
        try:
            done = subprocess.run(
                argv,
                cwd=scratch,
                env=checkov_environment(Path(scratch)),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EphemeraError(f"policy: cannot run {executable} --version: {exc}") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise CommandError("policy", argv, done.returncode, done.stdout, done.stderr)
    version = lines[-1].strip()
    memo[ident] = version
    _write_json(memo_file, memo)
    return version


def _installed_version(executable: str) -> str | None:
    script = Path(executable).resolve()
    candidates = [script.parent.parent]
    try:
        with script.open("rb") as handle:
            shebang = handle.readline(512).decode("utf-8", "replace")
    except OSError:
        shebang = ""
    if shebang.startswith("#!"):
        interpreter = shebang[2:].strip().split(" ")[0]
        if interpreter and not interpreter.endswith("/env"):
            candidates.insert(0, Path(interpreter).parent.parent)
    for prefix in candidates:
        for dist in sorted(prefix.glob("lib/python3*/site-packages/checkov-*.dist-info")):
            match = re.fullmatch(r"checkov-(.+)\.dist-info", dist.name)
            if match:
                return match.group(1)
    return None


def checkov_environment(home: Path) -> dict[str, str]:
    """The caller's environment minus checkov/platform settings, plus the offline switches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_ENV_PREFIXES)}
    env.update(OFFLINE_ENV)
    env["HOME"] = str(home)  # no ~/.checkov.yaml
    return env


def policies_dir(project: Project) -> Path:
    return project.root / "policies"


def cache_dir(project: Project) -> Path:
    return project.home / "policy-cache"


# --- running checkov -------------------------------------------------------------


def _run_checkov(
    project: Project, executable: str, scratch: Path, args: Sequence[str], where: str
) -> list[dict[str, Any]]:
    """Run checkov with JSON output and return its reports (possibly none)."""
    checks = policies_dir(project)
    if not (checks / "__init__.py").is_file():
        raise EphemeraError(
            f"policy: {project.relative(checks)}/__init__.py is missing: checkov loads no "
            "custom check from a directory without it"
        )
    argv = [
        executable,
        *args,
        "--external-checks-dir",
        str(checks),
        "--skip-download",
        "--output",
        "json",
    ]
    home = scratch / "home"
    home.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            argv,
            cwd=home,
            env=checkov_environment(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise EphemeraError(f"{where}: checkov did not finish in {TIMEOUT_SECONDS}s") from exc
    except OSError as exc:
        raise EphemeraError(f"{where}: cannot run {executable}: {exc}; run make setup") from exc
    # 0: nothing failed, 1: some check failed. Anything else is checkov's own failure.
    if done.returncode not in (0, 1):
        raise CommandError(where, argv, done.returncode, done.stdout, done.stderr)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise CommandError(
            f"{where}: checkov's output is not JSON",
            argv,
            done.returncode,
            done.stdout,
            done.stderr,
        ) from None
    return _reports(data, where)


def _reports(data: Any, where: str) -> list[dict[str, Any]]:
    """One report gives an object, several a list; "no resources" gives a bare summary."""
    items = data if isinstance(data, list) else [data]
    reports = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("results"), dict):
            reports.append(item)
        elif isinstance(item, dict) and "resource_count" in item and "passed" in item:
            continue  # the summary checkov prints when it found nothing to scan
        else:
            raise EphemeraError(f"{where}: unexpected checkov output: {json.dumps(item)[:200]}")
    return reports


@dataclass(frozen=True)
class _Record:
    path: str  # file_abs_path
    status: str  # "passed" | "failed" | "skipped" (an inline #checkov:skip, static scans only)
    check_id: str
    resource: str
    message: str
    reason: str = ""


def _records(reports: Iterable[dict[str, Any]]) -> tuple[list[_Record], list[str]]:
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
) -> dict[str, PolicyResult]:
    """Check each environment's plan.json; one checkov process for all cache misses."""
    skips = skips or {}
    for env, env_skips in skips.items():
        for skip in env_skips:
            if not skip.reason.strip():
                raise UsageError(f"{env}: policy.skip: {skip.id} needs a reason")
    if not plans:
        return {}
    executable = checkov_path(project)
    version = checkov_version(project, executable)
    digest = policies_digest(project)
    contents: dict[str, bytes] = {}
    keys: dict[str, str] = {}
    raw: dict[str, tuple[list[dict[str, str]], list[dict[str, str]]]] = {}
    cached: set[str] = set()
    for env, plan in plans.items():
        try:
            contents[env] = Path(plan).read_bytes()
        except OSError as exc:
            raise EphemeraError(f"{env}: policy: cannot read {plan}: {exc.strerror}") from exc
        keys[env] = cache_key(contents[env], digest, version)
        hit = _cache_read(project, keys[env])
        if hit is not None:
            raw[env] = hit
            cached.add(env)
    todo = [env for env in plans if env not in raw]
    if todo:
        fresh = _scan_plans(project, executable, {env: contents[env] for env in todo}, plans)
        for env in todo:
            raw[env] = fresh[env]
            _cache_write(project, keys[env], version, *fresh[env])
    return {
        env: _result(env, str(plans[env]), *raw[env], skips.get(env, ()), cached=env in cached)
        for env in plans
    }


def check_plan(
    project: Project, env: str, plan: Path, skips: Sequence[PolicySkip] = ()
) -> PolicyResult:
    """`check_plans` for one environment."""
    return check_plans(project, {env: plan}, {env: tuple(skips)})[env]


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
        reports = _run_checkov(
            project, executable, scratch, ["--framework", PLAN_FRAMEWORK, "--file", *files], where
        )
        records, parse_errors = _records(reports)
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
    *,
    cached: bool,
) -> PolicyResult:
    reasons = {skip.id: skip.reason for skip in skips}
    result = PolicyResult(env=env, cached=cached)
    for entry in sorted(passed, key=_order):
        result.passed.append(PolicyFinding(file=file, **entry))
    for entry in sorted(failed, key=_order):
        finding = PolicyFinding(file=file, **entry)
        if finding.check_id in reasons:
            result.skipped.append((finding, reasons[finding.check_id]))
        else:
            result.failed.append(finding)
    return result


def _order(entry: dict[str, str]) -> tuple[str, str]:
    return entry["check_id"], entry["resource"]


def policies_digest(project: Project) -> str:
    """sha256 over the path and content of every file under policies/."""
    root = policies_dir(project)
    digest = hashlib.sha256()
    if root.is_dir():
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root)
            if not path.is_file() or any(
                part == "__pycache__" or part.startswith(".") for part in relative.parts
            ):
                continue
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cache_key(plan: bytes, policies: str, checkov_version: str) -> str:
    digest = hashlib.sha256()
    for part in (
        f"format {CACHE_FORMAT}",
        checkov_version,
        policies,
        hashlib.sha256(plan).hexdigest(),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def _cache_read(
    project: Project, key: str
) -> tuple[list[dict[str, str]], list[dict[str, str]]] | None:
    data = _read_json(cache_dir(project) / f"{key}.json")
    if not data or data.get("format") != CACHE_FORMAT:
        return None
    try:
        passed = [_entry(e) for e in data["passed"]]
        failed = [_entry(e) for e in data["failed"]]
    except (KeyError, TypeError):
        return None
    return passed, failed


def _entry(raw: dict[str, Any]) -> dict[str, str]:
    return {
        "check_id": str(raw["check_id"]),
        "resource": str(raw["resource"]),
        "message": str(raw["message"]),
    }


def _cache_write(
    project: Project,
    key: str,
    version: str,
    passed: list[dict[str, str]],
    failed: list[dict[str, str]],
) -> None:
    _write_json(
        cache_dir(project) / f"{key}.json",
        {"format": CACHE_FORMAT, "checkov_version": version, "passed": passed, "failed": failed},
    )


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomic: a concurrent reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- static scan -----------------------------------------------------------------


def scan_static(
    project: Project, path: Path | None = None, skips: Sequence[PolicySkip] = ()
) -> PolicyResult:
    """checkov on Terraform source (default: terraform/) with the custom checks; not cached.

    Checks that need a plan (tags via default_tags, max_tasks, load balancer
    membership) say nothing here; the plan gate is the authority.
    """
    target = (path or project.root / "terraform").resolve()
    name = project.relative(target)
    where = f"{name}: policy-scan"
    if not target.exists():
        raise UsageError(f"{where}: no such file or directory")
    executable = checkov_path(project)
    selector = ["--directory", str(target)] if target.is_dir() else ["--file", str(target)]
    with tempfile.TemporaryDirectory(prefix="ephemera-policy-") as tmp:
        reports = _run_checkov(
            project,
            executable,
            Path(tmp),
            ["--framework", STATIC_FRAMEWORK, *selector],
            where,
        )
    records, parse_errors = _records(reports)
    if parse_errors:
        shown = ", ".join(project.relative(Path(p)) for p in parse_errors)
        raise EphemeraError(f"{where}: checkov could not parse {shown}")
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
        elif record.status == "skipped":
            result.skipped.append((finding, record.reason or "skipped in the source"))
        elif record.check_id in reasons:
            result.skipped.append((finding, reasons[record.check_id]))
        else:
            result.failed.append(finding)
    return result


# --- output -------------------------------------------------------------------


def format_result(result: PolicyResult) -> str:
    """A summary line, a table of failed checks, the skipped ones with their reasons."""
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
        lines.append("skipped (policy.skip):")
        lines += _table(
            ("CHECK", "RESOURCE", "REASON"),
            [(f.check_id, f.resource, reason) for f, reason in result.skipped],
        )
    return "\n".join(lines)


def _table(header: tuple[str, str, str], rows: list[tuple[str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(2)]
    return [
        f"  {row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]}".rstrip()
        for row in [header, *rows]
    ]
