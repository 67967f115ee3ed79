"""make bootstrap: the credential check (a real moto server, and none at all), the
Terraform it runs (a stand-in terraform process records it: the AWS provider cannot be
downloaded here), and `make bootstrap` without credentials (exit 2, nothing done)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from ephemera.errors import UsageError
from ephemera.lifecycle import bootstrap as control_plane
from ephemera.project import Project
from tests.conftest import REPO_ROOT, MotoServer
from tests.integration.conftest import make_project

NO_CREDENTIALS = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


def without_credentials(env: dict[str, str]) -> dict[str, str]:
    """`env` with no AWS credentials anywhere boto3 looks (instance metadata included)."""
    kept = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    return {**kept, **NO_CREDENTIALS}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, moto: MotoServer) -> MotoServer:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in {**NO_CREDENTIALS, **moto.env()}.items():
        monkeypatch.setenv(key, value)
    return moto


def test_the_credentials_are_asked_of_sts(aws_env: MotoServer) -> None:
    identity = control_plane.caller_identity(boto3.Session(region_name="eu-west-1"))
    assert identity["Account"] == "123456789012"
    assert identity["Arn"].startswith("arn:aws:sts::123456789012:")


def test_no_credentials_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in NO_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(UsageError) as caught:
        control_plane.caller_identity(boto3.Session(region_name="eu-west-1"))
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(
        "bootstrap: no usable AWS credentials (Unable to locate credentials)"
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (control_plane.Request("Europe", "acme/ephemera"), "REGION='Europe': expected an AWS"),
        (control_plane.Request("eu-west-1", "acme"), "REPO='acme': expected the GitHub"),
        (
            control_plane.Request("eu-west-1", "acme/x", "Bad_Bucket"),
            "STATE_BUCKET='Bad_Bucket': not an S3 bucket name",
        ),
    ],
)
def test_bad_arguments_are_usage_errors(request_: control_plane.Request, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        control_plane.check_request(request_)


FAKE_TERRAFORM = """\
import json, os, sys
with open(os.environ["FAKE_TERRAFORM_LOG"], "a") as log:
    log.write(json.dumps({"args": sys.argv[1:], "cwd": os.getcwd(),
                          "data_dir": os.environ["TF_DATA_DIR"]}) + "\\n")
if sys.argv[1] == "output":
    print(json.dumps({"state_bucket": {"value": "eph-tfstate"}, "region": {"value": "eu-west-1"}}))
"""


@pytest.fixture
def fake_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "terraform"
    script.write_text(f"#!{sys.executable}\n{FAKE_TERRAFORM}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "terraform.log"
    monkeypatch.setenv("EPHEMERA_TERRAFORM", str(script))
    monkeypatch.setenv("FAKE_TERRAFORM_LOG", str(log))
    return log


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def project_with_sources(tmp_path: Path) -> Project:
    """A throw-away project that can also build the janitor zip (lambda/, ephemera/)."""
    root = make_project(tmp_path / "project").root
    (root / "lambda").mkdir()
    (root / "lambda" / "ttl_janitor").symlink_to(REPO_ROOT / "lambda" / "ttl_janitor")
    (root / "ephemera").symlink_to(REPO_ROOT / "ephemera")
    return Project(root=root, home=root / ".ephemera")


def test_bootstrap_runs_init_plan_and_the_confirmed_plan_in_a_snapshot(
    aws_env: MotoServer, fake_terraform: Path, tmp_path: Path
) -> None:
    project = project_with_sources(tmp_path)
    root = project.root
    confirmed: list[str] = []
    lines: list[str] = []
    outputs = control_plane.bootstrap(
        project,
        control_plane.Request("eu-west-1", "acme/ephemera"),
        boto3.Session(region_name="eu-west-1"),
        confirmed.append,
        lines.append,
    )
    assert outputs == {"state_bucket": "eph-tfstate", "region": "eu-west-1"}
    assert confirmed == ["123456789012"]
    home = project.home / "bootstrap"
    snapshot = home / "tf" / "bootstrap"
    assert [c["args"][0] for c in calls(fake_terraform)] == ["init", "plan", "apply", "output"]
    assert {c["cwd"] for c in calls(fake_terraform)} == {str(snapshot)}
    assert {c["data_dir"] for c in calls(fake_terraform)} == {str(home / "tfdata")}
    assert (home / "tf" / "modules" / "ttl-janitor" / "main.tf").is_file()
    backend = (snapshot / "ephemera_backend.tf").read_text()
    assert f'backend "local" {{\n    path = "{home / "terraform.tfstate"}"' in backend
    tfvars = (home / "bootstrap.tfvars").read_text()
    assert 'github_repository = "acme/ephemera"' in tfvars
    assert 'account_id = "123456789012"' in tfvars
    assert f'janitor_package_path = "{root / "dist" / "ttl_janitor.zip"}"' in tfvars
    assert stat.S_IMODE(os.stat(home / "bootstrap.tfvars").st_mode) == 0o600
    assert (
        lines[0]
        == "==> bootstrap: AWS account 123456789012 as arn:aws:sts::123456789012:user/moto\n"
    )

    # Moving the state into the bucket the first run created.
    (home / "terraform.tfstate").write_text("{}")
    fake_terraform.unlink()
    control_plane.bootstrap(
        project,
        control_plane.Request("eu-west-1", "acme/ephemera", "eph-tfstate"),
        boto3.Session(region_name="eu-west-1"),
        confirmed.append,
        lines.append,
    )
    assert calls(fake_terraform)[0]["args"] == [
        "init",
        "-input=false",
        "-no-color",
        "-migrate-state",
        "-force-copy",
    ]
    backend = (snapshot / "ephemera_backend.tf").read_text()
    assert 'bucket       = "eph-tfstate"' in backend
    assert 'key          = "bootstrap/terraform.tfstate"' in backend
    assert not (home / "terraform.tfstate").exists()
    assert (home / "terraform.tfstate.migrated").read_text() == "{}"


def test_a_refused_confirmation_applies_nothing(
    aws_env: MotoServer, fake_terraform: Path, tmp_path: Path
) -> None:
    def refuse(account: str) -> None:
        raise UsageError("not confirmed; nothing done")

    with pytest.raises(UsageError, match="not confirmed"):
        control_plane.bootstrap(
            project_with_sources(tmp_path),
            control_plane.Request("eu-west-1", "acme/ephemera"),
            boto3.Session(region_name="eu-west-1"),
            refuse,
            lambda line: None,
        )
    assert [c["args"][0] for c in calls(fake_terraform)] == ["init", "plan"]


@pytest.mark.integration
def test_make_bootstrap_without_credentials_stops_with_exit_2(tmp_path: Path) -> None:
    cli = make_project(tmp_path / "project")
    env = without_credentials(cli.env())
    stale = subprocess.run(["make", "-C", str(REPO_ROOT), "-q", ".venv/.installed"], check=False)
    if stale.returncode:
        pytest.skip("run `make setup` first: .venv is not installed")

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=cli.root, env=env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip

    made = run("make", "--no-print-directory", "-C", str(REPO_ROOT), "bootstrap",
               "REGION=eu-west-1", "REPO=acme/ephemera")  # fmt: skip
    assert made.returncode == 2
    first = made.stderr.splitlines()[0]
    assert first.startswith("bootstrap: no usable AWS credentials (Unable to locate credentials)")
    assert "Traceback" not in made.stderr and "terraform" not in made.stderr.lower()
    invoked = run(sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "bootstrap",
                  "--region", "eu-west-1", "--repo", "acme/ephemera")  # fmt: skip
    assert invoked.returncode == 2
    assert invoked.stderr.startswith("bootstrap: no usable AWS credentials")
    assert not cli.home.exists()  # nothing rendered, built or run
