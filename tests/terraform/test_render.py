"""Rendering: golden files for tfvars and both backends, file modes, the snapshot
and its digest."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from ephemera.environment import Environment
from ephemera.project import Project
from ephemera.terraform.render import BACKEND_FILE, inputs_digest, render
from tests.conftest import REPO_ROOT

GOLDEN = REPO_ROOT / "tests" / "golden"
DECLARED = {"environment", "owner", "tags", "project_root", "runtime_dir", "port", "note", "nested"}


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "project"
    for part in ("terraform", "templates"):
        shutil.copytree(REPO_ROOT / part, root / part)
    (root / "environments").mkdir()
    return Project(root=root, home=root / ".ephemera")


def environment(project: Project, target: str = "local", **variables) -> Environment:
    return Environment(
        name="golden-env",
        stack="local-mock-api",
        target=target,
        owner="alice@example.com",
        ttl=timedelta(hours=8),
        ttl_text="8h",
        max_ttl=timedelta(days=7),
        source=project.root / "environments" / "golden-env.yaml",
        region="eu-west-1" if target == "aws" else None,
        variables=variables,
        tags={"team": "payments"},
        aws={"state_bucket": "org-state"} if target == "aws" else {},
    )


def check_golden(name: str, text: str, project: Project) -> None:
    text = text.replace(str(project.root), "<root>")
    golden = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()


def test_tfvars_and_local_backend(project: Project):
    env = environment(
        project,
        port=8765,
        note='${file("/etc/passwd")} $(touch /tmp/x)',
        nested={"list": [1, "two", None], "flag": True},
        unused_by_stack="kept: the stack contract is checked before rendering",
    )
    rendered = render(env, project, DECLARED)
    check_golden("local.tfvars", rendered.tfvars.read_text(), project)
    check_golden("local.backend.hcl", rendered.backend_config.read_text(), project)
    for path in (rendered.tfvars, rendered.backend_config, rendered.root_dir / "main.tf"):
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_s3_backend(project: Project):
    rendered = render(environment(project, target="aws"), project, DECLARED)
    check_golden("s3.backend.hcl", rendered.backend_config.read_text(), project)
    assert 'backend "s3"' in (rendered.root_dir / BACKEND_FILE).read_text()


def test_snapshot_holds_the_stack_and_the_target_backend(project: Project):
    rendered = render(environment(project), project, DECLARED)
    names = sorted(p.name for p in rendered.root_dir.iterdir())
    assert names == sorted([BACKEND_FILE, "main.tf", "outputs.tf", "variables.tf", "versions.tf"])
    assert 'backend "local"' in (rendered.root_dir / BACKEND_FILE).read_text()


def test_digest_is_stable_and_follows_every_input(project: Project):
    env = environment(project, port=1)
    first = render(env, project, DECLARED).digest
    assert render(env, project, DECLARED).digest == first
    assert render(environment(project, port=2), project, DECLARED).digest != first
    main_tf = project.stack_dir("local-mock-api") / "main.tf"
    main_tf.write_text(main_tf.read_text() + "\n# a change to the stack\n")
    changed = render(env, project, DECLARED)
    assert changed.digest != first
    assert inputs_digest(changed.work_dir) == changed.digest


def test_files_removed_from_the_stack_leave_the_snapshot(project: Project):
    extra = project.stack_dir("local-mock-api") / "extra.tf"
    extra.write_text("locals {}\n")
    rendered = render(environment(project), project, DECLARED)
    assert (rendered.root_dir / "extra.tf").exists()
    extra.unlink()
    render(environment(project), project, DECLARED)
    assert not (rendered.root_dir / "extra.tf").exists()
