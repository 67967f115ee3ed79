"""`invoke validate` and `invoke deploy` on bad files: exit 2, one line per problem
with file and line, no traceback, nothing rendered."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Cli, demo_env

pytestmark = pytest.mark.integration

BAD_FILES = {
    "wrong-type": demo_env(9001, name="wrong-type").replace("ttl: 8h", "ttl: [8h]"),
    "unknown-key": demo_env(9002, name="unknown-key") + "colour: blue\n",
    "duplicate-key": demo_env(9003, name="duplicate-key") + "owner: other@example.com\n",
    "Bad_Name": demo_env(9004, name="Bad_Name"),
    "alias-bomb": 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\n'
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c]\n",
    "bad-port": demo_env(9005, name="bad-port").replace("port: 9005", "port: not-a-port"),
}


def test_every_bad_file_is_reported_with_file_and_line(cli: Cli):
    for name, text in BAD_FILES.items():
        cli.write_env(name, text)
    result = cli.invoke("validate")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    by_file = {
        name: [line for line in lines if line.startswith(f"environments/{name}.yaml:")]
        for name in BAD_FILES
    }
    assert all(by_file.values()), lines
    assert len(lines) == sum(len(found) for found in by_file.values())
    assert any(":5: ttl:" in line for line in by_file["wrong-type"])
    assert any("colour" in line for line in by_file["unknown-key"])
    assert any(":10: owner:" in line and "duplicate" in line for line in by_file["duplicate-key"])
    assert any("name" in line for line in by_file["Bad_Name"])
    assert any("alias" in line or "anchor" in line for line in by_file["alias-bomb"])
    assert any(":8: variables.port:" in line for line in by_file["bad-port"])
    assert not (cli.home / "work").exists()


def test_deploy_of_an_invalid_file_renders_and_applies_nothing(cli: Cli):
    cli.write_env("bad-port", BAD_FILES["bad-port"])
    result = cli.invoke("deploy", "--env", "bad-port")
    assert result.returncode == 2
    assert result.stderr.startswith("environments/bad-port.yaml:8: variables.port:")
    assert not (cli.home / "work").exists() and not (cli.home / "state").exists()


def test_one_env_is_validated_with_env(cli: Cli, port: int):
    cli.write_env("local-demo", demo_env(port))
    cli.write_env("unknown-key", BAD_FILES["unknown-key"])
    assert cli.invoke("validate", "--env", "local-demo").returncode == 0
    assert cli.invoke("validate", "--env", "unknown-key").returncode == 2


def test_validate_json_carries_every_problem_for_scripts(cli: Cli):
    from tests.support.jsondocs import checked

    cli.write_env("wrong-type", BAD_FILES["wrong-type"])
    cli.write_env("local-demo", demo_env(9010))
    bad = cli.ephemera("validate", "--json")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    verdict = checked("validate --json", bad.stdout)
    assert verdict["valid"] is False
    assert {"file": "environments/wrong-type.yaml", "line": 5, "key": "ttl"}.items() <= (
        verdict["problems"][0].items()
    )
    good = cli.ephemera("validate", "local-demo", "--json")
    assert good.returncode == 0, good.stderr
    assert checked("validate --json", good.stdout) == {
        "format_version": 1,
        "valid": True,
        "environments": ["local-demo"],
        "problems": [],
        "error": None,
    }
    unknown = checked("validate --json", cli.ephemera("validate", "nope", "--json").stdout)
    assert unknown["valid"] is False and "unknown environment 'nope'" in unknown["error"]
