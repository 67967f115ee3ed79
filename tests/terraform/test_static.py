"""The static checks (tests/support/tfstatic.py) pass on every directory under terraform/:
fmt, parse, typed and described variables, described outputs, reasoned checkov skips, and
a clean checkov scan (offline, on HCL: no provider can be downloaded here) with the custom
checks of policies/, as `invoke policy-scan` runs it (`static.static_reports`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ephemera.gate import static
from ephemera.project import Project
from tests.support import tfstatic

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TERRAFORM = REPO_ROOT / "terraform"


def report(findings: list[tfstatic.Finding]) -> str:
    return "\n" + "\n".join(str(f) for f in findings)


def test_the_checks_cover_stacks_modules_and_bootstrap() -> None:
    found = {d.relative_to(TERRAFORM).as_posix() for d in tfstatic.terraform_dirs(TERRAFORM)}
    assert {
        "bootstrap",
        "modules/mockserver-service",
        "modules/network",
        "modules/ttl-janitor",
        "stacks/mock-api",
    } <= found


def test_terraform_fmt_is_clean(tf_plugin_cache: Path) -> None:
    found = tfstatic.fmt_findings(TERRAFORM, tf_plugin_cache, REPO_ROOT)
    assert not found, report(found)


def test_every_file_parses() -> None:
    found = tfstatic.parse_findings(tfstatic.tf_files(TERRAFORM), REPO_ROOT)
    assert not found, report(found)


def test_every_variable_has_a_type_and_a_description_and_every_output_a_description() -> None:
    found = tfstatic.documentation_findings(tfstatic.tf_files(TERRAFORM), REPO_ROOT)
    assert not found, report(found)


def test_every_taggable_resource_is_tagged() -> None:
    found = tfstatic.tag_findings(tfstatic.tf_files(TERRAFORM), REPO_ROOT)
    assert not found, report(found)


def test_every_checkov_skip_has_a_reason() -> None:
    found = tfstatic.skip_reason_findings(tfstatic.tf_files(TERRAFORM), REPO_ROOT)
    assert not found, report(found)
    # …and there are skips, so the check above is not vacuous.
    assert tfstatic.skip_comments(tfstatic.tf_files(TERRAFORM))


@pytest.mark.integration
def test_checkov_reports_no_failed_check(checkov_reports: list[dict[str, Any]]) -> None:
    found = tfstatic.checkov_findings(checkov_reports, TERRAFORM, REPO_ROOT)
    assert not found, report(found)


@pytest.mark.integration
def test_checkov_checked_the_resources(checkov_reports: list[dict[str, Any]]) -> None:
    # A scan that parsed nothing would also have no failures.
    summaries = [r.get("summary") or {} for r in checkov_reports]
    assert sum(s.get("resource_count", 0) for s in summaries) >= 50
    assert sum(s.get("passed", 0) for s in summaries) >= 200
    assert all(s.get("parsing_errors", 0) == 0 for s in summaries)


@pytest.mark.integration
def test_the_scan_runs_the_custom_checks(checkov_reports: list[dict[str, Any]]) -> None:
    ids = {
        str(record.get("check_id"))
        for report in checkov_reports
        for status in ("passed_checks", "failed_checks", "skipped_checks")
        for record in (report.get("results") or {}).get(status) or []
    }
    assert {"CKV_EPH_2", "CKV_EPH_3", "CKV_EPH_4"} <= ids


@pytest.mark.integration
def test_every_checkov_skip_suppresses_a_failure(
    checkov_reports_without_skips: list[dict[str, Any]],
) -> None:
    comments = tfstatic.skip_comments(tfstatic.tf_files(TERRAFORM))
    found = tfstatic.unused_skip_findings(
        comments, checkov_reports_without_skips, TERRAFORM, REPO_ROOT
    )
    assert not found, report(found)


@pytest.mark.integration
def test_the_shipped_listeners_keep_the_control_plane_to_the_team(
    checkov_reports: list[dict[str, Any]],
) -> None:
    """CKV_EPH_7 on the shipped stack: every listener passes, the forwarding ones because
    the control-plane rules attach to them (without the rules they fail: see
    tests/gate/test_policy.py's static scan)."""
    results = {
        (status, str(record.get("resource")))
        for report in checkov_reports
        for status in ("passed_checks", "failed_checks", "skipped_checks")
        for record in (report.get("results") or {}).get(status) or []
        if record.get("check_id") == "CKV_EPH_7"
    }
    assert results == {
        ("passed_checks", "module.mockserver.aws_lb_listener.http_forward"),
        ("passed_checks", "module.mockserver.aws_lb_listener.https"),
        ("passed_checks", "module.mockserver.aws_lb_listener.http_redirect"),
    }


@pytest.mark.integration
def test_without_its_refusing_rule_the_shipped_stack_fails_the_control_plane_check(
    scan_project: Project, tmp_path: Path
) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy)
    main = copy / "modules" / "mockserver-service" / "main.tf"
    text = main.read_text()
    start = text.index('resource "aws_lb_listener_rule" "control_plane_refused"')
    end = text.index('resource "aws_lb_listener_rule" "control_plane_unprefixed"')
    main.write_text(text[:start] + text[end:])
    failed = {
        (str(record.get("resource")), tuple(record.get("details") or ()))
        for report in static.static_reports(scan_project, copy)
        for record in (report.get("results") or {}).get("failed_checks") or []
        if record.get("check_id") == "CKV_EPH_7"
    }
    why = ("forwards PUT /mockserver/expectation from 0.0.0.0/0 (the listener's default action)",)
    assert failed == {
        ("module.mockserver.aws_lb_listener.http_forward", why),
        ("module.mockserver.aws_lb_listener.https", why),
    }
