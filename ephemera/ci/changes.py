"""Which environments a change between two git revisions affects.

An environment is affected when what Ephemera would hand Terraform for it differs
between the two revisions. Nothing here is a hand-kept list of path globs: both
revisions are exported from git (`git archive`, into temporary directories that are
removed afterwards), every environment of each revision is validated and rendered
exactly as a deploy would (`config.load_environment`, `render.render`), and the
results are compared per environment name by their fingerprints
(`ephemera.ci.fingerprint`). So:

- a stack, a module it calls (followed transitively) or a template change
  reaches exactly the environments whose rendered files change;
- a YAML comment or a key reordering changes nothing (the merged document is
  compared as canonical JSON, and the rendered tfvars are sorted);
- `_defaults.yaml` reaches every environment whose merged document changes;
- an environment that cannot be rendered (invalid, or an aws target whose control
  plane is not configured) is fingerprinted from its sources: it is affected only
  when they change. An environment whose inputs did not change is not affected,
  valid or not.

Each change carries the environment's target and, for one CI neither plans nor
applies (`ephemera.ci.targets`: a local target, an unconfigured aws one), why.

Only the environments a change can reach are fingerprinted (`candidates`): when every
path that differs between the revisions is an environment file, nothing else that is
rendered or compared changed, so only those environments, and any whose variables
name one of those files, are validated, rendered and compared at both revisions (the
others are searched for those files' names, and read as YAML when they hold one).
That keeps a pull request that edits one of 1,000 environment files about as cheap
as planning that one. Any other changed path (a stack, a template, `_defaults.yaml`,
a file a variable names, …) or a symlink in the tree means every environment is
compared.

By default the base is the merge base of `base` and `head` (what a pull request
changes, as GitHub shows it: base...head). `ci_apply` compares the two commits
directly (`merge_base=False`): what changed on the branch between two pushes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ephemera import config
from ephemera.ci import targets
from ephemera.ci.fingerprint import (
    Fingerprint,
    describe,
    fingerprint,
    referenced_files,
    source_fingerprint,
)
from ephemera.ci.git import changed_paths, checkout, compare_range
from ephemera.config import documents
from ephemera.errors import EphemeraError, Problem, ValidationError
from ephemera.project import Project

CREATE, UPDATE, DESTROY = "create", "update", "destroy"
GATE = "gate"  # only the gate's inputs changed (ephemera.ci.gateinputs): gated, not applied
ACTIONS = (CREATE, UPDATE, DESTROY, GATE)


@dataclass(frozen=True)
class Change:
    """One affected environment.

    `action`: create (file added), update (inputs changed), destroy (file deleted),
    gate (only the gate's inputs changed).
    `problems`: the validation problems at head (non-empty: the environment is
    invalid at head and cannot be planned or applied). `not_planned`: why CI neither
    plans nor applies it (its target), "" when it does.
    """

    env: str
    action: str
    stack: str
    reason: str
    problems: tuple[str, ...] = ()
    target: str = ""
    not_planned: str = ""

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "action": self.action,
            "stack": self.stack,
            "reason": self.reason,
            "problems": list(self.problems),
            "target": self.target,
            "not_planned": self.not_planned,
        }


@dataclass(frozen=True)
class Revision:
    """Every environment of one revision: a fingerprint each (rendered for the valid
    ones, from the sources for the others), the problems of the invalid ones, and the
    aws ones whose control plane is not configured (env → the row saying so)."""

    commit: str
    fingerprints: dict[str, Fingerprint]
    invalid: dict[str, tuple[str, ...]]
    stacks: dict[str, str]  # env → stack, as written (also for invalid envs, when readable)
    targets: dict[str, str] = field(default_factory=dict)  # env → target, when readable
    unconfigured: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return set(self.fingerprints) | set(self.invalid)

    def not_planned(self, name: str) -> str:
        """Why CI neither plans nor applies `name` ("" when it does)."""
        if name in self.unconfigured:
            return self.unconfigured[name]
        return targets.LOCAL if self.targets.get(name) == "local" else ""


@dataclass(frozen=True)
class Comparison:
    """Two scanned revisions and the environments affected between them."""

    base: Revision
    head: Revision
    changes: list[Change]


def _problems(exc: EphemeraError) -> list[Problem | str]:
    if isinstance(exc, ValidationError):
        return list(exc.problems)
    return list(exc.message.splitlines()) or [type(exc).__name__]


def _unrenderable(project: Project, name: str, exc: EphemeraError) -> tuple[str, str]:
    """("unconfigured", row) when the only problem is the missing aws control plane,
    else ("invalid", problems as one text per line)."""
    problems = _problems(exc)
    missing = targets.unconfigured(project, name)
    rest = [
        p
        for p in problems
        if not (isinstance(p, Problem) and targets.control_plane_problem(project, name, p))
    ]
    if missing and not rest:
        return "unconfigured", targets.not_configured(missing)
    return "invalid", "\n".join(str(p) for p in problems)


def scan_revision(project: Project, commit: str = "", only: set[str] | None = None) -> Revision:
    """Validate and fingerprint every environment of a checkout (or those in `only`)."""
    revision = Revision(commit=commit, fingerprints={}, invalid={}, stacks={})
    names = project.known_environments()
    for name in names if only is None else [n for n in names if n in only]:
        try:
            env = config.load_environment(project, name)
            revision.stacks[name], revision.targets[name] = env.stack, env.target
            revision.fingerprints[name] = fingerprint(env, project)
            continue
        except EphemeraError as exc:
            kind, text = _unrenderable(project, name, exc)
        except (jinja2.TemplateError, OSError, UnicodeDecodeError) as exc:
            kind, text = "invalid", f"{name}: render failed: {type(exc).__name__}: {exc}"
        if kind == "unconfigured":
            revision.unconfigured[name] = text
        else:
            revision.invalid[name] = tuple(text.splitlines())
        merged = targets.merged_document(project, name)
        stack = merged.get("stack") if isinstance(merged.get("stack"), str) else ""
        revision.stacks[name] = stack
        if isinstance(merged.get("target"), str):
            revision.targets[name] = merged["target"]
        revision.fingerprints[name] = source_fingerprint(
            project, name, stack, merged.get("variables")
        )
    return revision


def fingerprint_revision(
    repo_root: Path, commit: str, label: str = "rev", only: set[str] | None = None
) -> Revision:
    with checkout(repo_root, commit, label) as project:
        return scan_revision(project, commit, only)


ENV_FILE = re.compile(r"environments/([^/_][^/]*)\.yaml")


def candidates(changed: list[str], head: Project) -> set[str] | None:
    """The environments a change can reach, when the changed paths (relative to the
    project) tell (see the module docstring): the changed environment files and those
    whose variables name one of them. None: all of them.

    An environment that did not change is the same at both revisions, so `head` alone
    says what it names; and a value can name a file only by its name (its text holds
    the file's name, or an escape in a double-quoted string) unless a symlink gives the
    file another name: with a symlink in the tree, everything is compared."""
    matches = [ENV_FILE.fullmatch(path) for path in changed]
    if not all(matches) or _has_symlinks(head.root):
        return None
    reached = {match.group(1) for match in matches if match}
    named = {Path(path).name for path in changed}
    # A deleted file is named only at base, which `_names_any` (reading head) cannot see:
    # its name in the text is enough.
    gone = {Path(path).name for path in changed if not (head.root / path).exists()}
    if documents.may_spell(head.defaults_file, named):
        return None  # the defaults could name one for everybody: compare everything
    for name in head.known_environments():
        path = head.environment_file(name)
        if name in reached or not documents.may_spell(path, named):
            continue
        if (gone and documents.may_spell(path, gone)) or _names_any(head, name, set(changed)):
            reached.add(name)
    return reached


def _has_symlinks(root: Path) -> bool:
    for top, dirs, files in os.walk(root):
        if any(os.path.islink(os.path.join(top, entry)) for entry in (*dirs, *files)):
            return True
    return False


def _names_any(project: Project, name: str, paths: set[str]) -> bool:
    """Whether the environment's variables name one of `paths`, as the fingerprint reads
    them (`referenced_files`); an unreadable file names nothing (it is the same at both
    revisions, and so is its fingerprint)."""
    variables = targets.merged_document(project, name).get("variables")
    return not paths.isdisjoint(referenced_files(variables, project.root))


# ----------------------------------------------------------------------- comparing


def _reason(before: Fingerprint | None, name: str, base: Revision, head: Revision) -> str:
    if name in head.invalid:
        return "invalid at head"
    if before is None:
        return "environment file added"
    if name in base.invalid:
        return "was invalid at base"
    return describe(before, head.fingerprints[name])


def compare(base: Revision, head: Revision) -> list[Change]:
    """The affected environments, sorted by name: those whose fingerprint differs."""
    changes: list[Change] = []
    for name in sorted(base.names | head.names):
        if name not in head.names:
            changes.append(
                Change(
                    name,
                    DESTROY,
                    base.stacks.get(name, ""),
                    "environment file deleted",
                    target=base.targets.get(name, ""),
                    not_planned=base.not_planned(name),
                )
            )
            continue
        before, after = base.fingerprints.get(name), head.fingerprints[name]
        if before is not None and before.digest == after.digest:
            continue  # unchanged inputs: not affected, valid or not
        changes.append(
            Change(
                name,
                UPDATE if name in base.names else CREATE,
                head.stacks.get(name) or base.stacks.get(name, ""),
                _reason(before, name, base, head),
                head.invalid.get(name, ()),
                target=head.targets.get(name, ""),
                not_planned=head.not_planned(name),
            )
        )
    return changes


def compare_revisions(repo_root: Path, base_commit: str, head_commit: str) -> Comparison:
    """Both revisions scanned (only what the change can reach: `candidates`), and the
    environments affected between them."""
    if base_commit == head_commit:
        before = fingerprint_revision(repo_root, base_commit, "base")
        return Comparison(before, before, compare(before, before))
    changed = changed_paths(repo_root, base_commit, head_commit)
    with (
        checkout(repo_root, base_commit, "base") as base,
        checkout(repo_root, head_commit, "head") as head,
    ):
        only = candidates(changed, head)
        before = scan_revision(base, base_commit, only)
        after = scan_revision(head, head_commit, only)
    return Comparison(before, after, compare(before, after))


def compare_commits(repo_root: Path, base_commit: str, head_commit: str) -> list[Change]:
    """The affected environments between two resolved commits."""
    if base_commit == head_commit:
        return []
    return compare_revisions(repo_root, base_commit, head_commit).changes


def affected_environments(
    repo_root: Path, base: str, head: str = "HEAD", *, merge_base: bool = True
) -> list[Change]:
    """The environments whose inputs differ between `base` and `head`.

    `merge_base`: compare head against the merge base of the two (what a pull
    request changes); False compares the two commits directly. UsageError when
    a revision cannot be resolved (unknown, or missing from a shallow clone).
    """
    repo_root = Path(repo_root)
    base_commit, head_commit = compare_range(repo_root, base, head, use_merge_base=merge_base)
    return compare_commits(repo_root, base_commit, head_commit)
