"""The commands that build and check the project rather than an environment: schemas,
the provider schema, tf-validate, the Lambda zip, the AWS bootstrap, the static policy
scan, and CI's plan and apply."""

from __future__ import annotations

import json

from ephemera.cli.output import ask
from ephemera.config import schemafiles
from ephemera.errors import EphemeraError, UsageError
from ephemera.project import Project


def write_schemas() -> None:
    project = Project.discover()
    for path in schemafiles.write_stack_schemas(project):
        print(f"wrote {project.relative(path)}")


def provider_schema() -> None:
    from ephemera.terraform import providerschema

    project = Project.discover()
    path = providerschema.regenerate(project.root)
    schema = providerschema.load(path)
    print(
        f"wrote {project.relative(path)}: {schema.label} from {schema.provenance['package']} "
        f"{schema.provenance['version']} (sha256 {schema.provenance['tarball_sha256']})"
    )


def tf_validate(path: str = "") -> None:
    """Every .tf file under terraform/ (or `path`) against the provider schema."""
    from ephemera.errors import ValidationError
    from ephemera.terraform import providerschema, tfvalidate

    project = Project.discover()
    target = (project.root / (path or "terraform")).resolve()
    if not target.is_relative_to(project.root) or not target.is_dir():
        raise UsageError(f"tf-validate: --path {path}: not a directory of this project")
    schema = providerschema.load(project.root / providerschema.SCHEMA_FILE)
    report = tfvalidate.validate(target, schema, project.root)
    if report.problems:
        raise ValidationError(report.problems)
    counts = ", ".join(f"{what}: {n}" for what, n in report.checked.items())
    print(f"ok: {project.relative(target)} matches {schema.label} ({counts})")


def lambda_package() -> None:
    from ephemera.janitor.package import build_package

    project = Project.discover()
    print(f"wrote {project.relative(build_package(project.root))}")


def bootstrap(region: str, repo: str, state_bucket: str = "", yes: bool = False) -> None:
    """Create or update the AWS control plane (terraform/bootstrap), then print what
    environments/_defaults.yaml and the GitHub repository need."""
    import boto3

    from ephemera.lifecycle import bootstrap as control_plane
    from ephemera.terraform.runner import echo_stdout

    request = control_plane.Request(region, repo, state_bucket or None)
    control_plane.check_request(request)
    project = Project.discover()

    def confirm(account: str) -> None:
        ask(
            repo,
            yes,
            "apply the bootstrap",
            f"Apply this plan to AWS account {account}? Type {repo}",
        )

    outputs = control_plane.bootstrap(
        project, request, boto3.Session(region_name=region), confirm, echo_stdout
    )
    print("\nThe control plane is up. environments/_defaults.yaml:")
    print("aws:")
    for key, output in _DEFAULTS_FROM_BOOTSTRAP:
        print(f"  {key}: {json.dumps(outputs.get(output))}")
    print("GitHub repository variables:")
    for name, output in (
        ("EPHEMERA_PLAN_ROLE_ARN", "plan_role_arn"),
        ("EPHEMERA_APPLY_ROLE_ARN", "apply_role_arn"),
        ("AWS_REGION", "region"),
    ):
        print(f"  {name} = {outputs.get(output)}")


_DEFAULTS_FROM_BOOTSTRAP = (
    ("state_bucket", "state_bucket"),
    ("lease_table", "lease_table"),
    ("region", "region"),
    ("notify_topic_arn", "notify_topic_arn"),
    ("account_id", "account_id"),
    ("permissions_boundary_arn", "stack_permissions_boundary_arn"),
)


def policy_scan(path: str = "") -> None:
    from ephemera.gate.policy import format_result
    from ephemera.gate.static import scan_static

    project = Project.discover()
    result = scan_static(project, project.root / path if path else None)
    print(format_result(result))
    if not result.ok:
        raise EphemeraError(f"policy-scan: {len(result.failed)} check(s) failed")


def ci_plan(base: str, head: str, jobs: int, output: str) -> int:
    from ephemera import ci

    if jobs < 1:
        raise UsageError(f"ci-plan: --jobs: at least 1 environment at a time, got {jobs}")
    return ci.plan_command(base, head, jobs, output)


def ci_merge(base: str, head: str, saved: str, replan: str, results: str) -> int:
    from ephemera import ci

    return ci.merge_command(base, head, saved, replan, results)


def ci_apply(base: str, head: str, env: str, saved: str, results: str) -> int:
    from ephemera import ci

    return ci.apply_command(base, head, env, saved, results)


def ci_publish(
    pr: str, comment: str, labels: str, section: str, results: str, find_plan: str
) -> int:
    from ephemera.ci.publish import publish_command

    return publish_command(pr, comment, labels, section, results, find_plan)


def ci_command(accept: bool, run: bool) -> int:
    from ephemera.ci.respond import command_entry

    if accept == run:
        raise UsageError("ci-command: one of --accept or --run")
    return command_entry("accept" if accept else "run")
