"""The scheduled sweep workflow: schedule, concurrency, OIDC, actions pinned to SHAs."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "ttl-sweep.yml"


def test_ttl_sweep_workflow() -> None:
    text = WORKFLOW.read_text()
    doc = yaml.safe_load(text)
    triggers = doc[True]  # YAML 1.1 reads the key `on` as true
    assert triggers["schedule"] == [{"cron": "*/15 * * * *"}]
    assert "workflow_dispatch" in triggers
    assert doc["concurrency"] == {"group": "ttl-sweep", "cancel-in-progress": False}
    # The OIDC token only for the job that assumes the role, and that job outside the
    # `ephemera` environment: scheduled on main, its subject is ref:refs/heads/main,
    # which the apply role trusts, and no reviewer holds an expiry back.
    assert doc["permissions"] == {"contents": "read"}
    sweep = doc["jobs"]["sweep"]
    assert sweep["permissions"] == {"contents": "read", "id-token": "write"}
    assert "environment" not in sweep
    steps = sweep["steps"]
    assert any(step.get("run") == "make ttl" for step in steps)
    uses = re.findall(r"uses: (\S+)@(\S+)( # v[0-9.]+)?", text)
    assert {name for name, _, _ in uses} == {
        "actions/checkout",
        "actions/setup-python",
        "aws-actions/configure-aws-credentials",
    }
    for name, ref, comment in uses:
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{name} is not pinned to a commit SHA"
        assert comment, f"{name}: the version belongs in a comment"
    aws = next(s for s in steps if "configure-aws-credentials" in s.get("uses", ""))
    assert aws["with"]["role-to-assume"] == "${{ vars.EPHEMERA_APPLY_ROLE_ARN }}"
