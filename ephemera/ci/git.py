"""The git side of CI: resolving revisions (with a hint for shallow clones), the range a
pull request or a push compares, and a revision exported to a scratch directory as a
Project of its own (`checkout`)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ephemera.errors import UsageError
from ephemera.project import Project


def _git(repo_root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo_root), *args],
        capture_output=True,
        text=True,
        check=check,
        stdin=subprocess.DEVNULL,
    )


def _is_shallow(repo_root: Path) -> bool:
    result = _git(repo_root, "rev-parse", "--is-shallow-repository", check=False)
    return result.stdout.strip() == "true"


def resolve_commit(repo_root: Path, rev: str) -> str:
    """The full commit id of `rev`; UsageError when it cannot be resolved here."""
    if not rev or rev.startswith("-") or rev.strip("0") == "":
        raise UsageError(
            f"{rev or '(empty)'}: not a usable revision (the zero commit means there is "
            "no previous revision, e.g. the first push of a branch)"
        )
    if _git(repo_root, "rev-parse", "--git-dir", check=False).returncode != 0:
        raise UsageError(f"{repo_root}: not a git repository")
    result = _git(repo_root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if result.returncode != 0:
        hint = _shallow_hint(repo_root)
        raise UsageError(f"{rev}: unknown revision in {repo_root}{hint}")
    return result.stdout.strip()


def _shallow_hint(repo_root: Path) -> str:
    if not _is_shallow(repo_root):
        return ""
    return "; this clone is shallow: fetch the history (actions/checkout with fetch-depth: 0)"


def merge_base(repo_root: Path, base: str, head: str) -> str:
    result = _git(repo_root, "merge-base", base, head, check=False)
    if result.returncode != 0:
        hint = _shallow_hint(repo_root)
        raise UsageError(f"{base[:12]}..{head[:12]}: the revisions have no common ancestor{hint}")
    return result.stdout.strip()


def compare_range(
    repo_root: Path, base: str, head: str, *, use_merge_base: bool
) -> tuple[str, str]:
    """(base commit, head commit) to compare; UsageError when they cannot be computed."""
    repo_root = Path(repo_root)
    head_commit = resolve_commit(repo_root, head)
    base_commit = resolve_commit(repo_root, base)
    if use_merge_base:
        base_commit = merge_base(repo_root, base_commit, head_commit)
    return base_commit, head_commit


def changed_paths(repo_root: Path, base: str, head: str, paths: tuple[str, ...] = ()) -> list[str]:
    """The files under `paths` (relative to the project root; none: the whole project)
    that differ between the two commits, relative to the project root, sorted; both
    sides of a rename."""
    listed = _git(
        Path(repo_root),
        *("diff", "--name-only", "--relative", "--no-renames", "-z", base, head, "--", *paths),
    )
    return sorted(path for path in listed.stdout.split("\0") if path)


def project_prefix(repo_root: Path) -> str:
    """Where the project is inside its git repository ("" at the top, else "infra/")."""
    result = _git(Path(repo_root), "rev-parse", "--show-prefix", check=False)
    return result.stdout.strip() if result.returncode == 0 else ""


def export_revision(repo_root: Path, commit: str, dest: Path, prefix: str = "") -> Path:
    """Extract the project tree of `commit` (the `prefix` subdirectory of the
    repository, if the project is not at its top) into `dest` (git archive; no
    worktree metadata)."""
    tree = f"{commit}:{prefix.rstrip('/')}" if prefix else commit
    top = _git(Path(repo_root), "rev-parse", "--show-toplevel", check=False).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", top or str(repo_root), "archive", "--format=tar", tree],
        capture_output=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip()
        raise UsageError(f"{commit[:12]}: git archive {prefix or '.'} failed: {message}")
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def scratch_parent() -> str | None:
    """Where scratch checkouts go: `EPHEMERA_SCRATCH`, else /dev/shm when usable
    (a render writes a few hundred small files per revision, and a memory
    filesystem makes that several times faster on a busy disk), else the
    default temporary directory."""
    configured = os.environ.get("EPHEMERA_SCRATCH")
    if configured:
        return configured
    shm = "/dev/shm"  # noqa: S108 - a private mkdtemp directory is created inside
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return None


@contextmanager
def checkout(repo_root: Path, commit: str, label: str = "rev") -> Iterator[Project]:
    """A Project of `commit`, exported to a temporary directory with its own
    runtime home; both are removed on exit. `repo_root` is the project root: the
    top of the git repository or a directory inside it."""
    scratch = Path(tempfile.mkdtemp(prefix=f"ephemera-{label}-", dir=scratch_parent()))
    try:
        prefix = project_prefix(Path(repo_root))
        root = export_revision(Path(repo_root), commit, scratch / "repo", prefix)
        yield Project.discover(root=root, home=scratch / "home")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def require_checked_out(repo_root: Path, head: str) -> str:
    """The commit of `head`; UsageError unless it is the commit checked out in repo_root."""
    head_commit = resolve_commit(repo_root, head)
    current = resolve_commit(repo_root, "HEAD")
    if head_commit != current:
        raise UsageError(
            f"{head}: CI plans and applies the checked-out tree, but {repo_root} has "
            f"{current[:12]} checked out, not {head_commit[:12]}; check out {head} first"
        )
    return head_commit
