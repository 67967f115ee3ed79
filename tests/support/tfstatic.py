"""Static checks of the Terraform tree, with no provider and no cloud account.

Every directory under `terraform/` that holds `.tf` files (stacks, modules,
bootstrap) must:

- be `terraform fmt` clean                               (`fmt_findings`)
- parse with python-hcl2                                  (`parse_findings`)
- give every variable a `type` and a `description`, and
  every output a `description`                            (`documentation_findings`)
- pass checkov's static HCL scan, offline, with the
  custom checks of policies/                              (`checkov_findings` over
                                                          `ephemera.gate.static.static_reports`)
- give every `checkov:skip=<ID>` comment a reason         (`skip_reason_findings`)
- skip only what fails: a scan with the skips disabled
  fails each skipped check where its comment is           (`disable_skips`, `unused_skip_findings`)

Each check returns a sorted list of `Finding`s (empty = passed), located at a
file and line relative to a `base` directory, so tests can assert exact results
and a CLI can print them one per line. `static_findings` runs every check but
checkov (which is slow: scan once and reuse the reports). checkov itself is run by
`ephemera.gate.static.static_reports` (through `ephemera.gate.checkov`): the same scan as
`invoke policy-scan`, so the tests of terraform/ and the CLI cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from ephemera.errors import tail
from ephemera.gate.skips import inline_skips
from ephemera.terraform import providerschema
from ephemera.terraform.runner import Result, fmt_check

# Check names of the findings that are not checkov's own check IDs.
FMT = "fmt"
PARSE = "parse"
VARIABLE_TYPE = "variable-type"
VARIABLE_DESCRIPTION = "variable-description"
OUTPUT_DESCRIPTION = "output-description"
SKIP_REASON = "skip-reason"
UNUSED_SKIP = "unused-skip"
CHECKOV_PARSE = "checkov-parse"
UNTAGGED = "untagged"

_HCL_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True
)


@dataclass(frozen=True, order=True)
class Finding:
    """One problem: where (file relative to the base, 1-based line, 0 if unknown) and what."""

    path: str
    line: int
    check: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.check}: {self.message}"


@dataclass(frozen=True)
class SkipComment:
    """A `checkov:skip=<ID>[:<reason>]` comment in a .tf file."""

    path: Path
    line: int
    check_id: str
    reason: str  # stripped; "" when missing


# --- files -----------------------------------------------------------------------------


def _visible(path: Path, root: Path) -> bool:
    """False for anything inside a hidden directory below `root` (.terraform, .git …)."""
    return not any(part.startswith(".") for part in path.relative_to(root).parts[:-1])


def tf_files(root: Path) -> list[Path]:
    """Every `.tf` file under `root` (itself one, or a directory), hidden directories skipped."""
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.tf") if p.is_file() and _visible(p, root))


def terraform_dirs(root: Path) -> list[Path]:
    """Every directory under `root` (inclusive) holding `.tf` files: stacks, modules, bootstrap."""
    return sorted({path.parent for path in tf_files(root)})


def _relative(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


# --- parse -------------------------------------------------------------------------------


def parse_file(path: Path) -> dict[str, Any]:
    """The file as python-hcl2's dict (labels and strings unquoted); raises on a syntax error."""
    return hcl2.loads(path.read_text(), serialization_options=_HCL_OPTIONS)


def _parse_error(exc: Exception) -> tuple[int, str]:
    """(line, one-line message) of a python-hcl2/lark error."""
    line = getattr(exc, "line", 0)
    line = line if isinstance(line, int) and line > 0 else 0
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return line, first


def parse_findings(files: Iterable[Path], base: Path | None = None) -> list[Finding]:
    """A finding per file python-hcl2 cannot parse."""
    found = []
    for path in files:
        try:
            parse_file(path)
        except Exception as exc:  # lark raises several unrelated types
            line, message = _parse_error(exc)
            found.append(Finding(_relative(path, base), line, PARSE, message))
    return sorted(found)


# --- documentation -----------------------------------------------------------------------


def _block_line(text: str, kind: str, name: str) -> int:
    match = re.search(rf'^[ \t]*{kind}[ \t]+"{re.escape(name)}"[ \t]*\{{', text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def _blocks(document: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, body) of each `kind "<name>" { … }` block in a parsed document."""
    found = []
    for entry in document.get(kind, []):
        for name, body in entry.items():
            found.append((name, body if isinstance(body, dict) else {}))
    return found


def _described(body: dict[str, Any]) -> bool:
    description = body.get("description")
    return isinstance(description, str) and bool(description.strip())


def documentation_findings(files: Iterable[Path], base: Path | None = None) -> list[Finding]:
    """Variables without a `type` or a non-blank `description`; outputs without a description.

    Files that do not parse are left to `parse_findings`.
    """
    found = []
    for path in files:
        try:
            document = parse_file(path)
        except Exception:  # noqa: S112 - reported by parse_findings
            continue
        text = path.read_text()
        where = _relative(path, base)
        for name, body in _blocks(document, "variable"):
            line = _block_line(text, "variable", name)
            if "type" not in body:
                found.append(Finding(where, line, VARIABLE_TYPE, f"variable {name!r} has no type"))
            if not _described(body):
                message = f"variable {name!r} has no description"
                found.append(Finding(where, line, VARIABLE_DESCRIPTION, message))
        for name, body in _blocks(document, "output"):
            if not _described(body):
                line = _block_line(text, "output", name)
                message = f"output {name!r} has no description"
                found.append(Finding(where, line, OUTPUT_DESCRIPTION, message))
    return sorted(found)


# --- fmt ---------------------------------------------------------------------------------


def fmt_findings(root: Path, plugin_cache: Path, base: Path | None = None) -> list[Finding]:
    """`terraform fmt -check` on `root`: a finding per unformatted file (with its diff) and
    per syntax error terraform reports.

    One recursive run when everything parses; terraform stops at a syntax error, so
    then each file is checked on its own and no unformatted file goes unreported.
    """
    result = fmt_check(root, plugin_cache)
    if result.returncode == 0:
        return []
    if result.returncode == 3 or root.is_file():
        return sorted(_fmt_result_findings(result, root, base))
    found = []
    for path in tf_files(root):
        single = fmt_check(path, plugin_cache)
        if single.returncode != 0:
            found.extend(_fmt_result_findings(single, path, base))
    return sorted(found)


def _fmt_result_findings(result: Result, root: Path, base: Path | None) -> list[Finding]:
    directory = root if root.is_dir() else root.parent
    found = []
    if result.returncode == 3:
        diffs = _split_diffs(result.stdout)
        for name in _unformatted_files(result.stdout):
            path = Path(name) if Path(name).is_absolute() else directory / name
            if root.is_file() and path.name == root.name:
                path = root
            diff = diffs.get(name, "").strip()
            message = f"not formatted (terraform fmt would change it)\n{diff}".rstrip()
            found.append(Finding(_relative(path, base), _first_changed_line(diff), FMT, message))
    if not found:
        found.extend(_fmt_errors(result.stderr + result.stdout, directory, base))
    return found


def _unformatted_files(stdout: str) -> list[str]:
    """File names in `terraform fmt -check -diff` output (the lines that are not diff lines)."""
    names = []
    for line in stdout.splitlines():
        if line and line[0] not in "-+@ \\" and line.endswith((".tf", ".tfvars")):
            names.append(line)
    return names


def _split_diffs(stdout: str) -> dict[str, str]:
    diffs: dict[str, list[str]] = {}
    current: list[str] | None = None
    names = set(_unformatted_files(stdout))
    for line in stdout.splitlines():
        if line in names:
            current = diffs.setdefault(line, [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in diffs.items()}


_HUNK = re.compile(r"^@@ -(?P<start>\d+)")


def _first_changed_line(diff: str) -> int:
    """The line (in the file as it is) of the first line `terraform fmt` would change."""
    line = 0
    for text in diff.splitlines():
        hunk = _HUNK.match(text)
        if hunk:
            line = int(hunk.group("start"))
        elif line and text.startswith("-") and not text.startswith("---"):
            return line
        elif line and text.startswith(" "):
            line += 1
    return 0


_FMT_ERROR = re.compile(r"^\s*(?:│\s*)?Error: (?P<summary>.+)$")
_FMT_ERROR_AT = re.compile(r"^\s*(?:│\s*)?on (?P<file>\S+?\.tf(?:vars)?) line (?P<line>\d+)")


def _fmt_errors(output: str, directory: Path, base: Path | None) -> list[Finding]:
    """Findings from terraform's diagnostics: `Error: <summary>`, then `on <file> line <n>`."""
    found = []
    summary: str | None = None
    for line in output.splitlines():
        error = _FMT_ERROR.match(line)
        if error:
            if summary is not None:
                found.append(Finding(_relative(directory, base), 0, FMT, summary))
            summary = error.group("summary").strip()
            continue
        at = _FMT_ERROR_AT.match(line)
        if at and summary is not None:
            path = Path(at.group("file"))
            path = path if path.is_absolute() else directory / path
            found.append(Finding(_relative(path, base), int(at.group("line")), FMT, summary))
            summary = None
    if summary is not None:
        found.append(Finding(_relative(directory, base), 0, FMT, summary))
    if not found:
        found.append(Finding(_relative(directory, base), 0, FMT, tail(output) or "fmt failed"))
    return found


# --- checkov skip comments ---------------------------------------------------------------


def skip_comments(files: Iterable[Path]) -> list[SkipComment]:
    """Every `checkov:skip=<ID>[:<reason>]` comment in `files`, in file and line order
    (read as the plan gate reads them: `ephemera.gate.skips.inline_skips`)."""
    return [
        SkipComment(path, skip.line, skip.check_id, skip.reason)
        for path in files
        for skip in inline_skips(path.read_text())
    ]


def skip_reason_findings(files: Iterable[Path], base: Path | None = None) -> list[Finding]:
    """A finding per `checkov:skip` comment without a reason (checkov itself accepts those)."""
    return sorted(
        Finding(
            _relative(c.path, base),
            c.line,
            SKIP_REASON,
            f"checkov:skip={c.check_id} has no reason (write checkov:skip={c.check_id}:<why>)",
        )
        for c in skip_comments(files)
        if not c.reason
    )


def disable_skips(source: Path, target: Path) -> Path:
    """Copy every .tf file under `source` to `target` with its `checkov:skip` comments
    disabled (the lines stay where they are); returns `target`. A checkov scan of the
    copy shows what each skip suppresses (`unused_skip_findings`)."""
    for path in tf_files(source):
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(path.read_text().replace("checkov:skip=", "checkov-skip-disabled="))
    return target


def unused_skip_findings(
    comments: Iterable[SkipComment],
    reports_without_skips: Sequence[dict[str, Any]],
    source: Path,
    base: Path | None = None,
) -> list[Finding]:
    """A finding per skip comment that suppresses nothing: in a scan of the tree with its
    skips disabled (`disable_skips` copy of `source`), no failure of that check covers
    the comment's line. Such a skip is stale, misplaced or never needed."""
    failures = [
        (
            str(f.get("check_id")),
            str(f.get("file_path", "")).lstrip("/"),
            (f.get("file_line_range") or [0, 0])[:2],
        )
        for report in reports_without_skips
        for f in (report.get("results") or {}).get("failed_checks") or []
    ]
    found = []
    for comment in comments:
        where = comment.path.relative_to(source).as_posix()
        used = any(
            check_id == comment.check_id and file_path == where and start <= comment.line <= end
            for check_id, file_path, (start, end) in failures
        )
        if not used:
            message = f"checkov:skip={comment.check_id} suppresses no failure (remove it)"
            found.append(Finding(_relative(comment.path, base), comment.line, UNUSED_SKIP, message))
    return sorted(found)


# --- checkov -----------------------------------------------------------------------------


def checkov_findings(
    reports: Sequence[dict[str, Any]], directory: Path, base: Path | None = None
) -> list[Finding]:
    """A finding per failed check (at the resource's first line) and one per report whose
    summary counts files checkov could not parse (their resources were not checked).

    `directory` is the one that was scanned: checkov's paths are relative to it.
    """
    found = []
    for report in reports:
        results = report.get("results") or {}
        for failure in results.get("failed_checks") or []:
            file_path = str(failure.get("file_path", "")).lstrip("/")
            lines = failure.get("file_line_range") or [0]
            resource = failure.get("resource", "?")
            found.append(
                Finding(
                    _relative(directory / file_path, base),
                    int(lines[0] or 0),
                    str(failure.get("check_id", "?")),
                    f"{resource}: {failure.get('check_name', '')}".rstrip(": "),
                )
            )
        unparsed = int((report.get("summary") or {}).get("parsing_errors") or 0)
        for path in results.get("parsing_errors") or []:
            found.append(
                Finding(_relative(Path(path), base), 0, CHECKOV_PARSE, "checkov cannot parse it")
            )
        listed = len(results.get("parsing_errors") or [])
        if unparsed > listed:
            found.append(
                Finding(
                    _relative(directory, base),
                    0,
                    CHECKOV_PARSE,
                    f"checkov could not parse {unparsed} file(s); their resources were not "
                    "checked (see parse findings)",
                )
            )
    return sorted(set(found))


# --- tags ---------------------------------------------------------------------------------

_SCHEMA_FILE = Path(__file__).resolve().parents[2] / providerschema.SCHEMA_FILE


def taggable(resource_type: str) -> bool:
    """Whether the AWS provider takes `tags` on this resource type, as its committed schema
    says (`invoke tf-validate` reports a type the schema does not know)."""
    schema = providerschema.load(_SCHEMA_FILE).resources.get(resource_type) or {}
    return "tags" in (schema.get("attributes") or {})


def tag_findings(files: Iterable[Path], base: Path | None = None) -> list[Finding]:
    """Every taggable AWS resource carries tags: a directory whose `provider "aws"` sets
    `default_tags` tags everything; elsewhere (a module) each resource needs `tags`."""
    by_directory: dict[Path, list[Path]] = {}
    for path in files:
        by_directory.setdefault(path.parent, []).append(path)
    found: list[Finding] = []
    for paths in by_directory.values():
        documents = [(path, _parsed_or_empty(path)) for path in paths]
        if any(_has_default_tags(document) for _, document in documents):
            continue
        for path, document in documents:
            text = path.read_text()
            for block in document.get("resource", []):
                for rtype, instances in block.items():
                    for name, body in instances.items():
                        if taggable(rtype) and "tags" not in body:
                            found.append(
                                Finding(
                                    _relative(path, base),
                                    _resource_line(text, rtype, name),
                                    UNTAGGED,
                                    f"{rtype}.{name} has no tags (pass var.tags, or set "
                                    "default_tags on the provider)",
                                )
                            )
    return sorted(found)


def _parsed_or_empty(path: Path) -> dict[str, Any]:
    """The parsed file, or nothing for a file that does not parse (parse_findings says)."""
    try:
        return parse_file(path)
    except Exception:  # noqa: BLE001 - lark raises several unrelated types
        return {}


def _has_default_tags(document: dict[str, Any]) -> bool:
    for provider in document.get("provider", []):
        aws = provider.get("aws")
        if isinstance(aws, dict) and aws.get("default_tags"):
            return True
    return False


def _resource_line(text: str, rtype: str, name: str) -> int:
    pattern = rf'^[ \t]*resource[ \t]+"{re.escape(rtype)}"[ \t]+"{re.escape(name)}"'
    match = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


# --- everything but checkov --------------------------------------------------------------


def static_findings(root: Path, plugin_cache: Path, base: Path | None = None) -> list[Finding]:
    """fmt, parse, documentation, skip-reason and tag findings for every .tf file under
    `root`."""
    files = tf_files(root)
    return sorted(
        [
            *fmt_findings(root, plugin_cache, base),
            *parse_findings(files, base),
            *documentation_findings(files, base),
            *skip_reason_findings(files, base),
            *tag_findings(files, base),
        ]
    )
