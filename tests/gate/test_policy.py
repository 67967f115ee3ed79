"""The policy gate: finding checkov, batch runs, mapping back, skips, cache, offline, output.

Most tests use a fake checkov (a small script answering like checkov's JSON
output, written into tmp_path), so they run in milliseconds. The tests marked
integration run the real checkov: a batch under a socket guard and a proxy that
goes nowhere (and a wrapper that counts checkov starts), and a static scan.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ephemera.environment import PolicySkip
from ephemera.errors import CommandError, EphemeraError, UsageError
from ephemera.gate import checkov, policy
from ephemera.gate.policy import PolicyFinding, PolicyResult, check_plans, format_result
from ephemera.gate.skips import CodeSkip, CodeSkips
from ephemera.gate.static import scan_static
from ephemera.project import Project
from tests.conftest import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "policy"

# --- a fake checkov -----------------------------------------------------------------

FAKE_CHECKOV = """#!{python}
import json, os, sys

args = sys.argv[1:]
with open(os.environ["FAKE_CHECKOV_LOG"], "a") as log:
    seen = {{k: os.environ.get(k) for k in (
        "CKV_SKIP_PACKAGE_UPDATE_CHECK", "BC_API_KEY", "CKV_FRAMEWORK", "PRISMA_API_URL", "HOME")}}
    log.write(json.dumps({{"args": args, "cwd": os.getcwd(), "env": seen}}) + "\\n")
if args == ["--version"]:
    print("9.9.9")
    sys.exit(0)
mode = os.environ.get("FAKE_CHECKOV_MODE", "report")
if mode == "crash":
    print("Traceback (most recent call last): boom", file=sys.stderr)
    sys.exit(2)
if mode == "garbage":
    print("this is not json")
    sys.exit(1)
files = []
if "--file" in args:
    for arg in args[args.index("--file") + 1:]:
        if arg.startswith("--"):
            break
        files.append(arg)
results = {{"passed_checks": [], "failed_checks": [], "skipped_checks": [], "parsing_errors": []}}
for path in files:
    with open(path) as handle:
        plan = json.load(handle)
    for item in plan.get("fake_results", []):
        results[item["status"] + "_checks"].append({{
            "check_id": item["check_id"], "check_name": item.get("name", "a fake check"),
            "check_result": {{"result": item["status"].upper()}}, "file_path": "/plan.json",
            "file_abs_path": path, "resource": item["resource"], "details": item.get("details", []),
        }})
if mode == "parse_error":
    results["parsing_errors"].append(files[0])
summary = {{"passed": len(results["passed_checks"]), "failed": len(results["failed_checks"]),
           "skipped": 0, "parsing_errors": len(results["parsing_errors"]), "resource_count": 0,
           "checkov_version": "9.9.9"}}
if not any(results.values()):
    print(json.dumps(summary, indent=4))  # what checkov prints when it found nothing to report
    sys.exit(0)
report = {{"check_type": "terraform_plan", "results": results, "summary": summary}}
if mode == "list":
    empty = {{"passed_checks": [], "failed_checks": [], "skipped_checks": [], "parsing_errors": []}}
    report = [report, {{"check_type": "secrets", "results": empty, "summary": summary}}]
print(json.dumps(report, indent=4))
sys.exit(1 if results["failed_checks"] else 0)
"""


class Fake:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = tmp_path / "project"
        (self.root / "policies").mkdir(parents=True)
        (self.root / "policies" / "__init__.py").write_text("")
        (self.root / "policies" / "eph_example.py").write_text("# a check\n")
        self.project = Project(root=self.root, home=tmp_path / "home")
        self.log = tmp_path / "checkov.log"
        self.script = tmp_path / "bin" / "checkov"
        self.script.parent.mkdir()
        self.script.write_text(FAKE_CHECKOV.format(python=sys.executable))
        self.script.chmod(0o755)
        self.plans_dir = tmp_path / "plans"
        self.plans_dir.mkdir()
        monkeypatch.setenv("EPHEMERA_CHECKOV", str(self.script))
        monkeypatch.setenv("FAKE_CHECKOV_LOG", str(self.log))
        monkeypatch.delenv("FAKE_CHECKOV_MODE", raising=False)

    def plan(self, name: str, *results: tuple[str, str, str]) -> Path:
        """A plan.json whose fake results are (status, check_id, resource)."""
        path = self.plans_dir / f"{name}.json"
        items = [{"status": s, "check_id": c, "resource": r} for s, c, r in results]
        path.write_text(json.dumps({"format_version": "1.2", "fake_results": items}))
        return path

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def scans(self) -> list[list[str]]:
        """The argument lists of the runs that scanned (not `--version`)."""
        return [c["args"] for c in self.calls() if c["args"] != ["--version"]]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fake:
    return Fake(tmp_path, monkeypatch)


def sets(result: PolicyResult) -> dict[str, set[tuple[str, str]]]:
    return {
        "passed": {(f.check_id, f.resource) for f in result.passed},
        "failed": {(f.check_id, f.resource) for f in result.failed},
        "skipped": {(f.check_id, f.resource, reason) for f, reason in result.skipped},
    }


def test_one_process_checks_every_plan_and_results_go_back_to_their_env(fake: Fake) -> None:
    plans = {
        "alpha": fake.plan(
            "alpha", ("failed", "CKV_X_1", "aws_lb.a"), ("passed", "CKV_X_2", "aws_lb.a")
        ),
        "beta": fake.plan(
            "beta", ("failed", "CKV_X_1", "aws_lb.b"), ("failed", "CKV_X_3", "aws_s3.b")
        ),
        "gamma": fake.plan("gamma"),
    }
    skips = {"alpha": (PolicySkip("CKV_X_1", "no access logs for 8h stacks"),)}

    results = check_plans(fake.project, plans, skips)

    (scan,) = fake.scans()  # one checkov process for the three plans
    assert len(scan[scan.index("--file") + 1 : scan.index("--external-checks-dir")]) == 3
    assert sets(results["alpha"]) == {
        "passed": {("CKV_X_2", "aws_lb.a")},
        "failed": set(),
        "skipped": {("CKV_X_1", "aws_lb.a", "no access logs for 8h stacks")},
    }
    # the same check fails beta: alpha's skip is alpha's only
    assert sets(results["beta"]) == {
        "passed": set(),
        "failed": {("CKV_X_1", "aws_lb.b"), ("CKV_X_3", "aws_s3.b")},
        "skipped": set(),
    }
    assert sets(results["gamma"]) == {"passed": set(), "failed": set(), "skipped": set()}
    assert results["alpha"].ok and not results["beta"].ok and results["gamma"].ok
    assert {f.file for f in results["beta"].failed} == {str(plans["beta"])}
    assert not any(r.cached for r in results.values())


def test_checkov_runs_offline_with_the_projects_checks(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BC_API_KEY", "00000000-0000-0000-0000-000000000000")
    monkeypatch.setenv("PRISMA_API_URL", "https://api.example.invalid")
    monkeypatch.setenv("CKV_FRAMEWORK", "secrets")
    check_plans(fake.project, {"alpha": fake.plan("alpha", ("passed", "CKV_X_1", "aws_lb.a"))})
    (call,) = [c for c in fake.calls() if c["args"] != ["--version"]]
    args = call["args"]
    assert args[args.index("--framework") + 1] == "terraform_plan"
    assert args[args.index("--external-checks-dir") + 1] == str(fake.root / "policies")
    assert args[args.index("--output") + 1] == "json"
    assert "--skip-download" in args
    assert not any(a.startswith("--bc-api-key") or a.startswith("--skip-check") for a in args)
    assert call["env"]["CKV_SKIP_PACKAGE_UPDATE_CHECK"] == "true"
    assert call["env"]["BC_API_KEY"] is None
    assert call["env"]["PRISMA_API_URL"] is None
    assert call["env"]["CKV_FRAMEWORK"] is None
    # no ~/.checkov.yaml and no ./.checkov.yaml: HOME and cwd are an empty scratch directory
    assert call["env"]["HOME"] == call["cwd"] != os.environ.get("HOME")


def test_unchanged_plans_are_not_checked_again(fake: Fake) -> None:
    plans = {
        "alpha": fake.plan("alpha", ("failed", "CKV_X_1", "aws_lb.a")),
        "beta": fake.plan("beta", ("passed", "CKV_X_1", "aws_lb.b")),
    }
    first = check_plans(fake.project, plans)
    assert len(fake.scans()) == 1

    again = check_plans(fake.project, plans, {"alpha": (PolicySkip("CKV_X_1", "later"),)})
    assert len(fake.scans()) == 1  # checkov not started
    assert all(r.cached for r in again.values())
    assert again["beta"].passed == first["beta"].passed
    # skips apply to cached results too (they are not part of the cache key)
    assert sets(again["alpha"])["skipped"] == {("CKV_X_1", "aws_lb.a", "later")}

    fake.plan("beta", ("failed", "CKV_X_9", "aws_lb.b"))  # beta's plan changes
    third = check_plans(fake.project, plans)
    assert len(fake.scans()) == 2
    last = fake.scans()[-1]
    assert last[last.index("--file") + 2] == "--external-checks-dir"  # only beta's plan
    assert third["alpha"].cached and not third["beta"].cached
    assert sets(third["beta"])["failed"] == {("CKV_X_9", "aws_lb.b")}

    (fake.root / "policies" / "eph_example.py").write_text("# a changed check\n")
    fourth = check_plans(fake.project, plans)
    assert len(fake.scans()) == 3
    assert not any(r.cached for r in fourth.values())
    # the version came from `checkov --version` once, then from the memo
    assert [c["args"] for c in fake.calls()].count(["--version"]) == 1


def code_skip(check_id: str, module: str, resource: str, reason: str) -> CodeSkip:
    return CodeSkip(check_id, module, resource, reason, "modules/x/main.tf", 7)


def test_code_skips_apply_per_resource_and_after_the_cache(fake: Fake) -> None:
    plans = {
        "alpha": fake.plan(
            "alpha",
            ("failed", "CKV_X_1", 'module.web.aws_lb.this["a"]'),
            ("failed", "CKV_X_1", "module.web.aws_lb.other"),
            ("failed", "CKV_X_2", "module.web.aws_lb.this[0]"),
            ("failed", "CKV_X_3", "aws_s3_bucket.b"),
        )
    }
    code = CodeSkips(
        skips=(code_skip("CKV_X_1", "module.web", "aws_lb.this", "no access logs here"),),
        modules=frozenset({"", "module.web"}),
    )
    first = check_plans(fake.project, plans, code_skips={"alpha": code})["alpha"]
    assert sets(first) == {
        "passed": set(),
        "failed": {
            ("CKV_X_1", "module.web.aws_lb.other"),  # another resource
            ("CKV_X_2", "module.web.aws_lb.this[0]"),  # another check
            ("CKV_X_3", "aws_s3_bucket.b"),
        },
        "skipped": {("CKV_X_1", 'module.web.aws_lb.this["a"]', "no access logs here")},
    }
    ((finding, _),) = first.skipped
    assert first.in_code == {finding: "modules/x/main.tf:7"}
    assert first.skipped_by(finding) == "in code"

    # The cache holds the raw results: a different set of skips applies without checkov.
    more = CodeSkips(
        skips=(*code, code_skip("CKV_X_2", "module.web", "aws_lb.this", "deleted by the janitor")),
        modules=code.modules,
    )
    second = check_plans(
        fake.project,
        plans,
        {"alpha": (PolicySkip("CKV_X_3", "from the env file"), PolicySkip("CKV_X_1", "env"))},
        {"alpha": more},
    )["alpha"]
    assert len(fake.scans()) == 1 and second.cached
    assert sets(second)["failed"] == set()
    assert {(f.resource, r, second.skipped_by(f)) for f, r in second.skipped} == {
        ('module.web.aws_lb.this["a"]', "no access logs here", "in code"),  # code first
        ("module.web.aws_lb.this[0]", "deleted by the janitor", "in code"),
        ("module.web.aws_lb.other", "env", "policy.skip"),
        ("aws_s3_bucket.b", "from the env file", "policy.skip"),
    }
    third = check_plans(fake.project, plans)["alpha"]
    assert third.cached and len(third.failed) == 4 and not third.in_code


def test_format_result_shows_failures_skips_and_the_cache() -> None:
    plan = "/x/plan.json"
    in_code = PolicyFinding("CKV_AWS_150", "module.service.aws_lb.this", "Deletion", plan)
    result = PolicyResult(
        env="test-api",
        passed=[PolicyFinding("CKV_EPH_3", "aws_s3_bucket.b", "S3 buckets …", plan)],
        failed=[
            PolicyFinding("CKV_EPH_2", "aws_security_group.ssh", "Internet ingress: 22", plan),
            PolicyFinding("CKV_AWS_260", "aws_security_group.web", "No ingress to port 80", plan),
        ],
        skipped=[
            (PolicyFinding("CKV_AWS_91", "aws_lb.this", "Access logging", plan), "8h stacks"),
            (in_code, "the janitor must be able to destroy it"),
        ],
        cached=True,
        in_code={in_code: "modules/service/main.tf:12"},
    )
    text = format_result(result)
    lines = text.splitlines()
    assert lines[0] == (
        "policy test-api: FAILED (2 failed, 1 passed, 2 skipped)"
        " (cached: checkov not run, plan and policies unchanged)"
    )
    assert lines[1].split() == ["CHECK", "RESOURCE", "MESSAGE"]
    assert lines[2] == "  CKV_EPH_2    aws_security_group.ssh  Internet ingress: 22"
    assert lines[3] == "  CKV_AWS_260  aws_security_group.web  No ingress to port 80"
    assert lines[4] == "skipped:"
    assert lines[5] == "  CHECK        RESOURCE                    SKIPPED BY   REASON"
    assert lines[6] == "  CKV_AWS_91   aws_lb.this                 policy.skip  8h stacks"
    assert lines[7] == (
        "  CKV_AWS_150  module.service.aws_lb.this  in code      "
        "the janitor must be able to destroy it"
    )
    assert len(lines) == 8
    ok = format_result(PolicyResult(env="qa", passed=result.passed))
    assert ok == "policy qa: passed (0 failed, 1 passed, 0 skipped)"


def test_output_shapes(fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    # several reports come as a list; "nothing to report" is a bare summary object
    monkeypatch.setenv("FAKE_CHECKOV_MODE", "list")
    listed = check_plans(fake.project, {"a": fake.plan("a", ("failed", "CKV_X_1", "aws_lb.a"))})
    assert sets(listed["a"])["failed"] == {("CKV_X_1", "aws_lb.a")}
    monkeypatch.setenv("FAKE_CHECKOV_MODE", "report")
    empty = check_plans(fake.project, {"e": fake.plan("e")})
    assert empty["e"].ok and not empty["e"].passed and not empty["e"].cached


@pytest.mark.parametrize(
    ("mode", "error", "text"),
    [
        ("crash", CommandError, "command failed with exit code 2"),
        ("garbage", CommandError, "checkov's output is not JSON"),
        ("parse_error", EphemeraError, "alpha: policy: checkov could not parse the plan of alpha"),
    ],
)
def test_checkov_failures_are_errors_and_are_not_cached(
    fake: Fake, monkeypatch: pytest.MonkeyPatch, mode: str, error: type, text: str
) -> None:
    plans = {"alpha": fake.plan("alpha", ("passed", "CKV_X_1", "aws_lb.a"))}
    monkeypatch.setenv("FAKE_CHECKOV_MODE", mode)
    with pytest.raises(error) as caught:
        check_plans(fake.project, plans)
    assert text in str(caught.value)
    monkeypatch.setenv("FAKE_CHECKOV_MODE", "report")
    assert not check_plans(fake.project, plans)["alpha"].cached


def test_bad_input(fake: Fake) -> None:
    with pytest.raises(UsageError, match="beta: policy.skip: CKV_X_1 needs a reason"):
        check_plans(fake.project, {}, {"beta": (PolicySkip("CKV_X_1", " "),)})
    with pytest.raises(EphemeraError, match="alpha: policy: cannot read .*missing.json"):
        check_plans(fake.project, {"alpha": fake.plans_dir / "missing.json"})
    (fake.root / "policies" / "__init__.py").unlink()
    with pytest.raises(EphemeraError, match="policies/__init__.py is missing"):
        check_plans(fake.project, {"alpha": fake.plan("alpha")})
    assert fake.scans() == []


# --- finding checkov and its version -----------------------------------------------------


def test_checkov_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project(root=tmp_path / "project", home=tmp_path / "home")
    monkeypatch.delenv("EPHEMERA_CHECKOV", raising=False)
    monkeypatch.setattr(checkov, "INSTALL_ROOT", tmp_path / "install")  # not this checkout
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(EphemeraError, match="checkov not found .*run make setup"):
        policy.checkov_path(project)

    on_path = tmp_path / "empty-bin" / "checkov"
    on_path.parent.mkdir()
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert policy.checkov_path(project) == str(on_path)

    installed = tmp_path / "install" / ".venv-checkov" / "bin" / "checkov"
    installed.parent.mkdir(parents=True)
    installed.write_text("#!/bin/sh\n")
    installed.chmod(0o755)
    assert policy.checkov_path(project) == str(installed)  # the checkout Ephemera runs from

    venv = project.root / ".venv-checkov" / "bin" / "checkov"
    venv.parent.mkdir(parents=True)
    venv.write_text("#!/bin/sh\n")
    venv.chmod(0o755)
    assert policy.checkov_path(project) == str(venv)  # the project's own first

    monkeypatch.setenv("EPHEMERA_CHECKOV", str(on_path))
    assert policy.checkov_path(project) == str(on_path)
    monkeypatch.setenv("EPHEMERA_CHECKOV", str(tmp_path / "nowhere" / "checkov"))
    with pytest.raises(EphemeraError, match="EPHEMERA_CHECKOV=.* is not an executable"):
        policy.checkov_path(project)


def test_checkov_version_is_read_from_its_install(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "lib" / "python3.12" / "site-packages" / "checkov-3.1.4.dist-info").mkdir(parents=True)
    (venv / "bin").mkdir()
    script = venv / "bin" / "checkov"
    script.write_text(f"#!{venv}/bin/python\nexit 99\n")  # never run
    script.chmod(0o755)
    project = Project(root=tmp_path, home=tmp_path / "home")
    assert policy.checkov_version(project, str(script)) == "3.1.4"


# --- the real checkov ----------------------------------------------------------------

GUARD = """
import ipaddress, os, socket

LOG = os.environ["NETGUARD_LOG"]
_connect, _connect_ex, _getaddrinfo = (
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo)


def _record(line):
    with open(LOG, "a") as handle:
        handle.write(f"{os.getpid()} {line}\\n")


def _loopback(host):
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(address, what):
    if isinstance(address, tuple):  # AF_INET / AF_INET6: every attempt is recorded
        _record(f"{what} {address!r}")
        if not _loopback(address[0]):
            raise OSError(f"network guard: {what} to {address!r} blocked")


def connect(self, address):
    _guard(address, "connect")
    return _connect(self, address)


def connect_ex(self, address):
    _guard(address, "connect_ex")
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if not _loopback(name):
        _record(f"getaddrinfo {name!r}")
        raise socket.gaierror(f"network guard: lookup of {name!r} blocked")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.getaddrinfo = getaddrinfo
_record("guard installed")
"""

WRAPPER = """#!{python}
import os, sys

with open({count!r}, "a") as handle:
    handle.write(" ".join(sys.argv[1:]) + "\\n")
os.execv({real!r}, [{real!r}, *sys.argv[1:]])
"""


def closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two real batch runs under a socket guard, a dead proxy and a counting wrapper."""
    tmp = tmp_path_factory.mktemp("policy-guarded")
    project = Project(root=REPO_ROOT, home=tmp / "home")
    real = policy.checkov_path(Project(root=REPO_ROOT, home=tmp / "unused"))
    interpreter = Path(real).read_text().splitlines()[0].removeprefix("#!").strip()
    guard_dir = tmp / "guard"
    guard_dir.mkdir()
    (guard_dir / "sitecustomize.py").write_text(GUARD)
    count = tmp / "starts.log"
    wrapper = tmp / "bin" / "checkov"
    wrapper.parent.mkdir()
    wrapper.write_text(WRAPPER.format(python=interpreter, count=str(count), real=real))
    wrapper.chmod(0o755)
    netlog = tmp / "net.log"
    proxy = f"http://127.0.0.1:{closed_port()}"
    plans = {
        "strict": FIXTURES / "bind.fail.plan.json",
        "lenient": FIXTURES / "bind.fail.plan.json",
        "local": FIXTURES / "bind.pass.plan.json",
        "ecs": FIXTURES / "ecs.fail.plan.json",
    }
    skips = {"lenient": (PolicySkip("CKV_EPH_6", "a shared dev box behind a firewall"),)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EPHEMERA_CHECKOV", str(wrapper))
        mp.setenv("PYTHONPATH", str(guard_dir))
        mp.setenv("NETGUARD_LOG", str(netlog))
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
            mp.setenv(name, proxy)
        mp.setenv("BC_API_KEY", "00000000-0000-0000-0000-000000000000")  # must not reach it
        first = check_plans(project, plans, skips)
        starts_after_first = count.read_text().splitlines()
        second = check_plans(project, plans, skips)
        starts_after_second = count.read_text().splitlines()
    yield {
        "first": first,
        "second": second,
        "starts": (starts_after_first, starts_after_second),
        "netlog": netlog,
        "guard_dir": guard_dir,
    }


@pytest.mark.integration
def test_a_batch_is_one_checkov_process_with_per_env_skips(guarded: dict[str, Any]) -> None:
    first = guarded["first"]
    starts, _ = guarded["starts"]
    assert len(starts) == 1  # four environments, one checkov process
    bind_fail = {
        "terraform_data.any",
        "terraform_data.any_v6",
        "terraform_data.lan",
        "terraform_data.hostname",
        "terraform_data.unknown",
    }
    assert {f.resource for f in first["strict"].failed} == bind_fail
    assert not first["strict"].ok
    # the same plan, but this environment skips CKV_EPH_6 with a reason
    assert first["lenient"].ok and first["lenient"].failed == []
    assert {(f.resource, reason) for f, reason in first["lenient"].skipped} == {
        (resource, "a shared dev box behind a firewall") for resource in bind_fail
    }
    assert first["local"].ok
    assert {f.resource for f in first["ecs"].failed if f.check_id == "CKV_EPH_5"} == {
        "aws_ecs_service.big",
        "aws_appautoscaling_target.big",
    }


@pytest.mark.integration
def test_a_second_run_on_unchanged_plans_does_not_start_checkov(guarded: dict[str, Any]) -> None:
    first, second = guarded["first"], guarded["second"]
    after_first, after_second = guarded["starts"]
    assert after_second == after_first  # no start, not even `checkov --version`
    assert all(result.cached for result in second.values())
    assert not any(result.cached for result in first.values())
    for env in first:
        assert sets(second[env]) == sets(first[env])
    assert "(cached" in format_result(second["ecs"])


@pytest.mark.integration
def test_the_policy_run_makes_no_network_connection(guarded: dict[str, Any]) -> None:
    lines = guarded["netlog"].read_text().splitlines()
    assert lines, "the socket guard was not loaded into checkov"
    assert all(line.split(" ", 1)[1] == "guard installed" for line in lines), lines
    # … and the run still worked: every environment got its results, the loopback one passed
    first = guarded["first"]
    assert all(r.passed or r.failed or r.skipped for r in first.values())
    assert first["local"].ok


@pytest.mark.integration
def test_the_socket_guard_does_catch_connections(guarded: dict[str, Any], tmp_path: Path) -> None:
    """The guard used above is not a no-op: connections and name lookups are caught."""
    netlog = tmp_path / "net.log"
    code = (
        "import socket\n"
        "try:\n    socket.getaddrinfo('api0.prismacloud.io', 443)\nexcept OSError:\n    pass\n"
        "socket.socket().connect(('192.0.2.1', 443))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(guarded["guard_dir"]), "NETGUARD_LOG": str(netlog)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0 and "network guard" in done.stderr
    assert "getaddrinfo 'api0.prismacloud.io'" in netlog.read_text()
    assert "connect ('192.0.2.1', 443)" in netlog.read_text()


@pytest.mark.integration
def test_static_scan(tmp_path: Path) -> None:
    project = Project(root=REPO_ROOT, home=tmp_path / "home")
    result = scan_static(
        project,
        FIXTURES / "static",
        skips=(PolicySkip("CKV_EPH_6", "checked by the plan gate"),),
    )
    ours = {
        status: {(c, r) for c, r, *_ in found if c.startswith("CKV_EPH_")}
        for status, found in sets(result).items()
    }
    assert ours == {
        "passed": {
            ("CKV_EPH_3", "aws_s3_bucket.scratch"),
            ("CKV_EPH_4", "aws_cloudwatch_log_group.app"),
            ("CKV_EPH_2", "aws_security_group.web"),
            ("CKV_EPH_7", "aws_lb_listener.guarded"),
        },
        "failed": {
            ("CKV_EPH_3", "aws_s3_bucket.kept"),
            ("CKV_EPH_2", "aws_security_group.ssh"),
            ("CKV_EPH_7", "aws_lb_listener.open"),
        },
        "skipped": {
            ("CKV_EPH_4", "aws_cloudwatch_log_group.audit"),  # inline #checkov:skip
            ("CKV_EPH_6", "terraform_data.mock_api"),  # skips=
        },
    }
    reasons = {
        f.check_id: (reason, result.skipped_by(f))
        for f, reason in result.skipped
        if "_EPH_" in f.check_id
    }
    assert reasons == {
        "CKV_EPH_4": ("kept for the audit trail", "in code"),
        "CKV_EPH_6": ("checked by the plan gate", "policy.skip"),
    }
    assert result.env == "tests/fixtures/policy/static"
    assert {f.file for f in result.failed} == {"tests/fixtures/policy/static/main.tf"}
    assert not result.cached
