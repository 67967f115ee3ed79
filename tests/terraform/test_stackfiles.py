"""ephemera.terraform.stackfiles: the module tree of a stack (the one resolution of its local
modules, also used by ephemera.gate.skips) and the directories and files it spans."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ephemera.errors import UsageError
from ephemera.terraform.stackfiles import module_calls, module_tree, stack_directories, stack_files
from tests.conftest import REPO_ROOT

TERRAFORM = REPO_ROOT / "terraform"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """stacks/s calls modules/a twice (as one, two) and the registry; a calls ./b."""
    write(
        tmp_path / "stacks" / "s" / "main.tf",
        'module "one" {\n  source = "../../modules/a"\n}\n\n'
        'module "two" {\n  providers = {\n    aws = aws.other\n  }\n'
        '  source = "../../modules/a/"\n}\n\n'
        'module "registry" {\n  source  = "terraform-aws-modules/s3-bucket/aws"\n}\n',
    )
    write(
        tmp_path / "modules" / "a" / "main.tf",
        'module "b" {\n  source   = "./b"\n  for_each = toset(["x"])\n}\n'
        '# module "c" {\n#   source = "./c"\n# }\n'
        'locals {\n  text = <<EOT\nmodule "d" {\n  source = "./d"\n}\nEOT\n}\n',
    )
    write(tmp_path / "modules" / "a" / "b" / "main.tf", "# nothing\n")
    return tmp_path


def test_module_tree_follows_local_calls_transitively(tree: Path) -> None:
    a, b = (tree / "modules" / "a").resolve(), (tree / "modules" / "a" / "b").resolve()
    assert module_tree(tree / "stacks" / "s") == {
        "": (tree / "stacks" / "s").resolve(),
        "module.one": a,
        "module.one.module.b": b,
        "module.two": a,
        "module.two.module.b": b,
    }
    assert stack_directories(tree / "stacks" / "s") == sorted(
        {(tree / "stacks" / "s").resolve(), a, b}
    )
    assert sorted(stack_files(tree, tree / "stacks" / "s")) == [
        "modules/a/b/main.tf",
        "modules/a/main.tf",
        "stacks/s/main.tf",
    ]


def test_module_calls_skip_comments_heredocs_and_nested_sources(tree: Path) -> None:
    assert module_calls(tree / "modules" / "a") == [("b", "./b")]
    assert module_calls(tree / "stacks" / "s") == [
        ("one", "../../modules/a"),
        ("two", "../../modules/a/"),
        ("registry", "terraform-aws-modules/s3-bucket/aws"),
    ]


def test_a_missing_module_is_listed_and_refused_by_stack_directories(tree: Path) -> None:
    call = 'module "gone" {\n  source = "../../modules/gone"\n}\n'
    write(tree / "stacks" / "t" / "main.tf", call)
    gone = (tree / "modules" / "gone").resolve()
    assert module_tree(tree / "stacks" / "t")["module.gone"] == gone
    with pytest.raises(UsageError, match=f"{gone}: module directory does not exist"):
        stack_directories(tree / "stacks" / "t")
    with pytest.raises(UsageError, match="module directory does not exist"):
        stack_directories(tree / "stacks" / "missing")


def test_a_cycle_is_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "m" / "main.tf", 'module "self" {\n  source = "./"\n}\n')
    assert module_tree(tmp_path / "m") == {"": (tmp_path / "m").resolve()}


def test_the_tree_is_read_again_when_a_file_changes(tree: Path) -> None:
    stack = tree / "stacks" / "s"
    assert "module.one" in module_tree(stack)
    main = stack / "main.tf"
    main.write_text('module "three" {\n  source = "../../modules/a/b"\n}\n')
    os.utime(main, ns=(1, 1))  # a different stamp even within one timestamp tick
    assert sorted(module_tree(stack)) == ["", "module.three"]
    write(stack / "more.tf", 'module "four" {\n  source = "../../modules/a/b"\n}\n')
    os.utime(stack, ns=(2, 2))
    assert sorted(module_tree(stack)) == ["", "module.four", "module.three"]


def test_the_mock_api_stack() -> None:
    tree = module_tree(TERRAFORM / "stacks" / "mock-api")
    assert tree == {
        "": (TERRAFORM / "stacks" / "mock-api").resolve(),
        "module.mockserver": (TERRAFORM / "modules" / "mockserver-service").resolve(),
        "module.network": (TERRAFORM / "modules" / "network").resolve(),
    }
