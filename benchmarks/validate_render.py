"""Validate + render time for 1,000 generated environment files, per file."""

from __future__ import annotations

import time
from collections.abc import Iterator

from benchmarks.project import scratch_project
from ephemera import config
from ephemera.config import stackvars
from ephemera.project import Project
from ephemera.terraform.render import render

COUNT = 1000


def run() -> Iterator[str]:
    root = scratch_project()
    for index in range(COUNT):
        name = f"bench-{index:04d}"
        (root / "environments" / f"{name}.yaml").write_text(
            f"name: {name}\nstack: local-mock-api\ntarget: local\nowner: b@example.com\nttl: 4h\n"
            f"variables:\n  port: {10000 + index}\n"
            "  expectations_file: expectations/local-demo.json\n"
            f"tags: {{team: bench, index: '{index}'}}\n"
        )
    project = Project.discover(root=root, home=root / ".ephemera")
    declared = set(stackvars.read_stack_variables(project.stack_dir("local-mock-api")))
    started = time.perf_counter()
    environments = config.validate_environments(project)
    validated = time.perf_counter()
    for env in environments:
        render(env, project, declared)
    rendered = time.perf_counter()
    assert len(environments) == COUNT
    per_validate = (validated - started) / COUNT * 1000
    per_render = (rendered - validated) / COUNT * 1000
    yield f"validate: {per_validate:6.2f} ms per file ({COUNT} files, {validated - started:.2f} s)"
    yield f"render:   {per_render:6.2f} ms per file"
    yield f"total:    {per_validate + per_render:6.2f} ms per file"
