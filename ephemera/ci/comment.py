"""The pull-request comment of `ci-plan`, as markdown: a pure function of the results.

    <!-- ephemera-plan -->          hidden marker: the workflow updates this comment in place
    ### Ephemera plan
    | env | stack | action | + ~ - | policy | cost over TTL | expires |   every environment
    > [!WARNING] … destroyed …      one line per deleted environment, and one per plan
                                    that destroys or replaces resources (⚠️ rows)
    gate verdicts changed           when policies/schemas/pricing changed a verdict
    <details> env — plan </details>  one collapsed section per environment

The comment never exceeds `limit` characters (GitHub refuses comments over
65,536): when the plans do not fit, the largest are cut first, each cut plan
ending with a pointer to the workflow artifact that holds it in full. The table
always lists every environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MARKER = "<!-- ephemera-plan -->"
LIMIT = 60_000
DESTROY_LABEL, REPLACE_LABEL = "ephemera:destroy", "ephemera:replace"
NO_CHANGES = "no environment affected"
MIN_PLAN_CHARS = 300  # below this, a cut plan is not worth showing: it is left out


@dataclass(frozen=True)
class EnvReport:
    """What the comment shows of one affected environment."""

    env: str
    stack: str
    action: str  # create | update | destroy
    added: int | None = None
    changed: int | None = None
    destroyed: int | None = None
    policy: str = ""  # passed | failed | error | "" (not checked)
    policy_detail: str = ""  # e.g. the failed check ids, or the skipped ones
    cost: str = ""  # e.g. "$0.42 over 8h"
    expiry: str = ""  # e.g. "8h after apply"
    plan_text: str = ""
    problems: tuple[str, ...] = ()  # validation problems
    error: str = ""  # plan failure (init/plan/show), or the policy gate's error
    reason: str = ""  # why the environment is affected
    artifact_path: str = ""  # where its full plan is, inside the artifact
    not_planned: str = ""  # validated, not planned in CI: why (its target)
    deleted: tuple[str, ...] = ()  # addresses the plan destroys
    replaced: tuple[str, ...] = ()  # addresses the plan replaces

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.error or self.policy in ("failed", "error"))

    @property
    def destructive(self) -> bool:
        """A destroy of the environment, or a plan that destroys or replaces resources."""
        return self.action == "destroy" or bool(self.deleted or self.replaced)

    @property
    def counts(self) -> str:
        if self.added is None:
            return "—"
        return f"+{self.added} ~{self.changed} -{self.destroyed}"


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell."""
    text = " ".join(str(text).split())
    return text.replace("|", "\\|") or "—"


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _status(report: EnvReport) -> str:
    if report.problems:
        return "❌ invalid"
    if report.not_planned:
        return f"⏭️ {report.not_planned}"
    if report.action == "destroy":
        return "⚠️ destroyed on merge"
    if report.error and report.added is None:
        return "❌ plan failed"
    if report.policy == "passed":
        detail = f" ({report.policy_detail})" if report.policy_detail else ""
        return f"✅ passed{detail}"
    if report.policy == "failed":
        return f"❌ failed: {report.policy_detail}" if report.policy_detail else "❌ failed"
    if report.policy == "error":
        return "❌ error"
    return "—"


def _row(report: EnvReport) -> str:
    if report.action == "destroy" and not report.not_planned:
        cells = [
            f"⚠️ `{report.env}`",
            report.stack,
            "**destroy**",
            "all resources",
            _status(report),
            "—",
            "—",
        ]
    else:
        cells = [
            f"⚠️ `{report.env}`"
            if report.destructive and not report.not_planned
            else f"`{report.env}`",
            report.stack,
            report.action,
            report.counts,
            _status(report),
            report.cost,
            report.expiry,
        ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _addresses(addresses: tuple[str, ...], limit: int = 5) -> str:
    shown = ", ".join(f"`{_cell(a)}`" for a in addresses[:limit])
    return shown + (f" (+{len(addresses) - limit} more)" if len(addresses) > limit else "")


def _warning(report: EnvReport) -> str:
    if report.action == "destroy":
        return (
            f"> `{report.env}` ({_cell(report.stack)}) will be **destroyed** when this "
            f"is merged: {_cell(report.reason or 'its environment file was deleted')}."
        )
    parts = []
    if report.replaced:
        parts.append(f"**replaces** {_addresses(report.replaced)}")
    if report.deleted:
        parts.append(f"**destroys** {_addresses(report.deleted)}")
    return f"> `{report.env}`: this {report.action} {' and '.join(parts)}."


def _verdicts(verdicts: Sequence[tuple[str, str, str]]) -> str:
    if not verdicts:
        return ""
    lines = [
        "#### Gate verdicts changed by this pull request",
        "",
        "| Environment | Before | After |",
        "|---|---|---|",
    ]
    lines += [f"| `{env}` | {_cell(before)} | {_cell(after)} |" for env, before, after in verdicts]
    return "\n".join(lines) + "\n\n"


def labels(reports: Sequence[EnvReport]) -> dict[str, bool]:
    """Which of the pull request's labels apply: a plan that destroys, one that replaces."""
    return {
        DESTROY_LABEL: any(r.action == "destroy" or r.deleted for r in reports),
        REPLACE_LABEL: any(r.replaced for r in reports),
    }


def _header(reports: Sequence[EnvReport], base: str, head: str) -> str:
    failed = [r for r in reports if r.failed]
    destroys = [r for r in reports if r.destructive and not r.not_planned]
    where = f" between `{base[:12]}` and `{head[:12]}`" if base and head else ""
    lines = [MARKER, "### Ephemera plan", ""]
    summary = f"**{len(reports)}** environment(s) affected{where}"
    if failed:
        summary += f" — ❌ **{len(failed)} failed**: " + ", ".join(f"`{r.env}`" for r in failed)
    else:
        summary += " — ✅ every check passed"
    lines += [summary, ""]
    lines += [
        "| Environment | Stack | Action | + ~ - | Policy | Cost over TTL | Expires |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(r) for r in reports]
    lines.append("")
    if destroys:
        lines.append("> [!WARNING]")
        lines += [_warning(report) for report in destroys]
        lines.append("")
    return "\n".join(lines) + "\n"


def _failure_text(report: EnvReport) -> str:
    parts = []
    if report.problems:
        parts.append("Validation failed:\n" + "\n".join(report.problems))
    if report.error:
        parts.append(report.error)
    return "\n\n".join(parts)


def _body_text(report: EnvReport) -> str:
    """What the collapsed section shows: failures first, then the plan."""
    parts = [p for p in (_failure_text(report), report.plan_text.rstrip("\n")) if p]
    return "\n\n".join(parts)


def _cut(text: str, keep: int, pointer: str) -> str:
    """The first `keep` characters of `text`, cut at a line end, plus a pointer."""
    if len(text) <= keep:
        return text
    head = text[:keep]
    if "\n" in head:
        head = head[: head.rindex("\n")]
    omitted = text[len(head) :].count("\n") + 1
    return f"{head}\n… {omitted} more line(s) cut to fit the comment; {pointer}"


def _section(report: EnvReport, body: str | None, pointer: str) -> str:
    summary = f"<code>{report.env}</code> — {report.action}"
    if report.added is not None:
        summary += f" {report.counts}"
    if report.failed:
        summary += " ❌"
    opened = " open" if report.failed else ""
    if body is None:
        return (
            f"<details{opened}><summary>{summary}</summary>\n\n"
            f"Not shown: the comment would be too long; {pointer}.\n\n</details>\n"
        )
    if not body:
        body = "(no plan: " + (report.reason or report.action) + ")"
    fence = _fence(body)
    reason = f"Affected: {report.reason}\n\n" if report.reason else ""
    return (
        f"<details{opened}><summary>{summary}</summary>\n\n{reason}"
        f"{fence}\n{body}\n{fence}\n\n</details>\n"
    )


def _pointer(report: EnvReport, artifact: str) -> str:
    where = report.artifact_path or f"{report.env}.plan.txt"
    return f"the full text is `{where}` in the `{artifact}` artifact of this run"


def _caps(lengths: list[int], budget: int) -> int:
    """The largest cap c with sum(min(length, c)) <= budget (water-filling):
    the longest texts are cut first, and all cut ones keep the same length."""
    if sum(lengths) <= budget:
        return max(lengths, default=0)
    low, high = 0, max(lengths)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(n, middle) for n in lengths) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def render_comment(
    reports: Sequence[EnvReport],
    *,
    base: str = "",
    head: str = "",
    artifact: str = "ephemera-plans",
    limit: int = LIMIT,
    verdicts: Sequence[tuple[str, str, str]] = (),
    kept: bool | None = None,
    marker: str = MARKER,
    title: str = "Ephemera plan",
) -> str:
    """The comment for `reports` (in the order given), at most `limit` characters.
    `verdicts`: (env, before, after) of the gate verdicts that changed; `kept`: whether
    the plans were kept, sealed, for the apply on merge (None: there was none to keep)."""
    if not reports:
        where = f" between `{base[:12]}` and `{head[:12]}`" if base and head else ""
        return f"{marker}\n### {title}\n\n✅ {NO_CHANGES}{where}.\n"
    header = _header(reports, base, head).replace(MARKER, marker, 1)
    header = header.replace("### Ephemera plan", f"### {title}", 1) + _verdicts(verdicts)
    saved_note = {
        True: "Each plan is kept, sealed, for the apply on merge; plan files are never in it.",
        False: "Plans are not kept for the merge: the apply on merge needs the repository "
        "secret EPHEMERA_PLAN_KEY; plan files are never uploaded.",
        None: "Plan files are never uploaded.",
    }[kept]
    footer = (
        f"\n<sub>Full plans and JSON summaries: the `{artifact}` artifact of this run. "
        f"{saved_note}</sub>\n"
    )
    items = [(r, _body_text(r), _pointer(r, artifact)) for r in reports]
    full = header + "".join(_section(r, b, p) for r, b, p in items) + footer
    if len(full) <= limit:
        return full

    # Too long: find the cap on body lengths that fits, cutting the largest first.
    overhead = len(header) + len(footer)
    overhead += sum(len(_section(r, "", p)) + len(p) + 64 for r, _, p in items)
    budget = limit - overhead
    while budget > 0:
        cap = _caps([len(b) for _, b, _ in items], budget)
        if cap < MIN_PLAN_CHARS:
            break
        text = header + "".join(_section(r, _cut(b, cap, p), p) for r, b, p in items) + footer
        if len(text) <= limit:
            return text
        budget -= len(text) - limit
    # Still too long: show the table and only a pointer per environment.
    text = header + "".join(_section(r, None, p) for r, _, p in items) + footer
    if len(text) <= limit:
        return text
    text = header + footer
    if len(text) <= limit:
        return text
    note = f"\n\n… the table is cut to fit the comment; see the `{artifact}` artifact.\n"
    return text[: limit - len(note)] + note
