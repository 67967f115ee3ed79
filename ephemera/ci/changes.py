"""Which environments a change between two git revisions affects.

An environment is affected when what Ephemera would hand Terraform for it
differs between the two revisions. Nothing here is a hand-kept list of path
globs: both revisions are exported from git (`git archive`, into temporary
directories that are removed afterwards), every environment of each revision
is validated and rendered exactly as a deploy would (`config.load_environment`,
`render.render`), and the results are compared per environment name. So:

- a stack, a module it calls (followed transitively) or a template change
  reaches exactly the environments whose rendered files change;
- a YAML comment or a key reordering changes nothing (the merged document is
  compared as canonical JSON, and the rendered tfvars are sorted);
- `_defaults.yaml` reaches every environment whose merged document changes.

What is compared, per environment (its *fingerprint*):

- every file `render` writes into the work directory: `terraform.tfvars`,
  `backend.hcl` and the stack snapshot under `tf/` (the files
  `render.inputs_digest` covers; also the stack's committed
  `.terraform.lock.hcl`, because a provider upgrade changes the plan);
- the merged environment document (name, owner, ttl, protected, policy skips
  …), as canonical JSON: a ttl or owner change affects the environment even
  though Terraform's inputs may not change, because the lease does;
- the files its variables name: a string variable that is the relative path of
  a file in the checkout (e.g. `expectations_file: expectations/qa.json`)
  contributes that file's content, since the stack reads it.

Path independence. `render` puts absolute paths into the rendered files: the
provided variables `project_root` and `runtime_dir` in the tfvars, the local
state path in `backend.hcl`. The two revisions are exported to two different
temporary directories, so these paths differ. We do *not* render both
revisions into one reused directory: `config`, `stackvars`, `stackfiles` and
Jinja cache what they read by path and modification time, and two checkouts
written into the same path within one timestamp tick could be served from the
cache of the other revision. Instead each revision lives in its own directory
(`<tmp>/<label>/repo`, runtime home `<tmp>/<label>/home`), and the fingerprint
replaces those two directories with fixed placeholders (`@PROJECT_ROOT@`,
`@EPHEMERA_HOME@`) before hashing. The digest therefore does not depend on
where a revision was checked out; `tests/ci/test_changes.py` checks this by
fingerprinting one revision at two different paths.

Only the environments a change can reach are fingerprinted (`candidates`): when every
path that differs between the revisions is an environment file, nothing else that is
rendered or compared changed, so only those environments, and any whose variables
name one of those files, are validated, rendered and compared at both revisions (the
others are searched for those files' names, and read as YAML when they hold one).
That keeps a pull request that edits one of 1,000 environment files about as cheap
as planning that one. Any other changed path (a stack, a template, `_defaults.yaml`,
a file a variable names, …) or a symlink in the tree means every environment is
compared. An environment that is invalid at both revisions, with the same file,
`_defaults.yaml` and problems, is not affected: the change did not touch it.

By default the base is the merge base of `base` and `head` (what a pull request
changes, as GitHub shows it: base...head). `ci_apply` compares the two commits
directly (`merge_base=False`): what changed on the branch between two pushes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from ephemera import config
from ephemera.ci.git import changed_paths, checkout, compare_range
from ephemera.config import stackvars
from ephemera.environment import Environment
from ephemera.errors import EphemeraError, ValidationError
from ephemera.project import Project
from ephemera.terraform.render import render

CREATE, UPDATE, DESTROY = "create", "update", "destroy"
ACTIONS = (CREATE, UPDATE, DESTROY)
ROOT_PLACEHOLDER, HOME_PLACEHOLDER = b"@PROJECT_ROOT@", b"@EPHEMERA_HOME@"
MAX_REFERENCED_FILE = 4 * 1024 * 1024  # bytes hashed per referenced file, at most


@dataclass(frozen=True)
class Change:
    """One affected environment.

    `action`: create (file added), update (inputs changed), destroy (file deleted).
    `problems`: the validation problems at head (non-empty: the environment is
    invalid at head and cannot be planned or applied).
    """

    env: str
    action: str
    stack: str
    reason: str
    problems: tuple[str, ...] = ()

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
        }


@dataclass(frozen=True)
class Fingerprint:
    """What identifies an environment's inputs: component name → sha256."""

    env: str
    stack: str
    parts: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        digest = hashlib.sha256()
        for name in sorted(self.parts):
            digest.update(name.encode() + b"\0" + self.parts[name].encode() + b"\n")
        return digest.hexdigest()


@dataclass(frozen=True)
class Revision:
    """Every environment of one revision: fingerprints of the valid ones, and
    the problems of the invalid ones."""

    commit: str
    fingerprints: dict[str, Fingerprint]
    invalid: dict[str, tuple[str, ...]]
    stacks: dict[str, str]  # env → stack, as written (also for invalid envs, when readable)
    # what an invalid environment was made of: its file, _defaults.yaml and its problems
    broken: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> set[str]:
        return set(self.fingerprints) | set(self.invalid)


# ---------------------------------------------------------------------- fingerprints


def _normalised(data: bytes, prefixes: list[tuple[bytes, bytes]]) -> bytes:
    for prefix, placeholder in prefixes:
        data = data.replace(prefix, placeholder)
    return data


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _referenced_files(value: Any, root: Path) -> Iterator[str]:
    """Relative paths of existing files in `root` named by string values in `value`."""
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _referenced_files(item, root)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _referenced_files(item, root)
    elif isinstance(value, str) and 0 < len(value) < 512 and "\n" not in value:
        if value.startswith(("/", "~")) or "://" in value:
            return
        try:
            candidate = (root / value).resolve()
            candidate.relative_to(root)
        except (OSError, ValueError):
            return
        if candidate.is_file():
            yield candidate.relative_to(root).as_posix()


def fingerprint(env: Environment, project: Project) -> Fingerprint:
    """Render `env` (into `project.home`) and fingerprint what was rendered,
    with the checkout-dependent path prefixes replaced by a placeholder."""
    declared = set(stackvars.stack_variables(project, env.stack))
    rendered = render(env, project, declared)
    prefixes = sorted(
        [
            (str(project.home).encode(), HOME_PLACEHOLDER),
            (str(project.root).encode(), ROOT_PLACEHOLDER),
        ],
        key=lambda pair: len(pair[0]),
        reverse=True,  # the longer first, in case one contains the other
    )
    parts: dict[str, str] = {}
    for path in sorted(rendered.work_dir.rglob("*")):
        if path.is_file():
            relative = path.relative_to(rendered.work_dir).as_posix()
            if relative.startswith("tf/"):
                name = "terraform/" + relative[3:]
            else:
                name = "rendered/" + relative
            parts[name] = _sha(_normalised(path.read_bytes(), prefixes))
    for key, value in env.document.items():
        text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
        parts[f"settings/{key}"] = _sha(text.encode())
    for relative in sorted(set(_referenced_files(env.variables, project.root))):
        with (project.root / relative).open("rb") as handle:
            parts[f"file/{relative}"] = _sha(handle.read(MAX_REFERENCED_FILE))
    return Fingerprint(env=env.name, stack=env.stack, parts=parts)


def _raw_stack(project: Project, name: str) -> str:
    """The `stack:` of an environment file that may not validate (its own, else
    _defaults.yaml's; "" if unreadable)."""
    try:
        stack = config.merged_document(project, name).get("stack")
    except EphemeraError:
        return ""
    return stack if isinstance(stack, str) else ""


def _problems(exc: EphemeraError) -> tuple[str, ...]:
    if isinstance(exc, ValidationError):
        return tuple(str(p) for p in exc.problems)
    return tuple(exc.message.splitlines()) or (type(exc).__name__,)


def scan_revision(project: Project, commit: str = "", only: set[str] | None = None) -> Revision:
    """Validate and fingerprint every environment of a checkout (or those in `only`)."""
    fingerprints: dict[str, Fingerprint] = {}
    invalid: dict[str, tuple[str, ...]] = {}
    stacks: dict[str, str] = {}
    broken: dict[str, str] = {}
    names = project.known_environments()
    for name in names if only is None else [n for n in names if n in only]:
        try:
            env = config.load_environment(project, name)
            stacks[name] = env.stack
            fingerprints[name] = fingerprint(env, project)
        except EphemeraError as exc:
            invalid[name] = _problems(exc)
        except (jinja2.TemplateError, OSError, UnicodeDecodeError) as exc:
            invalid[name] = (f"{name}: render failed: {type(exc).__name__}: {exc}",)
        if name not in stacks:
            stacks[name] = _raw_stack(project, name)
        if name in invalid:
            broken[name] = _broken(project, name, invalid[name])
    return Revision(commit, fingerprints, invalid, stacks, broken)


def _broken(project: Project, name: str, problems: tuple[str, ...]) -> str:
    """sha256 over an invalid environment's file, _defaults.yaml and its problems: the
    same at both revisions means the change did not touch it (it is not affected)."""
    digest = hashlib.sha256("\n".join(problems).encode())
    for path in (project.environment_file(name), project.defaults_file):
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()


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
    if _may_name(head.defaults_file, named):
        return None  # the defaults could name one for everybody: compare everything
    for name in head.known_environments():
        if name in reached or not _may_name(head.environment_file(name), named):
            continue
        if _names_any(head, name, set(changed)):
            reached.add(name)
    return reached


def _has_symlinks(root: Path) -> bool:
    for top, dirs, files in os.walk(root):
        if any(os.path.islink(os.path.join(top, entry)) for entry in (*dirs, *files)):
            return True
    return False


def _may_name(path: Path, names: set[str]) -> bool:
    """Whether the YAML file's text could hold a value naming one of the files `names`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return path.exists()  # unreadable but there: assume it might
    return "\\" in text or any(name in text for name in names)


def _names_any(project: Project, name: str, paths: set[str]) -> bool:
    """Whether the environment's variables name one of `paths` (as the fingerprint
    reads them: `_referenced_files`); unreadable files name nothing (they are invalid
    at both revisions, and the same)."""
    try:
        variables = config.merged_document(project, name).get("variables")
    except EphemeraError:
        return False
    return not paths.isdisjoint(_referenced_files(variables, project.root))


# ----------------------------------------------------------------------- comparing


def _describe(before: Fingerprint, after: Fingerprint, limit: int = 4) -> str:
    """Why two fingerprints differ, e.g. `settings: ttl; terraform: modules/x/main.tf`."""
    names = sorted(set(before.parts) | set(after.parts))
    differing = [n for n in names if before.parts.get(n) != after.parts.get(n)]
    groups: dict[str, list[str]] = {}
    for name in differing:
        group, _, rest = name.partition("/")
        groups.setdefault(group, []).append(rest)
    labels = {
        "settings": "settings",
        "rendered": "rendered",
        "terraform": "terraform",
        "file": "referenced files",
    }
    pieces = []
    for group in ("settings", "rendered", "terraform", "file"):
        items = groups.get(group)
        if not items:
            continue
        shown = ", ".join(items[:limit]) + (
            f" (+{len(items) - limit} more)" if len(items) > limit else ""
        )
        pieces.append(f"{labels[group]}: {shown}")
    if before.stack != after.stack:
        pieces.insert(0, f"stack {before.stack} → {after.stack}")
    return "; ".join(pieces) or "inputs changed"


def compare(base: Revision, head: Revision) -> list[Change]:
    """The affected environments, sorted by name."""
    changes: list[Change] = []
    for name in sorted(base.names | head.names):
        in_base, in_head = name in base.names, name in head.names
        stack = head.stacks.get(name) or base.stacks.get(name, "")
        if not in_head:
            changes.append(
                Change(name, DESTROY, base.stacks.get(name, ""), "environment file deleted")
            )
            continue
        action = UPDATE if in_base else CREATE
        if name in head.invalid:
            if in_base and base.broken.get(name) == head.broken.get(name):
                continue  # invalid before, and this change did not touch it
            changes.append(Change(name, action, stack, "invalid at head", head.invalid[name]))
            continue
        after = head.fingerprints[name]
        if not in_base:
            changes.append(Change(name, CREATE, after.stack, "environment file added"))
        elif name in base.invalid:
            changes.append(Change(name, UPDATE, after.stack, "was invalid at base"))
        elif base.fingerprints[name].digest != after.digest:
            reason = _describe(base.fingerprints[name], after)
            changes.append(Change(name, UPDATE, after.stack, reason))
    return changes


def compare_commits(repo_root: Path, base_commit: str, head_commit: str) -> list[Change]:
    """The affected environments between two resolved commits."""
    if base_commit == head_commit:
        return []
    changed = changed_paths(repo_root, base_commit, head_commit)
    with (
        checkout(repo_root, base_commit, "base") as before,
        checkout(repo_root, head_commit, "head") as after,
    ):
        only = candidates(changed, after)
        return compare(
            scan_revision(before, base_commit, only), scan_revision(after, head_commit, only)
        )


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


def matrix(changes: list[Change]) -> dict[str, list[dict[str, str]]]:
    """A GitHub Actions matrix: `{"include": [{"env": ..., "action": ...}, ...]}`."""
    return {"include": [{"env": c.env, "action": c.action} for c in changes]}


def matrix_json(repo_root: Path, base: str, head: str = "HEAD", *, merge_base: bool = False) -> str:
    """The matrix as one line of JSON (for `$GITHUB_OUTPUT`). Compares the two
    commits directly by default, as apply-on-push does."""
    changes = affected_environments(repo_root, base, head, merge_base=merge_base)
    return json.dumps(matrix(changes), separators=(",", ":"))
