"""What the apply on merge did, per environment, and how the pull request shows it:
a table appended to the sticky plan comment (with a link to the run), and the job
summary. Pure functions, but `write`/`read` of the per-environment JSON the jobs
pass each other as artifacts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ephemera.ci.comment import LIMIT

RESULTS_MARKER = "<!-- ephemera-results -->"
APPLIED, DESTROYED, NOTHING = "applied", "destroyed", "nothing to do"
SKIPPED, FAILED, WAITING = "skipped", "failed", "waiting for approval"
ICONS = {APPLIED: "✅", DESTROYED: "🗑️", NOTHING: "✅", SKIPPED: "⏭️", FAILED: "❌", WAITING: "⏸️"}


@dataclass(frozen=True)
class ApplyResult:
    env: str
    action: str  # create | update | destroy
    result: str  # one of ICONS
    detail: str = ""
    counts: str = ""  # +a ~c -d of what was applied
    run_url: str = ""
    commit: str = ""

    @property
    def failed(self) -> bool:
        return self.result == FAILED


def stamped(result: ApplyResult, commit: str, run_url: str) -> ApplyResult:
    """`result` with the commit it is about and the link to the run that did it."""
    return dataclasses.replace(result, run_url=run_url, commit=commit)


def write(directory: Path, result: ApplyResult) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{result.env}.result.json"
    path.write_text(json.dumps(asdict(result), indent=2, sort_keys=True) + "\n")
    return path


def read(directory: Path) -> list[ApplyResult]:
    """Every result in `directory` (and below: downloaded artifacts), by env name."""
    found = [
        ApplyResult(**json.loads(path.read_text()))
        for path in sorted(Path(directory).rglob("*.result.json"))
    ]
    return sorted(found, key=lambda r: r.env)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|") or "—"


def table(results: Sequence[ApplyResult]) -> str:
    lines = ["| Environment | Action | Result | + ~ - | Run |", "|---|---|---|---|---|"]
    for r in results:
        run = f"[run]({r.run_url})" if r.run_url else "—"
        result = f"{ICONS.get(r.result, '')} {r.result}" + (f": {r.detail}" if r.detail else "")
        cells = [f"`{r.env}`", r.action, result, r.counts or "—"]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + f" | {run} |")
    return "\n".join(lines) + "\n"


def summary(results: Sequence[ApplyResult], title: str = "Ephemera apply") -> str:
    """The job summary of an apply job."""
    if not results:
        return f"### {title}\n\nNo environment to apply.\n"
    return f"### {title}\n\n{table(results)}"


def append(body: str, results: Sequence[ApplyResult], *, limit: int = LIMIT) -> str:
    """The sticky comment with `results` added to its results section (created at the
    end the first time); the oldest result rows go first when it would grow past
    `limit` characters."""
    if not results:
        return body
    head, marker, section = body.partition(RESULTS_MARKER)
    rows = [line for line in section.splitlines() if line.startswith("| `")] if marker else []
    rows += table(results).splitlines()[2:]
    while True:
        text = (
            f"{head.rstrip()}\n\n{RESULTS_MARKER}\n### Apply results\n\n"
            + "\n".join(table([]).splitlines()[:2] + rows)
            + "\n"
        )
        if len(text) <= limit or len(rows) <= 1:
            return text[:limit]
        rows.pop(0)
