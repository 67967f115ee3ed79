"""ephemera.gate.checkov: the one runner of checkov (policy gate, policy-scan, terraform/ tests).

A fake checkov (a script in tmp_path) records its arguments, environment and working
directory and answers with what the test asks for; the real checkov runs in the
integration tests of tests/gate/test_policy.py, tests/policies and tests/terraform.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from ephemera.errors import CommandError, EphemeraError
from ephemera.gate import checkov

FAKE = """#!{python}
import json, os, sys, time

with open(os.environ["FAKE_LOG"], "w") as log:
    json.dump({{"args": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ),
               "cwd_entries": os.listdir(".")}}, log)
time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
sys.stdout.write(os.environ.get("FAKE_STDOUT", ""))
sys.stderr.write(os.environ.get("FAKE_STDERR", ""))
sys.exit(int(os.environ.get("FAKE_RC", "0")))
"""

REPORT = {"check_type": "terraform", "results": {"failed_checks": []}, "summary": {}}
EMPTY = {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "bin" / "checkov"
    script.parent.mkdir()
    script.write_text(FAKE.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "call.json"))
    monkeypatch.setenv("FAKE_STDOUT", json.dumps(REPORT))
    return script


def call(tmp_path: Path) -> dict[str, Any]:
    return dict(json.loads((tmp_path / "call.json").read_text()))


# --- output --------------------------------------------------------------------------------


def test_output_shapes() -> None:
    assert checkov.parse_output(json.dumps(REPORT)) == [REPORT]
    assert checkov.parse_output(json.dumps([REPORT, REPORT])) == [REPORT, REPORT]
    # nothing to check: a bare summary, kept as a report with no results
    assert checkov.parse_output(json.dumps(EMPTY)) == [
        {"check_type": None, "results": {}, "summary": EMPTY}
    ]
    with pytest.raises(json.JSONDecodeError):
        checkov.parse_output("checkov crashed")
    with pytest.raises(ValueError, match="not a checkov report"):
        checkov.parse_output(json.dumps([REPORT, {"something": "else"}]))


# --- running -------------------------------------------------------------------------------


def test_run_is_offline_and_asks_for_json(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("BC_API_KEY", "CKV_FRAMEWORK", "PRISMA_API_URL", "CHECKOV_CONFIG"):
        monkeypatch.setenv(name, "from the caller")
    monkeypatch.setenv("KEEP_ME", "yes")
    assert checkov.run(str(fake), ["-d", "/some/dir"], where="here") == [REPORT]
    seen = call(tmp_path)
    assert seen["args"] == ["-d", "/some/dir", "--skip-download", "--output", "json"]
    assert checkov.argv(str(fake), ["-d", "x"]) == [str(fake), "-d", "x", *seen["args"][2:]]
    env = seen["env"]
    assert not [k for k in env if k.startswith(("BC_API", "CKV_FRAMEWORK", "PRISMA_", "CHECKOV_"))]
    assert env["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    assert env["KEEP_ME"] == "yes"
    # no ~/.checkov.yaml, no ./.checkov.yaml: an empty scratch directory, removed afterwards
    assert env["HOME"] == seen["cwd"] != os.environ.get("HOME")
    assert seen["cwd_entries"] == []
    assert not Path(seen["cwd"]).exists()


def test_exit_code_one_is_a_result(fake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_RC", "1")
    assert checkov.run(str(fake), [], where="here") == [REPORT]


def test_checkovs_own_failure_names_command_exit_code_and_stderr(
    fake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_RC", "2")
    monkeypatch.setenv("FAKE_STDOUT", "")
    monkeypatch.setenv("FAKE_STDERR", "line 1\nTraceback: boom\n")
    with pytest.raises(CommandError) as caught:
        checkov.run(str(fake), ["-d", "tree"], where="terraform: policy-scan")
    message = str(caught.value)
    assert message.startswith("terraform: policy-scan: command failed with exit code 2: ")
    assert f"{fake} -d tree --skip-download --output json" in message
    assert "stderr (last lines):\n  line 1\n  Traceback: boom" in message
    assert caught.value.returncode == 2


@pytest.mark.parametrize(
    ("stdout", "problem"),
    [
        ("Error: something went wrong\n", "checkov's output is not JSON"),
        (json.dumps({"unexpected": True}), "unexpected checkov output (not a checkov report"),
    ],
)
def test_output_that_is_not_a_report_is_an_error(
    fake: Path, monkeypatch: pytest.MonkeyPatch, stdout: str, problem: str
) -> None:
    monkeypatch.setenv("FAKE_RC", "1")
    monkeypatch.setenv("FAKE_STDOUT", stdout)
    monkeypatch.setenv("FAKE_STDERR", "a warning on stderr\n")
    with pytest.raises(CommandError) as caught:
        checkov.run(str(fake), [], where="qa: policy")
    message = str(caught.value)
    assert message.startswith(f"qa: policy: {problem}")
    assert "exit code 1" in message and "a warning on stderr" in message


def test_missing_executable_and_timeout(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(EphemeraError, match=r"^here: cannot run .*nowhere.*run make setup"):
        checkov.run(str(tmp_path / "nowhere"), [], where="here")
    monkeypatch.setenv("FAKE_SLEEP", "5")
    with pytest.raises(EphemeraError, match=r"^here: checkov did not finish in 0.5s: "):
        checkov.run(str(fake), [], where="here", timeout=0.5)


# --- finding it and its version -------------------------------------------------------------


def test_missing_checkov_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EPHEMERA_CHECKOV", raising=False)
    monkeypatch.setattr(checkov, "INSTALL_ROOT", tmp_path / "install")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(EphemeraError, match=r"checkov not found .*run make setup"):
        checkov.checkov_path(tmp_path)


def test_version_runs_checkov_once_then_remembers(
    fake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_STDOUT", "some banner\n3.2.1\n")
    memo = tmp_path / "memo" / "checkov-version.json"
    assert checkov.version(str(fake), memo) == "3.2.1"
    assert call(tmp_path)["args"] == ["--version"]
    (tmp_path / "call.json").unlink()
    assert checkov.version(str(fake), memo) == "3.2.1"
    assert not (tmp_path / "call.json").exists()  # not started again
    monkeypatch.setenv("FAKE_RC", "2")
    fake.write_text(fake.read_text() + "\n")  # another size: the memo no longer applies
    with pytest.raises(CommandError, match="exit code 2"):
        checkov.version(str(fake), memo)
