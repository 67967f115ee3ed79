"""The Terraform runner: embedded Terraform in a child process, live output to the
echo and the run log, errors that name the command, exit code and stderr tail,
EPHEMERA_TERRAFORM, and the state-lock message."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from ephemera.errors import CommandError, UsageError
from ephemera.terraform.runner import StateLocked, Terraform, parse_lock_info, terraform_argv

LOCK_ERROR = """
Error: Error acquiring the state lock

Error message: operation error S3: PutObject, https response error StatusCode: 412
Lock Info:
  ID:        3f0c9c5e-1111-2222-3333-444455556666
  Path:      ephemera-state/envs/x/terraform.tfstate
  Operation: OperationTypeApply
  Who:       alice@laptop
  Version:   1.15.5
  Created:   2026-11-22 02:00:00.000000 +0000 UTC
  Info:

Terraform acquires a state lock to protect the state from being written
"""


@pytest.fixture
def terraform(tmp_path: Path) -> tuple[Terraform, list[str]]:
    lines: list[str] = []
    runner = Terraform(
        data_dir=tmp_path / "data", plugin_cache=tmp_path / "cache", echo=lines.append
    )
    return runner, lines


@pytest.mark.integration
def test_output_goes_to_the_echo_and_the_log(terraform, tmp_path: Path):
    runner, lines = terraform
    log = io.StringIO()
    result = runner.run(["version"], cwd=tmp_path, log=log)
    assert result.returncode == 0
    assert result.stdout.startswith("Terraform v1.")
    assert "".join(lines) == result.stdout + result.stderr
    assert log.getvalue().startswith("$ terraform version\nTerraform v1.")


@pytest.mark.integration
def test_a_failing_command_names_command_code_and_stderr(terraform, tmp_path: Path):
    runner, _ = terraform
    with pytest.raises(CommandError) as caught:
        runner.run(["plan", "-no-color", "-bogus-flag"], cwd=tmp_path, where="qa: plan")
    message = caught.value.message
    assert message.startswith("qa: plan: command failed with exit code 1: terraform plan")
    assert message.endswith("(its output is above)")  # the echo showed it: printed once
    assert "flag provided but not defined: -bogus-flag" in caught.value.stderr
    assert caught.value.returncode == 1


def test_ephemera_terraform_names_the_binary(tmp_path: Path, monkeypatch, terraform):
    fake = tmp_path / "tofu"
    fake.write_text('#!/bin/sh\necho "fake $*"\necho oops >&2\nexit 7\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EPHEMERA_TERRAFORM", str(fake))
    assert terraform_argv(["init"]) == [str(fake), "init"]
    runner, lines = terraform
    with pytest.raises(CommandError, match="exit code 7: terraform init") as caught:
        runner.run(["init"], cwd=tmp_path)
    assert "oops\n" in lines and "fake init\n" in lines  # streamed, so …
    assert caught.value.message.endswith("(its output is above)")  # … printed once
    assert caught.value.stderr == "oops\n"


def test_the_child_gets_a_private_data_dir_and_no_input(terraform, tmp_path: Path):
    runner, _ = terraform
    env = runner.environment()
    assert env["TF_DATA_DIR"] == str(tmp_path / "data")
    assert env["TF_INPUT"] == "0" and env["TF_IN_AUTOMATION"] == "1"
    assert Path(env["TF_CLI_CONFIG_FILE"]).read_text().startswith("plugin_cache_dir")


def test_lock_info_is_parsed_and_named(tmp_path: Path, monkeypatch, terraform):
    lock = parse_lock_info(LOCK_ERROR)
    assert lock is not None and lock["Who"] == "alice@laptop"
    assert lock["ID"] == "3f0c9c5e-1111-2222-3333-444455556666"
    assert parse_lock_info("Error: something else") is None

    fake = tmp_path / "locked-terraform"
    fake.write_text(f"#!/bin/sh\ncat >&2 <<'EOF'\n{LOCK_ERROR}\nEOF\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("EPHEMERA_TERRAFORM", str(fake))
    runner, _ = terraform
    with pytest.raises(StateLocked) as caught:
        runner.run(["apply"], cwd=tmp_path, where="qa: apply")
    assert caught.value.exit_code == 1
    assert "the state is locked by alice@laptop (OperationTypeApply" in caught.value.message
    assert "invoke unlock" in caught.value.message


def test_a_missing_binary_is_a_usage_error(tmp_path: Path, monkeypatch, terraform):
    monkeypatch.setenv("EPHEMERA_TERRAFORM", str(tmp_path / "no-such-terraform"))
    runner, _ = terraform
    with pytest.raises(UsageError, match="cannot run .*no-such-terraform.*EPHEMERA_TERRAFORM"):
        runner.run(["init"], cwd=tmp_path, where="qa: init")


def test_a_quiet_command_names_its_stderr(tmp_path: Path, monkeypatch, terraform) -> None:
    fake = tmp_path / "tofu"
    fake.write_text("#!/bin/sh\necho oops >&2\nexit 7\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EPHEMERA_TERRAFORM", str(fake))
    runner, lines = terraform
    with pytest.raises(CommandError) as caught:
        runner.run(["init"], cwd=tmp_path, quiet=True)
    assert lines == [] and "stderr (last lines):\n  oops" in caught.value.message
