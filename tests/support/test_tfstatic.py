"""tests.support.tfstatic: every check fails on its broken fixture (tests/fixtures/terraform/),
with exactly the expected findings, and the helpers behave on edge cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from ephemera.errors import EphemeraError
from ephemera.gate import policy, static
from ephemera.project import Project
from tests.conftest import REPO_ROOT
from tests.support import tfstatic
from tests.support.tfstatic import Finding

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "terraform"


def fixture(name: str) -> Path:
    return FIXTURES / name


def files(name: str) -> list[Path]:
    return tfstatic.tf_files(fixture(name))


def checks(findings: list[Finding]) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.check) for f in findings]


@pytest.fixture(scope="module")
def plugin_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tfstatic") / "plugin-cache"


# --- files ---------------------------------------------------------------------------------


def test_terraform_dirs_lists_each_fixture_directory() -> None:
    names = [d.name for d in tfstatic.terraform_dirs(FIXTURES)]
    assert names == [
        "checkov_fail",
        "skip_without_reason",
        "undescribed_output",
        "unformatted",
        "unparsable",
        "untagged",
        "untyped_variable",
    ]


def test_tf_files_skip_hidden_directories(tmp_path: Path) -> None:
    (tmp_path / "stack" / ".terraform" / "modules" / "x").mkdir(parents=True)
    (tmp_path / "stack" / ".terraform" / "modules" / "x" / "main.tf").write_text("")
    (tmp_path / "stack" / "main.tf").write_text("")
    (tmp_path / "stack" / "notes.md").write_text("")
    assert tfstatic.tf_files(tmp_path) == [tmp_path / "stack" / "main.tf"]
    assert tfstatic.terraform_dirs(tmp_path) == [tmp_path / "stack"]


# --- (b) parse -------------------------------------------------------------------------------


def test_parse_fails_on_the_unparsable_fixture_only() -> None:
    found = tfstatic.parse_findings(tfstatic.tf_files(FIXTURES), FIXTURES)
    assert checks(found) == [("unparsable/main.tf", 3, "parse")]
    assert "Unexpected token" in found[0].message


def test_parse_file_unquotes_labels_and_strings() -> None:
    document = tfstatic.parse_file(fixture("untyped_variable") / "variables.tf")
    first = document["variable"][0]
    assert first == {
        "documented": {"type": "string", "description": "A variable with a type and a description."}
    }


# --- (c) variables, (d) outputs ---------------------------------------------------------------


def test_untyped_and_undescribed_variables_are_found() -> None:
    found = tfstatic.documentation_findings(files("untyped_variable"), FIXTURES)
    assert found == [
        Finding(
            "untyped_variable/variables.tf", 6, "variable-type", "variable 'untyped' has no type"
        ),
        Finding(
            "untyped_variable/variables.tf",
            10,
            "variable-description",
            "variable 'blank_description' has no description",
        ),
    ]


def test_undescribed_output_is_found() -> None:
    found = tfstatic.documentation_findings(files("undescribed_output"), FIXTURES)
    assert found == [
        Finding(
            "undescribed_output/outputs.tf",
            6,
            "output-description",
            "output 'undescribed' has no description",
        )
    ]


def test_documentation_ignores_files_that_do_not_parse() -> None:
    assert tfstatic.documentation_findings(files("unparsable"), FIXTURES) == []


def test_documented_blocks_pass(tmp_path: Path) -> None:
    (tmp_path / "variables.tf").write_text(
        'variable "a" {\n  type        = map(string)\n  description = "A."\n  default = {}\n}\n'
    )
    (tmp_path / "outputs.tf").write_text(
        'output "b" {\n  description = "B."\n  value       = try(x.y, null)\n}\n'
    )
    assert tfstatic.documentation_findings(tfstatic.tf_files(tmp_path)) == []


# --- (a) fmt ----------------------------------------------------------------------------------


def test_unformatted_file_is_found_with_its_diff(plugin_cache: Path) -> None:
    found = tfstatic.fmt_findings(fixture("unformatted"), plugin_cache, FIXTURES)
    assert checks(found) == [("unformatted/main.tf", 3, "fmt")]
    assert "-    port=8080\n+  port = 8080" in found[0].message


def test_fmt_of_a_formatted_directory_finds_nothing(plugin_cache: Path) -> None:
    assert tfstatic.fmt_findings(fixture("untyped_variable"), plugin_cache, FIXTURES) == []


# --- skip comments ------------------------------------------------------------------------------


def test_skips_without_a_reason_are_found() -> None:
    found = tfstatic.skip_reason_findings(files("skip_without_reason"), FIXTURES)
    assert checks(found) == [
        ("skip_without_reason/main.tf", 4, "skip-reason"),
        ("skip_without_reason/main.tf", 5, "skip-reason"),
    ]
    assert "checkov:skip=CKV_AWS_27 has no reason" in found[0].message
    assert "checkov:skip=CKV2_AWS_73 has no reason" in found[1].message


def test_skip_comments_carry_their_reason() -> None:
    comments = tfstatic.skip_comments(files("skip_without_reason"))
    assert [(c.line, c.check_id, c.reason) for c in comments] == [
        (4, "CKV_AWS_27", ""),
        (5, "CKV2_AWS_73", ""),
        (6, "CKV_AWS_27", "fixture: this one has a reason"),
    ]


def test_skip_comment_forms(tmp_path: Path) -> None:
    tf = tmp_path / "main.tf"
    tf.write_text(
        "  #checkov:skip=CKV_A_1:ok: with a colon\n"
        "  // checkov:skip=CKV_A_2:   \n"
        '  name = "checkov:skip=CKV_A_3" # not a comment before the hash\n'
    )
    comments = tfstatic.skip_comments([tf])
    assert [(c.check_id, c.reason) for c in comments] == [
        ("CKV_A_1", "ok: with a colon"),
        ("CKV_A_2", ""),
    ]


def test_skip_comments_in_block_comments_but_not_in_heredocs(tmp_path: Path) -> None:
    """The same reading as the plan gate's (ephemera.codeskips.inline_skips)."""
    tf = tmp_path / "main.tf"
    tf.write_text(
        "/* a block comment\n"
        "   checkov:skip=CKV_B_1:on its second line */\n"
        "locals {\n"
        "  text = <<EOT\n"
        "# checkov:skip=CKV_B_2:text, not a comment\n"
        "EOT\n"
        "}\n"
        "/* checkov:skip=CKV_B_3 */\n"
    )
    comments = tfstatic.skip_comments([tf])
    assert [(c.line, c.check_id, c.reason) for c in comments] == [
        (2, "CKV_B_1", "on its second line"),
        (8, "CKV_B_3", ""),
    ]


def test_disable_skips_keeps_every_line_in_place(tmp_path: Path) -> None:
    copy = tfstatic.disable_skips(FIXTURES, tmp_path / "copy")
    original = fixture("skip_without_reason") / "main.tf"
    disabled = copy / "skip_without_reason" / "main.tf"
    assert tfstatic.skip_comments([disabled]) == []
    assert len(disabled.read_text().splitlines()) == len(original.read_text().splitlines())
    assert "checkov-skip-disabled=CKV_AWS_27" in disabled.read_text().splitlines()[3]
    assert sorted(p.relative_to(copy) for p in tfstatic.tf_files(copy)) == sorted(
        p.relative_to(FIXTURES) for p in tfstatic.tf_files(FIXTURES)
    )


def test_a_skip_that_suppresses_no_failure_is_unused() -> None:
    # As a scan of the fixture with its skips disabled reports it: the queue (lines 3-8)
    # fails CKV_AWS_27 only, so the CKV2_AWS_73 skip on line 5 suppresses nothing.
    without_skips = [
        {
            "results": {
                "failed_checks": [
                    {
                        "check_id": "CKV_AWS_27",
                        "file_path": "/skip_without_reason/main.tf",
                        "file_line_range": [3, 8],
                        "resource": "aws_sqs_queue.skips",
                    },
                    {
                        "check_id": "CKV2_AWS_73",
                        "file_path": "/elsewhere/main.tf",
                        "file_line_range": [1, 9],
                        "resource": "aws_sqs_queue.other",
                    },
                ]
            }
        }
    ]
    comments = tfstatic.skip_comments(files("skip_without_reason"))
    found = tfstatic.unused_skip_findings(comments, without_skips, FIXTURES, FIXTURES)
    assert found == [
        Finding(
            "skip_without_reason/main.tf",
            5,
            "unused-skip",
            "checkov:skip=CKV2_AWS_73 suppresses no failure (remove it)",
        )
    ]


# --- everything but checkov, on the whole fixture tree --------------------------------------


def test_static_findings_on_the_fixture_tree_are_exactly_the_planted_ones(
    plugin_cache: Path,
) -> None:
    found = tfstatic.static_findings(FIXTURES, plugin_cache, FIXTURES)
    assert checks(found) == [
        ("skip_without_reason/main.tf", 4, "skip-reason"),
        ("skip_without_reason/main.tf", 5, "skip-reason"),
        ("undescribed_output/outputs.tf", 6, "output-description"),
        ("unformatted/main.tf", 3, "fmt"),
        ("unparsable/main.tf", 3, "fmt"),
        ("unparsable/main.tf", 3, "parse"),
        ("untagged/main.tf", 15, "untagged"),
        ("untyped_variable/variables.tf", 6, "variable-type"),
        ("untyped_variable/variables.tf", 10, "variable-description"),
    ]
    # terraform fmt stops at the syntax error: files are then checked one by one, so the
    # unformatted one is still reported.
    assert [f.message for f in found if f.path == "unparsable/main.tf"] == [
        "Invalid expression",
        found[5].message,
    ]


def test_finding_str_is_file_line_check_message() -> None:
    assert str(Finding("a/main.tf", 3, "fmt", "x")) == "a/main.tf:3: fmt: x"
    assert str(Finding("a/main.tf", 0, "CKV_AWS_1", "x")) == "a/main.tf: CKV_AWS_1: x"


# --- (e) checkov ----------------------------------------------------------------------------------


def test_checkov_findings_from_a_report(tmp_path: Path) -> None:
    report = {
        "results": {
            "failed_checks": [
                {
                    "check_id": "CKV_AWS_145",
                    "check_name": "Ensure S3 buckets are encrypted with KMS",
                    "file_path": "/stack/main.tf",
                    "file_line_range": [5, 11],
                    "resource": "aws_s3_bucket.b",
                }
            ]
        },
        "summary": {"parsing_errors": 1},
    }
    assert tfstatic.checkov_findings([report], tmp_path, tmp_path) == [
        Finding(".", 0, "checkov-parse", tfstatic.checkov_findings([report], tmp_path)[0].message),
        Finding(
            "stack/main.tf",
            5,
            "CKV_AWS_145",
            "aws_s3_bucket.b: Ensure S3 buckets are encrypted with KMS",
        ),
    ]


@pytest.fixture(scope="module")
def fixture_scan(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """One checkov scan of the whole fixture tree (the policy-scan one, custom checks
    included), shared by the tests below."""
    project = Project(root=REPO_ROOT, home=tmp_path_factory.mktemp("tfstatic-home"))
    try:
        policy.checkov_path(project)
    except EphemeraError as exc:
        pytest.skip(f"{exc} (make setup)")
    return static.static_reports(project, FIXTURES)


@pytest.mark.integration
def test_checkov_fails_the_unprotected_bucket_and_reports_the_unparsable_file(
    fixture_scan: list[dict],
) -> None:
    found = tfstatic.checkov_findings(fixture_scan, FIXTURES, FIXTURES)
    assert checks(found) == [
        ("checkov_fail/main.tf", 5, "CKV2_AWS_6"),
        ("checkov_fail/main.tf", 5, "CKV_AWS_145"),
        ("checkov_fail/main.tf", 5, "CKV_EPH_3"),  # a custom check: policies/ is in the scan
        ("unparsable/main.tf", 0, "checkov-parse"),
    ]
    assert {f.message.split(":")[0] for f in found[:3]} == {"aws_s3_bucket.unprotected"}
    assert found[3].message == "checkov cannot parse it"


@pytest.mark.integration
def test_checkov_honours_skips_even_without_a_reason(fixture_scan: list[dict]) -> None:
    # Why the skip-reason check exists: checkov accepts a bare checkov:skip=<ID>.
    found = tfstatic.checkov_findings(fixture_scan, FIXTURES, FIXTURES)
    assert not [f for f in found if f.path.startswith("skip_without_reason/")]


def test_a_taggable_resource_without_tags_is_found() -> None:
    found = tfstatic.tag_findings(tfstatic.tf_files(FIXTURES / "untagged"), FIXTURES)
    assert [str(f) for f in found] == [
        "untagged/main.tf:15: untagged: aws_cloudwatch_log_group.forgotten has no tags "
        "(pass var.tags, or set default_tags on the provider)"
    ]


def test_provider_default_tags_tag_every_resource(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'provider "aws" {\n  default_tags {\n    tags = var.tags\n  }\n}\n\n'
        'resource "aws_cloudwatch_log_group" "root" {\n  name = "x"\n}\n'
    )
    assert tfstatic.tag_findings([tmp_path / "main.tf"]) == []
