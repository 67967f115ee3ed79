"""terraform/stacks/<stack>/stack.yaml: the stack's runtime resource and pre-destroy steps,
checked strictly (file:line: key: message)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ephemera.config.stackmanifest import StackManifest, Step, load_manifest
from ephemera.errors import EXIT_INVALID, ValidationError
from tests.conftest import REPO_ROOT


def manifest(tmp_path: Path, text: str) -> Path:
    stack = tmp_path / "terraform" / "stacks" / "s"
    stack.mkdir(parents=True)
    (stack / "stack.yaml").write_text(text)
    return stack


def test_the_shipped_stacks_declare_their_runtime() -> None:
    stacks = REPO_ROOT / "terraform" / "stacks"
    assert load_manifest(stacks / "local-mock-api").runtime == "terraform_data.mock_api"
    assert load_manifest(stacks / "mock-api").runtime == "module.mockserver.aws_ecs_service.this"


def test_no_file_is_an_empty_manifest(tmp_path: Path) -> None:
    assert load_manifest(tmp_path) == StackManifest()


def test_runtime_and_steps_are_read(tmp_path: Path) -> None:
    stack = manifest(
        tmp_path,
        "runtime: module.a.aws_ecs_service.this\n"
        "pre_destroy:\n"
        "  - action: ecs_scale_to_zero\n"
        "    cluster_output: cluster\n"
        "    service_output: service\n"
        "    timeout: 5m\n",
    )
    assert load_manifest(stack) == StackManifest(
        runtime="module.a.aws_ecs_service.this",
        pre_destroy=(
            Step(
                "ecs_scale_to_zero",
                {"cluster_output": "cluster", "service_output": "service", "timeout": "5m"},
            ),
        ),
    )


def test_every_problem_is_named_with_its_line(tmp_path: Path) -> None:
    stack = manifest(
        tmp_path,
        "runtime: not an address\n"
        "extra: 1\n"
        "pre_destroy:\n"
        "  - action: rm_rf\n"
        "  - action: ecs_scale_to_zero\n"
        "    service_output: service\n"
        "    timeout: soon\n"
        "    shell: x\n",
    )
    with pytest.raises(ValidationError) as raised:
        load_manifest(stack)
    assert raised.value.exit_code == EXIT_INVALID
    assert raised.value.message.splitlines() == [
        "terraform/stacks/s/stack.yaml:1: runtime: 'not an address' is not a resource "
        "address like terraform_data.x",
        "terraform/stacks/s/stack.yaml:2: extra: unknown key; allowed: files, listen, "
        "pre_destroy, runtime",
        "terraform/stacks/s/stack.yaml:4: pre_destroy[0].action: unknown action 'rm_rf'; "
        "known: ecs_scale_to_zero",
        "terraform/stacks/s/stack.yaml:5: pre_destroy[1].cluster_output: required key missing",
        "terraform/stacks/s/stack.yaml:7: pre_destroy[1].timeout: 'soon' is not a duration "
        "like 30m, 8h or 2d",
        "terraform/stacks/s/stack.yaml:8: pre_destroy[1].shell: unknown key; allowed: action, "
        "cluster_output, service_output, timeout",
    ]
