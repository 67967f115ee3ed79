"""The resident checker (ephemera.gate.checkovd): real checkov, loaded once in a real
process, each scan a fork of it. It answers exactly what a checkov process of its own
answers, one checker serves scan after scan, a checker that dies is replaced, it
leaves when idle, and it lives only in a directory nobody else can enter."""

from __future__ import annotations

import os
import shutil
import signal
import stat
from pathlib import Path

import pytest

from ephemera.gate import checkov, policy, policycache
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
