"""The plan comment (ephemera.ci.comment): a pure function from results to markdown."""

from __future__ import annotations

import re

import pytest

from ephemera.ci.comment import LIMIT, MARKER, NO_CHANGES, EnvReport, render_comment


def big_plan(name: str, resources: int) -> str:
    lines = ["Terraform will perform the following actions:", ""]
    for index in range(resources):
        lines += [
            f"  # module.service.terraform_data.replica[{index}] will be created",
            '  + resource "terraform_data" "replica" {',
            "      + id     = (known after apply)",
            "      + input  = {",
            f'          + name = "{name}-{index}"',
            '          + size = "medium"',
            "        }",
            "    }",
            "",
        ]
    lines.append(f"Plan: {resources} to add, 0 to change, 0 to destroy.")
    return "\n".join(lines) + "\n"


def env_report(index: int, resources: int = 10, **overrides: object) -> EnvReport:
    name = f"svc-{index:02d}"
    values: dict[str, object] = {
        "env": name,
        "stack": "ci-fixture",
        "action": "update",
        "added": resources,
        "changed": 0,
        "destroyed": 0,
        "policy": "passed",
        "cost": "$0.00 over 4h",
        "expiry": "4h after apply",
        "plan_text": big_plan(name, resources),
        "reason": "settings: ttl",
        "artifact_path": f"{name}.plan.txt",
    }
    values.update(overrides)
    return EnvReport(**values)  # type: ignore[arg-type]


def table_rows(comment: str) -> list[str]:
    return [line for line in comment.splitlines() if line.startswith("| ") and "---" not in line][
        1:
    ]


def test_small_comment_is_complete() -> None:
    reports = [env_report(1), env_report(2, policy="failed", policy_detail="CKV_EPH_1")]
    comment = render_comment(reports, base="a" * 40, head="b" * 40)
    assert comment.startswith(MARKER + "\n")
    assert "between `aaaaaaaaaaaa` and `bbbbbbbbbbbb`" in comment
    rows = table_rows(comment)
    assert len(rows) == 2
    assert rows[0] == (
        "| `svc-01` | ci-fixture | update | +10 ~0 -0 | ✅ passed | $0.00 over 4h | "
        "4h after apply |"
    )
    assert "❌ failed: CKV_EPH_1" in rows[1]
    assert "❌ **1 failed**: `svc-02`" in comment
    assert comment.count("<details") == 2
    assert "<details open><summary><code>svc-02</code>" in comment  # failures open
    assert big_plan("svc-01", 10).strip() in comment  # not cut


def test_thirty_large_plans_stay_under_the_limit_and_all_are_listed() -> None:
    reports = [env_report(i, resources=60 + 7 * i) for i in range(30)]
    total_plans = sum(len(r.plan_text) for r in reports)
    assert total_plans > 3 * LIMIT  # really too big
    comment = render_comment(reports, base="a" * 40, head="b" * 40)
    assert len(comment) <= LIMIT
    rows = table_rows(comment)
    assert len(rows) == 30
    for index in range(30):
        name = f"svc-{index:02d}"
        assert sum(f"`{name}`" in row for row in rows) == 1
        assert f"<summary><code>{name}</code>" in comment
    # The largest plans were cut, each with a pointer to the artifact.
    assert "cut to fit the comment" in comment
    assert "the full text is `svc-29.plan.txt` in the `ephemera-plans` artifact" in comment
    # Plans cut first are the largest: the smallest is still shown whole, or
    # at least more of it than of the largest, relative to their sizes.
    shown = {r.env: _shown_body(comment, r.env) for r in reports}
    assert len(shown["svc-00"]) >= min(len(shown["svc-29"]), len(reports[0].plan_text)) - 200


def _shown_body(comment: str, env: str) -> str:
    match = re.search(
        rf"<summary><code>{env}</code>.*?</summary>\n\n(?:Affected: .*?\n\n)?(`{{3,}})\n(.*?)\n\1",
        comment,
        re.DOTALL,
    )
    assert match, env
    return match.group(2)


def test_water_filling_cuts_the_largest_first() -> None:
    small = env_report(1, resources=2)
    huge = env_report(2, resources=3000)
    comment = render_comment([small, huge], limit=20_000)
    assert len(comment) <= 20_000
    assert small.plan_text.strip() in comment  # the small plan is intact
    assert "svc-02.plan.txt" in comment and "cut to fit the comment" in comment


def test_many_environments_degrade_to_pointers_but_keep_the_table() -> None:
    reports = [env_report(i, resources=50) for i in range(300)]
    reports = [
        EnvReport(**{**r.__dict__, "env": f"environment-number-{i:03d}"})
        for i, r in enumerate(reports)
    ]
    comment = render_comment(reports, limit=LIMIT)
    assert len(comment) <= LIMIT
    assert len(table_rows(comment)) == 300


def test_destroys_get_a_warning_row_and_a_warning_block() -> None:
    reports = [
        env_report(1),
        EnvReport(
            env="api-07",
            stack="local-mock-api",
            action="destroy",
            reason="environment file deleted",
        ),
    ]
    comment = render_comment(reports)
    rows = table_rows(comment)
    destroy_row = next(row for row in rows if "api-07" in row)
    assert destroy_row.startswith("| ⚠️ `api-07` | local-mock-api | **destroy** |")
    assert "destroyed on merge" in destroy_row
    assert "> [!WARNING]" in comment
    assert "> `api-07` (local-mock-api) will be **destroyed** when this is merged" in comment


def test_no_environment_affected() -> None:
    comment = render_comment([], base="a" * 40, head="b" * 40)
    assert comment.startswith(MARKER)
    assert NO_CHANGES in comment
    assert "|" not in comment


def test_validation_failures_and_plan_errors_are_shown() -> None:
    reports = [
        EnvReport(
            env="svc-08",
            stack="ci-fixture",
            action="update",
            problems=("environments/svc-08.yaml:9: variables.replicas: expected a number",),
        ),
        EnvReport(
            env="svc-09",
            stack="ci-fixture",
            action="create",
            error="svc-09: plan: command failed with exit code 1",
        ),
    ]
    comment = render_comment(reports)
    rows = table_rows(comment)
    assert "❌ invalid" in rows[0] and "| — |" in rows[0]
    assert "❌ plan failed" in rows[1]
    assert "variables.replicas: expected a number" in comment
    assert "command failed with exit code 1" in comment
    assert all(r.failed for r in reports)


def test_cells_and_fences_are_escaped() -> None:
    plan = "line with ``` fence\nand | pipe\n"
    comment = render_comment(
        [env_report(1, plan_text=plan, reason="a | b", cost="$1 | 2", policy_detail="x|y")]
    )
    assert "````\n" + plan.rstrip("\n") + "\n````" in comment
    assert "$1 \\| 2" in comment


@pytest.mark.parametrize("limit", [5_000, 20_000, 60_000])
def test_never_over_the_limit(limit: int) -> None:
    reports = [env_report(i, resources=40 * (i + 1)) for i in range(12)]
    assert len(render_comment(reports, limit=limit)) <= limit


def test_not_planned_destroyed_and_replaced_rows_and_the_labels() -> None:
    from ephemera.ci.comment import DESTROY_LABEL, REPLACE_LABEL, labels

    local = env_report(1, action="update", added=None, policy="", not_planned="local target: x")
    replacing = env_report(2, replaced=("aws_ecs_service.api",), deleted=("aws_lb.old",))
    deleted_local = env_report(3, action="destroy", added=None, not_planned="local target: x")
    comment = render_comment([local, replacing, deleted_local])
    rows = table_rows(comment)
    assert rows[0].startswith("| `svc-01` |") and "⏭️ local target: x" in rows[0]
    assert rows[1].startswith("| ⚠️ `svc-02` |")
    assert "| `svc-03` | ci-fixture | destroy | — | ⏭️ local target: x |" in rows[2]  # not CI's
    warnings = comment.split("> [!WARNING]")[1].split("\n\n")[0]
    assert (
        "`svc-02`: this update **replaces** `aws_ecs_service.api` and **destroys** `aws_lb.old`"
        in warnings
    )
    assert "svc-03" not in warnings and "❌" not in comment.split("<details")[0]
    assert labels([local, replacing]) == {DESTROY_LABEL: True, REPLACE_LABEL: True}
    assert labels([local]) == {DESTROY_LABEL: False, REPLACE_LABEL: False}
    assert labels([env_report(4, action="destroy")]) == {DESTROY_LABEL: True, REPLACE_LABEL: False}
