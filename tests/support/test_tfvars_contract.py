"""Every example environment's rendered tfvars fit its stack; a wrong type, an
undeclared name and a missing required variable are each found."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ephemera import config
from ephemera.config import stackvars
from ephemera.project import Project
from ephemera.terraform.render import render
from tests.conftest import REPO_ROOT
from tests.support.tfvars_contract import read_tfvars, tfvars_findings

EXAMPLES = Project(root=REPO_ROOT, home=REPO_ROOT / ".ephemera").known_environments()


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    for part in ("terraform", "templates", "schemas", "expectations", "environments"):
        shutil.copytree(REPO_ROOT / part, root / part)
    defaults = root / "environments" / "_defaults.yaml"
    defaults.write_text(
        defaults.read_text() + "aws:\n  state_bucket: example-state\n  lease_table: leases\n"
    )
    return Project(root=root, home=root / ".ephemera")


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_environment_renders_tfvars_that_fit_its_stack(project: Project, name):
    env = config.load_environment(project, name)
    stack_dir = project.stack_dir(env.stack)
    rendered = render(env, project, set(stackvars.read_stack_variables(stack_dir)))
    assert tfvars_findings(rendered.tfvars, stack_dir) == []


def test_values_come_back_exactly_as_rendered(tmp_path: Path):
    tfvars = tmp_path / "t.tfvars"
    tfvars.write_text('a = "$${x} %%{y} \\"q\\"\\n"\nb = {\n  "k" = [1, true, null]\n}\n')
    assert read_tfvars(tfvars) == {"a": '${x} %{y} "q"\n', "b": {"k": [1, True, None]}}


def test_wrong_type_undeclared_and_missing_are_found(tmp_path: Path):
    stack = REPO_ROOT / "terraform" / "stacks" / "local-mock-api"
    tfvars = tmp_path / "broken.tfvars"
    tfvars.write_text(
        'environment = "x"\nowner = "o"\ntags = {}\nproject_root = "/p"\nruntime_dir = "/r"\n'
        'port = "eighty"\ncolour = "blue"\n'
    )
    assert tfvars_findings(tfvars, stack) == [
        f"{tfvars}: colour: not declared in the stack",
        f"{tfvars}: expectations_file: required by the stack but not set",
        f"{tfvars}: port: expected number, got string 'eighty'",
    ]
