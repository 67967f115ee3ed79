"""Validate + render time for 1,000 generated environment files, per file, over
repeated rounds (in-process: the per-file cost, without the CLI's start-up)."""

from __future__ import annotations

from collections.abc import Iterator

from benchmarks.measure import Times, interleaved
from benchmarks.project import scratch_project
from ephemera import config
from ephemera.config import stackvars
from ephemera.project import Project
from ephemera.terraform.render import render

COUNT = 1000
ROUNDS = 3


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
    declared = set(
        stackvars.read_stack_variables(Project.discover(root=root).stack_dir("local-mock-api"))
    )

    def validate() -> None:
        project = Project.discover(root=root, home=root / ".ephemera")  # a command's own
        assert len(config.validate_environments(project)) == COUNT

    project = Project.discover(root=root, home=root / ".ephemera")
    environments = config.validate_environments(project)

    def render_all() -> None:
        for env in environments:
            render(env, project, declared)

    times = interleaved(ROUNDS, {"validate": validate, "render": render_all})
    for label, measured in times.items():
        per_file = Times([value / COUNT * 1000 for value in measured.values])
        yield f"{label + ':':<9} {per_file.text('ms')} per file ({COUNT} files)"
