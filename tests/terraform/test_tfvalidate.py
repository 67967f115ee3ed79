"""tf-validate: terraform/ matches the committed AWS provider schema, and each broken
fixture in tests/fixtures/tfvalidate/ fails with exactly its own `file:line` message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ephemera.terraform import providerschema, tfvalidate
from ephemera.terraform.hclmodel import Literal

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "tfvalidate"
F = "tests/fixtures/tfvalidate"
SCHEMA = providerschema.load(REPO_ROOT / providerschema.SCHEMA_FILE)

BROKEN = {
    "unknown_argument": [
        f"{F}/unknown_argument/main.tf:3: aws_ecs_cluster.this: unknown argument 'capacity_mode'"
    ],
    "unknown_block": [
        f"{F}/unknown_block/main.tf:4: aws_ecs_cluster.this: unknown block 'settings' "
        "(did you mean 'setting'?)"
    ],
    "missing_argument": [
        f"{F}/missing_argument/main.tf:1: aws_ecs_service.this: missing required argument 'name'"
    ],
    "missing_block": [
        f"{F}/missing_block/main.tf:1: aws_lb_listener_rule.this: missing required block "
        "'condition'"
    ],
    "block_as_argument": [
        f"{F}/block_as_argument/main.tf:4: aws_ecs_service.this: 'network_configuration' is a "
        "block, not an argument: write network_configuration { … }"
    ],
    "argument_as_block": [
        f"{F}/argument_as_block/main.tf:4: aws_ecs_cluster.this: 'tags' is an argument, not a "
        "block: write tags = …"
    ],
    "wrong_type": [
        f"{F}/wrong_type/main.tf:3: aws_ecs_service.this: desired_count: expected number, "
        'got the string "two"'
    ],
    "computed_argument": [
        f"{F}/computed_argument/main.tf:3: aws_ecs_cluster.this: 'arn' is computed by the "
        "provider: it cannot be set"
    ],
    "too_many_blocks": [
        f"{F}/too_many_blocks/main.tf:8: aws_ecs_service.this: at most 1 "
        "'network_configuration' block, found 2"
    ],
    "unknown_resource_type": [
        f"{F}/unknown_resource_type/main.tf:1: aws_ecs_services.this: unknown resource type "
        "'aws_ecs_services' in registry.terraform.io/hashicorp/aws 6.66.0 (did you mean "
        "'aws_ecs_service'?)"
    ],
    "module_unknown_input": [
        f"{F}/module_unknown_input/main.tf:5: module.child: unknown input 'sizes': "
        f"{F}/module_unknown_input/child declares no such variable (did you mean 'size'?)"
    ],
    "module_missing_input": [
        f"{F}/module_missing_input/main.tf:1: module.child: missing required input 'name' of "
        f"{F}/module_unknown_input/child"
    ],
    "unparsable": [
        f"{F}/unparsable/main.tf:5: (parse): Unexpected token Token('$END', '') at line 5, "
        "column 1."
    ],
}


def problems(directory: Path) -> list[str]:
    return [str(p) for p in tfvalidate.validate(directory, SCHEMA, REPO_ROOT).problems]


@pytest.mark.parametrize("fixture", sorted(BROKEN))
def test_each_broken_fixture_fails_with_its_own_message(fixture: str) -> None:
    assert problems(FIXTURES / fixture) == BROKEN[fixture]


def test_every_fixture_directory_is_covered() -> None:
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} == {*BROKEN, "meta_arguments"}


def test_meta_arguments_dynamic_blocks_and_blocks_of_object_lists_are_understood() -> None:
    assert problems(FIXTURES / "meta_arguments") == []


def test_terraform_matches_the_provider_schema() -> None:
    report = tfvalidate.validate(REPO_ROOT / "terraform", SCHEMA, REPO_ROOT)
    assert [str(p) for p in report.problems] == []
    # …and it looked at everything: stacks, modules and the bootstrap.
    assert report.checked["directories"] == 6
    assert report.checked["resources"] >= 80 and report.checked["data sources"] >= 25
    assert report.checked["module calls"] == 3


@pytest.mark.parametrize(
    ("expected", "value", "problem"),
    [
        ("number", Literal("string", "2"), None),
        ("number", Literal("string", "two"), ': expected number, got the string "two"'),
        ("number", Literal("bool", True), ": expected number, got the bool True"),
        ("bool", Literal("string", "true"), None),
        ("bool", Literal("number", 1), ": expected bool, got the number 1"),
        ("string", Literal("number", 443), None),
        ("string", Literal("tuple"), ": expected string, got a list"),
        ("number", Literal("string"), None),  # a template: only Terraform knows its text
        ("number", Literal("null"), None),
        (["list", "number"], Literal("tuple", items=(Literal("number", 1), None)), None),
        (
            ["set", "string"],
            Literal("tuple", items=(Literal("string", "a"), Literal("object"))),
            "[1]: expected string, got an object",
        ),
        (["set", "string"], Literal("string", "sg-1"), ': expected a set, got the string "sg-1"'),
        (
            ["map", "bool"],
            Literal("object", items=(("on", Literal("string", "maybe")),)),
            "['on']: expected bool, got the string \"maybe\"",
        ),
        (
            ["object", {"port": "number"}],
            Literal("object", items=(("port", Literal("string", "http")), ("x", None))),
            '.port: expected number, got the string "http"',
        ),
        ("dynamic", Literal("tuple"), None),
    ],
)
def test_literal_conversions_follow_terraform(
    expected: object, value: Literal, problem: str | None
) -> None:
    assert tfvalidate.type_problem(expected, value) == problem


@pytest.mark.integration
def test_invoke_tf_validate_passes_on_terraform_and_fails_on_a_fixture() -> None:
    invoke = [sys.executable, "-m", "invoke", "tf-validate"]
    ok = subprocess.run(invoke, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: terraform matches registry.terraform.io/hashicorp/aws 6.66.0")
    broken = subprocess.run(
        [*invoke, "--path", f"{F}/wrong_type"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode == 2
    assert broken.stderr.strip().splitlines() == BROKEN["wrong_type"]
    outside = subprocess.run(
        [*invoke, "--path", "../"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert outside.returncode == 2
    assert "not a directory of this project" in outside.stderr
