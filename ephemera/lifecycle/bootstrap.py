"""bootstrap: create (or update) the AWS control plane once, `terraform/bootstrap`, with
the embedded Terraform: no terraform binary needed.

The AWS credentials are checked first (STS GetCallerIdentity through boto3): without
usable ones it stops with a UsageError (exit 2) before anything is built or run. Then
the janitor's Lambda zip is built, and Terraform runs in a snapshot of terraform/bootstrap
and the modules it calls under `.ephemera/bootstrap/tf/`, with a generated backend:

- by default `local`, the state in `.ephemera/bootstrap/terraform.tfstate` (0600; back it
  up: it is the only record of the control plane);
- with `state_bucket` (the bucket the first run created), `s3`, key
  `bootstrap/terraform.tfstate` with S3's native lock file; a local state there is
  migrated into it (`init -migrate-state`) and kept as a `.migrated` copy.

The plan is shown and confirmed before it is applied; the outputs are returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephemera.errors import EphemeraError, UsageError
from ephemera.files import write_private
from ephemera.janitor.package import build_package
from ephemera.project import Project
from ephemera.terraform import hcl
from ephemera.terraform.render import mirror_root
from ephemera.terraform.runner import Echo, Terraform

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
STATE_KEY = "bootstrap/terraform.tfstate"
PLAN = "bootstrap.tfplan"


@dataclass(frozen=True)
class Request:
    region: str
    repository: str  # owner/name on GitHub
    state_bucket: str | None = None


def check_request(request: Request) -> None:
    if not REGION.match(request.region):
        raise UsageError(
            f"bootstrap: REGION={request.region!r}: expected an AWS region such as eu-west-1"
        )
    if not REPOSITORY.match(request.repository):
        raise UsageError(
            f"bootstrap: REPO={request.repository!r}: expected the GitHub repository as "
            "owner/name (e.g. acme/ephemera)"
        )
    if request.state_bucket is not None and not BUCKET.match(request.state_bucket):
        raise UsageError(f"bootstrap: STATE_BUCKET={request.state_bucket!r}: not an S3 bucket name")


def caller_identity(session: Any) -> dict[str, str]:
    """Who the credentials of `session` (a boto3 Session) are: {Account, Arn, UserId}.
    UsageError (exit 2) when there are none or AWS refuses them."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
    from botocore.exceptions import PartialCredentialsError as Partial

    try:
        answer = session.client("sts").get_caller_identity()
    except (NoCredentialsError, Partial) as exc:
        raise UsageError(_no_credentials(str(exc))) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(_no_credentials(f"{error.get('Code')}: {error.get('Message')}")) from None
    except BotoCoreError as exc:
        message = f"bootstrap: cannot ask AWS STS who these credentials are: {exc}"
        raise EphemeraError(message) from None
    return {key: str(answer.get(key, "")) for key in ("Account", "Arn", "UserId")}


def _no_credentials(reason: str) -> str:
    return (
        f"bootstrap: no usable AWS credentials ({reason}). Configure credentials for the "
        "account to bootstrap (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY) and run it again; nothing was done"
    )


def bootstrap(
    project: Project, request: Request, session: Any, confirm: Callable[[str], None], echo: Echo
) -> dict[str, Any]:
    """Check the credentials, build the janitor zip, init, plan, `confirm(account)`, apply;
    returns the outputs."""
    check_request(request)
    identity = caller_identity(session)
    echo(f"==> bootstrap: AWS account {identity['Account']} as {identity['Arn']}\n")
    package = build_package(project.root)
    echo(f"==> bootstrap: built {project.relative(package)}\n")
    home = project.ensure_home() / "bootstrap"
    home.mkdir(mode=0o700, exist_ok=True)
    terraform_dir = project.root / "terraform"
    root = mirror_root(
        terraform_dir, terraform_dir / "bootstrap", home / "tf", _backend_block(request, home)
    )
    tfvars = home / "bootstrap.tfvars"
    values = {
        "region": request.region,
        "github_repository": request.repository,
        "janitor_package_path": str(package),
        "account_id": identity["Account"],
    }
    write_private(tfvars, "".join(f"{k} = {hcl.literal(v)}\n" for k, v in values.items()))
    terraform = Terraform(data_dir=home / "tfdata", plugin_cache=project.plugin_cache, echo=echo)
    _init(terraform, request, home, root, echo)
    echo("==> bootstrap: terraform plan\n")
    plan = ["plan", "-input=false", "-no-color", f"-var-file={tfvars}", f"-out={home / PLAN}"]
    terraform.run(plan, cwd=root, where="bootstrap: plan")
    confirm(identity["Account"])
    echo("==> bootstrap: terraform apply\n")
    apply = ["apply", "-input=false", "-no-color", str(home / PLAN)]
    terraform.run(apply, cwd=root, where="bootstrap: apply")
    shown = terraform.run(
        ["output", "-json", "-no-color"], cwd=root, quiet=True, where="bootstrap: output"
    )
    return {key: item.get("value") for key, item in json.loads(shown.stdout or "{}").items()}


def _backend_block(request: Request, home: Path) -> str:
    header = "# Generated by Ephemera (make bootstrap): where the control plane's state lives.\n"
    if request.state_bucket is None:
        path = hcl.quote(str(home / "terraform.tfstate"))
        return f'{header}terraform {{\n  backend "local" {{\n    path = {path}\n  }}\n}}\n'
    return (
        f'{header}terraform {{\n  backend "s3" {{\n'
        f"    bucket       = {hcl.quote(request.state_bucket)}\n"
        f"    key          = {hcl.quote(STATE_KEY)}\n"
        f"    region       = {hcl.quote(request.region)}\n"
        "    use_lockfile = true\n    encrypt      = true\n  }\n}\n"
    )


def _init(terraform: Terraform, request: Request, home: Path, root: Path, echo: Echo) -> None:
    """`terraform init`, moving a local state into the bucket when one is there."""
    local_state = home / "terraform.tfstate"
    migrate = request.state_bucket is not None and local_state.is_file()
    args = ["init", "-input=false", "-no-color"]
    if migrate:
        args += ["-migrate-state", "-force-copy"]
        echo(f"==> bootstrap: moving the state into s3://{request.state_bucket}/{STATE_KEY}\n")
    echo("==> bootstrap: terraform init\n")
    terraform.run(args, cwd=root, where="bootstrap: init")
    if migrate:
        local_state.replace(local_state.with_name("terraform.tfstate.migrated"))
