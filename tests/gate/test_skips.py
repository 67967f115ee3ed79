"""ephemera.gate.skips: the `#checkov:skip` comments of a stack and its modules, matched to
plan addresses; and the deploy gate applying those of an environment's snapshot.

The real checkov on the fixture plan is in tests/policies/test_inline_skips.py.
"""

from __future__ import annotations

import json
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ephemera import gate
from ephemera.environment import Environment, PolicySkip
from ephemera.gate.skips import CodeSkips, find_code_skips, snapshot_skips, split_address
from ephemera.project import Project
from ephemera.terraform import hclscan
from tests.conftest import REPO_ROOT
from tests.support import tfstatic

TERRAFORM = REPO_ROOT / "terraform"
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "policy" / "codeskips" / "tf"


@pytest.fixture(scope="module")
def fixture_skips() -> CodeSkips:
    return find_code_skips(FIXTURE, FIXTURE / "stacks" / "app")


def rows(skips: CodeSkips) -> list[tuple[str, str, str, str]]:
    return [(s.where, s.check_id, s.address, s.reason) for s in skips]


# --- addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "split"),
    [
        ("aws_lb.this", ("", "aws_lb.this")),
        ('aws_lb.this["a.b]"]', ("", "aws_lb.this")),
        ("module.mockserver.aws_lb.this", ("module.mockserver", "aws_lb.this")),
        (
            'module.a["x.y"].module.b[0].aws_s3_bucket.c["k"]',
            ("module.a.module.b", "aws_s3_bucket.c"),
        ),
        ("module.a.data.aws_iam_policy_document.x", None),
        ("data.aws_iam_policy_document.x", None),
        ("module.a", None),
        ("?", None),
    ],
)
def test_split_address(address: str, split: tuple[str, str] | None) -> None:
    assert split_address(address) == split


# --- reading the comments ------------------------------------------------------------------


def test_the_fixture_stack_and_its_modules(fixture_skips: CodeSkips) -> None:
    assert fixture_skips.modules == {"", "module.web", "module.twin", "module.web.module.inner"}
    assert rows(fixture_skips) == [
        (
            "stacks/app/main.tf:18",
            "CKV_AWS_144",
            "aws_s3_bucket.root",
            "stack: the bucket's one object is re-uploaded from git on every apply",
        ),
        (
            "modules/twin/main.tf:2",
            "CKV_AWS_21",
            "module.twin.aws_s3_bucket.this",
            "twin: versioning is off for this bucket only",
        ),
        # not the comments in the locals block or in the heredoc before it
        (
            "modules/web/main.tf:24",
            "CKV_AWS_18",
            "module.web.aws_s3_bucket.this",
            "web: access logs are not kept for an hours-long test bucket",
        ),
        (
            "modules/web/inner/main.tf:2",
            "CKV_AWS_144",
            "module.web.module.inner.aws_s3_bucket.deep",
            "inner: the bucket is re-created on every apply",
        ),
    ]
    # `// checkov:skip=CKV_AWS_145` in modules/twin has no reason: not a skip here
    assert not [s for s in fixture_skips if s.check_id == "CKV_AWS_145"]


def test_match_follows_the_module_path(fixture_skips: CodeSkips) -> None:
    match = fixture_skips.match
    found = match("CKV_AWS_18", "module.web.aws_s3_bucket.this")
    assert found is not None and found.where == "modules/web/main.tf:24"
    assert match("CKV_AWS_144", 'module.web.module.inner["a"].aws_s3_bucket.deep') is not None
    assert match("CKV_AWS_144", "aws_s3_bucket.root") is not None
    # the same check on a resource without the comment
    assert match("CKV_AWS_18", "module.web.aws_s3_bucket.plain") is None
    # the same TYPE.NAME in another module, the same check on the module's other resource
    assert match("CKV_AWS_21", "module.web.aws_s3_bucket.this") is None
    assert match("CKV_AWS_18", "module.twin.aws_s3_bucket.this") is None
    # a resource of the same TYPE.NAME at the stack's level or in a nested module
    assert match("CKV_AWS_18", "aws_s3_bucket.this") is None
    assert match("CKV_AWS_144", "module.web.aws_s3_bucket.deep") is None
    assert match("CKV_AWS_18", "data.aws_s3_bucket.this") is None


def test_a_module_of_unknown_source_is_never_skipped(
    fixture_skips: CodeSkips,
) -> None:
    # module.registry comes from the registry: its code is not read, so no skip
    # comment covers it, not even a stack block with the same TYPE.NAME
    assert "module.registry" not in fixture_skips.modules
    assert fixture_skips.match("CKV_AWS_144", "aws_s3_bucket.root") is not None
    assert fixture_skips.match("CKV_AWS_144", "module.registry.aws_s3_bucket.root") is None
    assert fixture_skips.match("CKV_AWS_18", "module.registry.aws_s3_bucket.this") is None
    assert fixture_skips.match("CKV_AWS_21", "module.registry.aws_s3_bucket.this") is None
    assert fixture_skips.match("CKV_AWS_144", "module.registry.aws_s3_bucket.deep") is None
    # a known module's unknown child: the same
    assert fixture_skips.match("CKV_AWS_18", "module.web.module.gone.aws_s3_bucket.this") is None


def test_a_module_called_twice_has_both_paths(tmp_path: Path) -> None:
    (tmp_path / "stacks" / "s").mkdir(parents=True)
    (tmp_path / "modules" / "m").mkdir(parents=True)
    (tmp_path / "stacks" / "s" / "main.tf").write_text(
        'module "one" {\n  source = "../../modules/m"\n}\n\n'
        'module "two" {\n  providers = {\n    aws = aws.other\n  }\n'
        '  source = "../../modules/m/"\n}\n'
    )
    (tmp_path / "modules" / "m" / "main.tf").write_text(
        'resource "aws_sqs_queue" "q" {\n  # checkov:skip=CKV_AWS_27: queue of test data\n}\n'
    )
    skips = find_code_skips(tmp_path, tmp_path / "stacks" / "s")
    assert rows(skips) == [
        ("modules/m/main.tf:2", "CKV_AWS_27", "module.one.aws_sqs_queue.q", "queue of test data"),
        ("modules/m/main.tf:2", "CKV_AWS_27", "module.two.aws_sqs_queue.q", "queue of test data"),
    ]
    assert find_code_skips(tmp_path, tmp_path / "stacks" / "missing") == CodeSkips()


def test_strings_heredocs_and_comment_forms(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'resource "aws_s3_bucket" "a" {\n'  # 1
        '  name = "# checkov:skip=CKV_1:in a string, not a comment"\n'  # 2
        '  x    = "}"\n'  # 3
        '  y    = "${jsonencode({ a = "}" })}" // checkov:skip=CKV_2:after code\n'  # 4
        "  z    = <<EOF\n"  # 5
        "}\n"  # 6
        "# checkov:skip=CKV_3:in a heredoc\n"  # 7
        "EOF\n"  # 8
        "  /* a block comment\n"  # 9
        "     checkov:skip=CKV_4:on its second line */\n"  # 10
        '  dynamic "rule" {\n'  # 11
        "    #checkov:skip=CKV_5:in a nested block of the resource\n"  # 12
        "  }\n"  # 13
        "}\n"  # 14
        "# checkov:skip=CKV_6:after the block\n"  # 15
        'data "aws_iam_policy_document" "d" {\n'  # 16
        "  # checkov:skip=CKV_7:a data block is not in a plan's resources\n"  # 17
        "}\n"
        'resource "aws_sqs_queue" "b" { # checkov:skip=CKV_8:on the header line\n}\n'
    )
    skips = find_code_skips(tmp_path, tmp_path)
    assert [(s.line, s.check_id, s.resource, s.reason) for s in skips] == [
        (4, "CKV_2", "aws_s3_bucket.a", "after code"),
        (10, "CKV_4", "aws_s3_bucket.a", "on its second line"),
        (12, "CKV_5", "aws_s3_bucket.a", "in a nested block of the resource"),
        (19, "CKV_8", "aws_sqs_queue.b", "on the header line"),
    ]


def in_data_block(path: Path, line: int) -> bool:
    """Data sources are read, not planned: their skips serve the static scan only."""
    text = path.read_text()
    return any(
        text.count("\n", 0, block.start) < line <= text.count("\n", 0, block.end) + 1
        for block in hclscan.blocks(text, "data")
    )


def test_every_reasoned_skip_in_the_tree_is_in_a_resource_block() -> None:
    """Each reasoned `checkov:skip` comment under terraform/ (as the static checks read
    them) is one the gate sees, from some stack, module or bootstrap directory — but
    those on data sources, which a plan scan does not check."""
    expected = {
        (c.path.relative_to(TERRAFORM).as_posix(), c.line, c.check_id, c.reason)
        for c in tfstatic.skip_comments(tfstatic.tf_files(TERRAFORM))
        if c.reason and not in_data_block(c.path, c.line)
    }
    assert any(
        in_data_block(c.path, c.line) for c in tfstatic.skip_comments(tfstatic.tf_files(TERRAFORM))
    )
    seen = {
        (s.file, s.line, s.check_id, s.reason)
        for directory in tfstatic.terraform_dirs(TERRAFORM)
        for s in find_code_skips(TERRAFORM, directory)
    }
    assert expected and seen == expected


def test_the_mock_api_stack_skips_reach_its_modules() -> None:
    skips = find_code_skips(TERRAFORM, TERRAFORM / "stacks" / "mock-api")
    assert {"", "module.mockserver", "module.network"} <= skips.modules
    found = skips.match("CKV_AWS_91", "module.mockserver.aws_lb.this")
    assert found is not None and found.file == "modules/mockserver-service/main.tf"
    assert skips.match("CKV_AWS_18", "aws_s3_bucket.expectations") is not None
    assert skips.match("CKV_AWS_91", "module.network.aws_lb.this") is None


# --- the deploy gate ------------------------------------------------------------------------

FAKE_CHECKOV = """#!{python}
import json, sys

args = sys.argv[1:]
if args == ["--version"]:
    print("9.9.9")
    sys.exit(0)
files = args[args.index("--file") + 1 : args.index("--external-checks-dir")]
failed = []
for path in files:
    for check_id, resource in json.load(open(path))["fake_failures"]:
        failed.append({{"check_id": check_id, "check_name": "a check", "file_abs_path": path,
                       "resource": resource, "check_result": {{"result": "FAILED"}}}})
print(json.dumps({{"check_type": "terraform_plan", "summary": {{}},
                  "results": {{"passed_checks": [], "failed_checks": failed}}}}))
sys.exit(1 if failed else 0)
"""


def test_the_gate_applies_the_skips_of_the_environments_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "project"
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "__init__.py").write_text("")
    project = Project(root=root, home=tmp_path / "home")
    script = tmp_path / "checkov"
    script.write_text(FAKE_CHECKOV.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("EPHEMERA_CHECKOV", str(script))
    env = Environment(
        name="qa",
        stack="app",
        target="local",
        owner="alice@example.com",
        ttl=timedelta(hours=8),
        ttl_text="8h",
        max_ttl=timedelta(days=7),
        source=root / "environments" / "qa.yaml",
        policy_skips=(PolicySkip("CKV_AWS_145", "encrypted with the S3 default key"),),
    )
    # the snapshot render writes: work/<env>/tf/{stacks,modules}/…
    shutil.copytree(FIXTURE, project.work_dir("qa") / "tf")
    assert snapshot_skips(project, env).modules == {
        "",
        "module.web",
        "module.twin",
        "module.web.module.inner",
    }
    plan = project.work_dir("qa") / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "fake_failures": [
                    ["CKV_AWS_18", "module.web.aws_s3_bucket.this"],
                    ["CKV_AWS_18", "module.web.aws_s3_bucket.plain"],
                    ["CKV_AWS_21", "module.web.aws_s3_bucket.this"],
                    ["CKV_AWS_145", "module.twin.aws_s3_bucket.this"],
                ]
            }
        )
    )

    checked = gate.evaluate(project, env, plan)

    result = checked.policy
    assert {(f.check_id, f.resource) for f in result.failed} == {
        ("CKV_AWS_18", "module.web.aws_s3_bucket.plain"),
        ("CKV_AWS_21", "module.web.aws_s3_bucket.this"),
    }
    assert {(f.check_id, result.skipped_by(f), r) for f, r in result.skipped} == {
        (
            "CKV_AWS_18",
            "in code",
            "web: access logs are not kept for an hours-long test bucket",
        ),
        ("CKV_AWS_145", "policy.skip", "encrypted with the S3 default key"),
    }
    report = gate.report(env, checked)
    assert "in code      web: access logs" in report
    assert "policy.skip  encrypted with the S3 default key" in report
    assert not checked.ok

    # no snapshot (nothing rendered): no code skips, nothing else changes
    shutil.rmtree(project.work_dir("qa") / "tf")
    again = gate.evaluate(project, env, plan).policy
    assert again.cached
    assert len(again.failed) == 3 and len(again.skipped) == 1
