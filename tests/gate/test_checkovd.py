"""The resident checker (ephemera.gate.checkovd): real checkov, loaded once in a real
process, each scan a fork of it. It answers exactly what a checkov process of its own
answers, one checker serves scan after scan, a checker that dies is replaced, it
leaves when idle, and it lives only in a directory nobody else can enter."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest

from ephemera.errors import UsageError
from ephemera.gate import checkov, checkovd, policy, policycache
from ephemera.project import Project
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
PLANS = REPO_ROOT / "tests" / "fixtures" / "policy"


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A runtime directory of this test's own (so its checkers are its own), checkers
    that leave 30 s after their last scan, the real checkov, an empty policy cache."""
    if not CHECKOV.is_file():
        pytest.skip("checkov is not installed in .venv-checkov (make setup)")
    directory = tmp_path / "runtime"
    directory.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(directory))
    monkeypatch.setenv("EPHEMERA_CHECKOV", str(CHECKOV))
    monkeypatch.setenv("EPHEMERA_CHECKOV_IDLE", "30")
    monkeypatch.setattr(checkov, "_RESIDENTS", {})
    return directory / "ephemera"


def checkers(runtime: Path) -> list[int]:
    """The checker processes serving a socket in `runtime`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        serving = any(arg.endswith(b"checkovd.py") for arg in argv)
        if serving and str(runtime).encode() in b" ".join(argv):
            found.append(int(cmdline.parent.name))
    return found


def scan(tmp_path: Path, *names: str) -> dict[str, dict[str, set]]:
    project = Project(root=REPO_ROOT, home=tmp_path / "home")
    shutil.rmtree(policycache.cache_dir(project), ignore_errors=True)
    results = policy.check_plans(project, {n: PLANS / f"{n}.plan.json" for n in names}, {})
    assert not any(r.cached for r in results.values())
    return {
        name: {
            "passed": {(f.check_id, f.resource) for f in r.passed},
            "failed": {(f.check_id, f.resource) for f in r.failed},
        }
        for name, r in results.items()
    }


def test_it_answers_what_a_checkov_process_answers(
    runtime: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ("bind.fail", "ecs.fail", "ingress.pass")
    resident = scan(tmp_path, *names)
    assert len(checkers(runtime)) == 1
    monkeypatch.setenv("EPHEMERA_CHECKOV_IDLE", "0")  # no checker: checkov as a process
    assert scan(tmp_path, *names) == resident
    assert resident["bind.fail"]["failed"] and resident["ingress.pass"]["passed"]


def test_one_checker_serves_scan_after_scan(runtime: Path, tmp_path: Path) -> None:
    scan(tmp_path, "bind.fail")
    first = checkers(runtime)
    scan(tmp_path, "ecs.pass")
    scan(tmp_path, "control.fail")
    assert checkers(runtime) == first and len(first) == 1


def test_a_checker_that_died_is_replaced(runtime: Path, tmp_path: Path) -> None:
    before = scan(tmp_path, "bind.fail")
    (pid,) = checkers(runtime)
    os.kill(pid, signal.SIGKILL)
    checker = checkov.resident(str(CHECKOV))
    assert checker is not None and checker.starting is not None
    checker.starting.wait(timeout=30)  # reaped: it is ours
    assert scan(tmp_path, "bind.fail") == before
    assert checkers(runtime) not in ([], [pid])


def test_it_leaves_when_idle(
    runtime: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPHEMERA_CHECKOV_IDLE", "1")
    scan(tmp_path, "bind.pass")
    checker = checkov.resident(str(CHECKOV))
    assert checker is not None and checker.starting is not None
    assert checker.starting.wait(timeout=120) == 0
    assert not checker.path.exists()


def test_it_lives_in_a_private_directory(runtime: Path, tmp_path: Path) -> None:
    scan(tmp_path, "bind.pass")
    checker = checkov.resident(str(CHECKOV))
    assert checker is not None
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert stat.S_IMODE(checker.path.stat().st_mode) == 0o600
    assert stat.S_ISSOCK(checker.path.stat().st_mode)


def test_no_checker_in_a_directory_others_can_enter(runtime: Path, tmp_path: Path) -> None:
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o755)
    assert checkov.resident(str(CHECKOV)) is None
    assert scan(tmp_path, "bind.fail")["bind.fail"]["failed"]  # checkov ran as a process
    assert checkers(runtime) == []


def test_a_wrapper_script_runs_as_itself(runtime: Path, tmp_path: Path) -> None:
    wrapper = tmp_path / "bin" / "checkov"
    wrapper.parent.mkdir()
    interpreter = CHECKOV.read_text().splitlines()[0]
    wrapper.write_text(f"{interpreter}\nimport os, sys\nos.execv({str(CHECKOV)!r}, sys.argv)\n")
    wrapper.chmod(0o755)
    assert checkov.resident(str(wrapper)) is None


def test_two_checkers_started_at_once_leave_one(runtime: Path, tmp_path: Path) -> None:
    """Both load checkov, then race to bind: the lock beside the socket lets one serve
    and the other leave (without it both bind, and the first is unreachable)."""
    checker = checkov.resident(str(CHECKOV))
    assert checker is not None
    argv = [checker.interpreter, "-P", checkovd.__file__, str(checker.path), "30"]
    both = [subprocess.Popen(argv, cwd=tmp_path) for _ in range(2)]
    try:
        loser = _first_to_exit(both)
        assert loser.returncode == 0
        (winner,) = [p for p in both if p is not loser]
        assert winner.poll() is None and checkers(runtime) == [winner.pid]
        assert scan(tmp_path, "bind.fail")["bind.fail"]["failed"]  # the winner answers
        assert checkers(runtime) == [winner.pid]
    finally:
        for process in both:
            process.kill()
            process.wait()


def _first_to_exit(processes: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    for _ in range(1200):  # a fail-safe of 120 s: the loser leaves once checkov is loaded
        for process in processes:
            if process.poll() is not None:
                return process
        time.sleep(0.1)
    raise AssertionError("neither checker left")


SLOW_CHECK = """
import time
time.sleep(600)  # a custom check that never finishes loading
"""


def test_a_scan_its_caller_gave_up_on_is_killed(runtime: Path, tmp_path: Path) -> None:
    checks = tmp_path / "slow-checks"
    checks.mkdir()
    (checks / "__init__.py").write_text("")
    (checks / "slow.py").write_text(SLOW_CHECK)
    plan = tmp_path / "plan"
    plan.mkdir()
    shutil.copy(PLANS / "bind.pass.plan.json", plan / "tfplan.json")
    scan(tmp_path, "bind.pass")  # the checker is up
    (server,) = checkers(runtime)
    checker = checkov.resident(str(CHECKOV))
    assert checker is not None
    home = tmp_path / "home"
    argv = ["-f", str(plan / "tfplan.json"), "--external-checks-dir", str(checks), "-o", "json"]
    with pytest.raises(TimeoutError):
        checker.scan(argv, checkov.environment(home), home, timeout=1.0)
    assert len(checkers(runtime)) > 1  # the fork stuck in the scan (and checkov's workers)
    for _ in range(300):  # a fail-safe of 30 s: they are due to die a second after
        if checkers(runtime) == [server]:
            break
        time.sleep(0.1)
    assert checkers(runtime) == [server]


@pytest.mark.parametrize("text", ["abc", "-1", "inf", "nan"])
def test_a_bad_idle_setting_names_the_variable(
    runtime: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv("EPHEMERA_CHECKOV_IDLE", text)
    with pytest.raises(UsageError, match=r"EPHEMERA_CHECKOV_IDLE: expected seconds, 0 or more"):
        checkov.resident(str(CHECKOV))


def test_a_reinstalled_checkov_gets_a_new_checker(
    runtime: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip replacing a package changes site-packages: the old checker is not asked."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    site = venv / "lib" / "python3.11" / "site-packages"
    (site / "checkov-9.9.9.dist-info").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(CHECKOV.read_text().splitlines()[0][2:].strip())
    script = venv / "bin" / "checkov"
    script.write_text(f"#!{venv / 'bin' / 'python'}\n")
    script.chmod(0o755)
    before = checkov.resident(str(script))
    assert before is not None
    os.utime(site, ns=(site.stat().st_atime_ns, site.stat().st_mtime_ns + 10**9))
    monkeypatch.setattr(checkov, "_RESIDENTS", {})
    after = checkov.resident(str(script))
    assert after is not None and after.path != before.path
