"""Render an environment into its work directory.

`.ephemera/work/<env>/` receives `terraform.tfvars` and `backend.hcl` (Jinja,
StrictUndefined, mode 0600) and a snapshot of the stack and the modules it calls
under `tf/`, plus a generated backend block chosen by the target. The digest of
everything rendered identifies the inputs a plan was made from.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from ephemera.environment import PROVIDED_VARIABLES, Environment
from ephemera.project import Project
from ephemera.terraform import hcl
from ephemera.terraform.stackfiles import stack_files

BACKEND_TYPES = {"local": "local", "aws": "s3"}
BACKEND_FILE = "ephemera_backend.tf"
KEEP_IN_SNAPSHOT = {BACKEND_FILE, ".terraform.lock.hcl"}


@dataclass(frozen=True)
class Rendered:
    env: str
    work_dir: Path
    root_dir: Path  # the stack's snapshot: where terraform runs (-chdir)
    tfvars: Path
    backend_config: Path
    digest: str


@lru_cache(maxsize=8)
def _jinja(templates_dir: Path) -> jinja2.Environment:
    environment = jinja2.Environment(  # noqa: S701 - renders HCL, not HTML; values go through |hcl
        loader=jinja2.FileSystemLoader(templates_dir),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["hcl"] = hcl.literal
    return environment


def provided_values(env: Environment, project: Project) -> dict[str, Any]:
    """The values Ephemera supplies for the PROVIDED_VARIABLES a stack may declare."""
    values = {
        "environment": env.name,
        "owner": env.owner,
        "tags": env.all_tags,
        "project_root": str(project.root),
        "runtime_dir": str(project.runtime_dir(env.name)),
        "region": env.region,
        "permissions_boundary_arn": env.aws.get("permissions_boundary_arn"),
    }
    assert set(values) == set(PROVIDED_VARIABLES)
    return values


def stack_inputs(env: Environment, project: Project, declared: set[str]) -> dict[str, Any]:
    """The tfvars of `env`: its variables plus the provided ones the stack declares (an
    unset one, e.g. no permissions boundary, is left to the stack's default)."""
    provided = {
        k: v for k, v in provided_values(env, project).items() if k in declared and v is not None
    }
    return {**provided, **env.variables}


def _context(env: Environment, project: Project, declared: set[str]) -> dict[str, Any]:
    return {
        "env": env,
        "source": project.relative(env.source),
        "variables": stack_inputs(env, project, declared),
        "state_path": str(project.state_dir(env.name) / "terraform.tfstate"),
    }


def tfvars_text(env: Environment, project: Project, declared: set[str]) -> str:
    """The terraform.tfvars a render writes, as text (written nowhere)."""
    template = _jinja(project.templates_dir).get_template("terraform.tfvars.j2")
    return template.render(_context(env, project, declared))


def render(env: Environment, project: Project, declared: set[str]) -> Rendered:
    """Render `env` into its work directory; `declared` = the stack's variable names.
    (Validation has checked that a target aws names its state bucket.)"""
    work_dir = project.work_dir(env.name)
    work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    templates = _jinja(project.templates_dir)
    context = _context(env, project, declared)
    backend_type = BACKEND_TYPES[env.target]
    outputs = {
        "terraform.tfvars": tfvars_text(env, project, declared),
        "backend.hcl": templates.get_template(f"backend/{backend_type}.hcl.j2").render(context),
    }
    for name, text in outputs.items():
        write_private(work_dir / name, text)
    root_dir = snapshot_stack(env, project, backend_type)
    return Rendered(
        env=env.name,
        work_dir=work_dir,
        root_dir=root_dir,
        tfvars=work_dir / "terraform.tfvars",
        backend_config=work_dir / "backend.hcl",
        digest=inputs_digest(work_dir),
    )


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 (created so, never world-readable)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def snapshot_stack(env: Environment, project: Project, backend_type: str) -> Path:
    """Mirror the stack and its modules into `work/<env>/tf/`; returns the stack's copy."""
    terraform_dir = project.root / "terraform"
    target_root = project.work_dir(env.name) / "tf"
    wanted = stack_files(terraform_dir, project.stack_dir(env.stack))
    for relative, source in wanted.items():
        _sync_file(source, target_root / relative)
    root_dir = target_root / "stacks" / env.stack
    for stale in target_root.rglob("*"):
        relative = stale.relative_to(target_root).as_posix()
        if stale.is_file() and relative not in wanted and stale.name not in KEEP_IN_SNAPSHOT:
            stale.unlink()
    backend_block = (
        "# Generated by Ephemera: the backend type follows the environment's target.\n"
        f'terraform {{\n  backend "{backend_type}" {{}}\n}}\n'
    )
    _sync_text(root_dir / BACKEND_FILE, backend_block)
    return root_dir


def _sync_file(source: Path, target: Path) -> None:
    _sync_text(target, source.read_text())


def _sync_text(target: Path, text: str) -> None:
    """Write only when the content differs, so unchanged inputs keep their mtimes."""
    if target.is_file() and target.read_text() == text:
        return
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(target, text)


RENDERED_FILES = ("terraform.tfvars", "backend.hcl")


def inputs_digest(work_dir: Path) -> str:
    """sha256 over the rendered files and the stack snapshot, as they are on disk."""
    digest = hashlib.sha256()
    entries = {name: work_dir / name for name in RENDERED_FILES}
    snapshot_root = work_dir / "tf"
    for path in sorted(snapshot_root.rglob("*")):
        if path.is_file() and path.name != ".terraform.lock.hcl":
            entries["tf/" + path.relative_to(snapshot_root).as_posix()] = path
    for name in sorted(entries):
        content = hashlib.sha256(entries[name].read_bytes()).digest()
        digest.update(name.encode() + b"\0" + content)
    return digest.hexdigest()


def current_digest(rendered: Rendered) -> str:
    return inputs_digest(rendered.work_dir)


def rendered_from_disk(project: Project, env: str, stack: str) -> Rendered | None:
    """What an earlier render left in the work directory (to destroy an orphan)."""
    work_dir = project.work_dir(env)
    root_dir = work_dir / "tf" / "stacks" / stack
    if (
        not stack
        or not root_dir.is_dir()
        or not all((work_dir / f).is_file() for f in RENDERED_FILES)
    ):
        return None
    return Rendered(
        env=env,
        work_dir=work_dir,
        root_dir=root_dir,
        tfvars=work_dir / "terraform.tfvars",
        backend_config=work_dir / "backend.hcl",
        digest=inputs_digest(work_dir),
    )
