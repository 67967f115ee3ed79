"""Which environments a change between two revisions affects (ephemera.ci.changes).

A fixture git repository with 30 environments over two stacks: svc-NN on the
fixture stack `ci-fixture` (which calls the module `ci-fixture-mod`) and api-NN
on the real `local-mock-api` stack. No Terraform runs: only validate + render.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ephemera.ci import changes, git, targets
from ephemera.ci.changes import CREATE, DESTROY, UPDATE
from ephemera.errors import UsageError
from tests.fixtures.ci.builder import FixtureRepo, make_repo, svc_text

SVC = [f"svc-{i:02d}" for i in range(15)]
API = [f"api-{i:02d}" for i in range(15)]


@pytest.fixture
def repo(tmp_path: Path) -> FixtureRepo:
    return make_repo(tmp_path / "repo")


def affected(repo: FixtureRepo, base: str) -> dict[str, changes.Change]:
    return {c.env: c for c in changes.affected_environments(repo.root, base)}


def edit(repo: FixtureRepo, relative: str, old: str, new: str) -> None:
    text = repo.read(relative)
    assert old in text, f"{old!r} not in {relative}"
    repo.write(relative, text.replace(old, new, 1))


def test_the_fixture_is_valid_and_unchanged_revisions_affect_nothing(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    with git.checkout(repo.root, base) as project:
        revision = changes.scan_revision(project, base)
    assert revision.invalid == {}
    assert sorted(revision.fingerprints) == sorted(SVC + API)
    repo.commit("empty")
    assert affected(repo, base) == {}


def test_changing_one_ttl_affects_only_that_environment(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-03.yaml", "ttl: 4h", "ttl: 6h")
    repo.commit()
    found = affected(repo, base)
    assert list(found) == ["svc-03"]
    change = found["svc-03"]
    assert (change.action, change.stack, change.valid) == (UPDATE, "ci-fixture", True)
    assert "ttl" in change.reason


def test_changing_a_module_affects_exactly_the_stacks_that_call_it(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(
        repo,
        "terraform/modules/ci-fixture-mod/main.tf",
        "index = count.index",
        'index = count.index\n    kind  = "replica"',
    )
    repo.commit()
    found = affected(repo, base)
    assert sorted(found) == SVC
    assert all(c.action == UPDATE for c in found.values())
    assert "modules/ci-fixture-mod/main.tf" in found["svc-00"].reason


def test_changing_a_stack_affects_only_its_environments(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(
        repo,
        "terraform/stacks/local-mock-api/outputs.tf",
        'description = "Base URL of the mock API."',
        'description = "Base URL of the local mock API."',
    )
    repo.commit()
    assert sorted(affected(repo, base)) == API


def test_a_yaml_comment_change_affects_nothing(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("environments/svc-04.yaml", svc_text("svc-04", 4, comment="# owned by team 1\n"))
    edit(repo, "environments/api-02.yaml", "port:", "port:   ")
    edit(repo, "environments/_defaults.yaml", "# Defaults under", "# The defaults under")
    repo.commit()
    assert repo.git("diff", "--stat", base, "HEAD")  # the files did change
    assert affected(repo, base) == {}


def test_reordering_keys_affects_nothing(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    lines = repo.read("environments/svc-05.yaml").splitlines(keepends=True)
    header, top = lines[0], lines[1:5]  # name, stack, owner, ttl
    rest = lines[5:]  # variables: (2 items), tags: (2 items)
    variables, tags = rest[:3], rest[3:]
    reordered = [header, *tags, variables[0], variables[2], variables[1], *reversed(top)]
    repo.write("environments/svc-05.yaml", "".join(reordered))
    repo.commit()
    assert repo.read("environments/svc-05.yaml") != svc_text("svc-05", 5)
    assert affected(repo, base) == {}


def test_a_deleted_environment_file_gives_destroy(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.remove("environments/api-07.yaml")
    repo.commit()
    found = affected(repo, base)
    assert list(found) == ["api-07"]
    assert (found["api-07"].action, found["api-07"].stack) == (DESTROY, "local-mock-api")


def test_an_added_environment_file_gives_create(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("environments/svc-new.yaml", svc_text("svc-new", 99))
    repo.commit()
    found = affected(repo, base)
    assert list(found) == ["svc-new"]
    assert (found["svc-new"].action, found["svc-new"].stack) == (CREATE, "ci-fixture")


def test_a_renamed_environment_is_a_destroy_and_a_create(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.remove("environments/svc-06.yaml")
    repo.write("environments/svc-six.yaml", svc_text("svc-six", 6))
    repo.commit()
    found = affected(repo, base)
    assert {n: c.action for n, c in found.items()} == {"svc-06": DESTROY, "svc-six": CREATE}


def test_a_template_change_affects_every_environment(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "templates/terraform.tfvars.j2", "Do not edit", "Never edit")
    repo.commit()
    found = affected(repo, base)
    assert sorted(found) == sorted(SVC + API)
    assert "terraform.tfvars" in found["api-00"].reason


def test_a_defaults_change_affects_the_environments_that_inherit_it(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/_defaults.yaml", "protected: false", "protected: true")
    repo.commit()
    assert sorted(affected(repo, base)) == sorted(SVC + API)


def test_a_referenced_file_change_affects_the_environments_naming_it(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    repo.write("expectations/shared.json", '[{"httpRequest": {"path": "/changed"}}]\n')
    repo.commit()
    found = affected(repo, base)
    assert sorted(found) == [f"api-{i:02d}" for i in range(0, 15, 2)]
    assert "expectations/shared.json" in found["api-00"].reason


def test_a_schema_only_change_affects_nothing(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    schema = json.loads(repo.read("schemas/environment.schema.json"))
    schema["description"] = schema.get("description", "") + " (edited)"
    repo.write("schemas/environment.schema.json", json.dumps(schema, indent=2) + "\n")
    repo.commit()
    assert affected(repo, base) == {}


def test_an_invalid_environment_at_head_is_reported_not_raised(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-08.yaml", "replicas: 1", "replicas: many")
    edit(repo, "environments/svc-09.yaml", "ttl: 4h", "ttl: 4h\nttl: 5h")  # duplicate key
    repo.commit()
    found = affected(repo, base)
    assert sorted(found) == ["svc-08", "svc-09"]
    for name in ("svc-08", "svc-09"):
        change = found[name]
        assert change.action == UPDATE and not change.valid
        assert change.stack == "ci-fixture"
        assert all(p.startswith(f"environments/{name}.yaml:") for p in change.problems)
    assert any("replicas" in p for p in found["svc-08"].problems)
    assert any("ttl" in p for p in found["svc-09"].problems)


def test_an_environment_fixed_at_head_is_an_update(repo: FixtureRepo) -> None:
    edit(repo, "environments/svc-10.yaml", "replicas: 1", "replicas: many")
    base = repo.commit("break svc-10")
    edit(repo, "environments/svc-10.yaml", "replicas: many", "replicas: 1")
    repo.commit("fix svc-10")
    found = affected(repo, base)
    assert list(found) == ["svc-10"]
    assert found["svc-10"].valid and found["svc-10"].action == UPDATE


def test_the_fingerprint_does_not_depend_on_the_checkout_path(repo: FixtureRepo) -> None:
    """project_root and runtime_dir (absolute paths) are in the tfvars, the state
    path in backend.hcl: the same revision exported twice, to two different
    directories, must still fingerprint the same."""
    head = repo.git("rev-parse", "HEAD")
    with git.checkout(repo.root, head, "one") as first:
        one = changes.scan_revision(first, head)
        tfvars = (first.work_dir("api-00") / "terraform.tfvars").read_text()
        assert str(first.root) in tfvars  # the raw files do differ per path
    with git.checkout(repo.root, head, "two") as second:
        two = changes.scan_revision(second, head)
    assert first.root != second.root
    assert {n: f.digest for n, f in one.fingerprints.items()} == {
        n: f.digest for n, f in two.fingerprints.items()
    }
    assert not first.root.exists() and not second.root.exists()  # cleaned up


def test_base_is_the_merge_base_by_default(repo: FixtureRepo) -> None:
    """A pull request is compared with where it branched off, so changes that
    landed on main meanwhile are not reported as the branch's."""
    fork = repo.git("rev-parse", "HEAD")
    repo.git("checkout", "-q", "-b", "feature")
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit("feature")
    repo.git("checkout", "-q", "main")
    edit(repo, "environments/svc-02.yaml", "ttl: 4h", "ttl: 3h")
    repo.commit("main moves on")
    repo.git("checkout", "-q", "feature")
    three_dot = changes.affected_environments(repo.root, "main", "feature")
    assert [c.env for c in three_dot] == ["svc-01"]
    two_dot = changes.affected_environments(repo.root, "main", "feature", merge_base=False)
    assert [c.env for c in two_dot] == ["svc-01", "svc-02"]
    assert fork


def test_an_untouched_invalid_environment_is_not_affected(repo: FixtureRepo) -> None:
    edit(repo, "environments/svc-08.yaml", "replicas: 1", "replicas: many")
    base = repo.commit("svc-08 is broken on main")
    edit(repo, "environments/svc-09.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit("a pull request that changes only svc-09")
    assert list(affected(repo, base)) == ["svc-09"]
    edit(repo, "environments/svc-08.yaml", "size: medium", "size: large")
    repo.commit("now svc-08's file changes too, still invalid")
    found = affected(repo, base)
    assert sorted(found) == ["svc-08", "svc-09"]
    assert found["svc-08"].reason == "invalid at head" and not found["svc-08"].valid


def test_an_aws_environment_without_its_control_plane_is_not_configured(
    repo: FixtureRepo,
) -> None:
    aws = svc_text("svc-aws", 2).replace("stack:", "target: aws\nregion: eu-west-1\nstack:")
    repo.write("environments/svc-aws.yaml", aws)
    base = repo.commit("an aws environment, no aws.state_bucket in _defaults.yaml")
    with git.checkout(repo.root, base) as project:
        revision = changes.scan_revision(project, base)
    assert revision.invalid == {}
    assert "aws.state_bucket and aws.lease_table" in revision.unconfigured["svc-aws"]
    edit(repo, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit("unrelated")
    assert list(affected(repo, base)) == ["svc-01"]  # untouched: not affected
    edit(repo, "environments/svc-aws.yaml", "ttl: 4h", "ttl: 2h")
    repo.commit("the aws environment changes")
    change = affected(repo, base)["svc-aws"]
    assert change.valid and change.target == "aws" and change.reason.startswith("files: ")
    assert change.not_planned.startswith("aws target not configured: validated, not planned")
    # Another problem as well: invalid, not merely unconfigured.
    edit(repo, "environments/svc-aws.yaml", "replicas: 1", "replicas: many")
    repo.commit("broken too")
    change = affected(repo, base)["svc-aws"]
    assert not change.valid and any("replicas" in p for p in change.problems)


def test_local_environments_carry_why_ci_does_not_plan_them(repo: FixtureRepo) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/api-03.yaml", "team: api", "team: api3")
    repo.remove("environments/svc-11.yaml")
    repo.commit()
    found = affected(repo, base)
    assert {n: (c.action, c.target, c.not_planned) for n, c in found.items()} == {
        "api-03": (UPDATE, "local", targets.LOCAL),
        "svc-11": (DESTROY, "local", targets.LOCAL),
    }


def test_unknown_revisions_are_usage_errors(repo: FixtureRepo) -> None:
    with pytest.raises(UsageError, match="no-such-branch: unknown revision"):
        changes.affected_environments(repo.root, "no-such-branch")
    with pytest.raises(UsageError, match="zero commit"):
        changes.affected_environments(repo.root, "0" * 40)
    with pytest.raises(UsageError, match="not a usable revision"):
        changes.affected_environments(repo.root, "--output=/tmp/x")


def test_a_shallow_clone_is_refused_with_a_hint(repo: FixtureRepo, tmp_path: Path) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-12.yaml", "ttl: 4h", "ttl: 1h")
    repo.commit()
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{repo.root}", str(shallow)],
        check=True,
        capture_output=True,
    )
    with pytest.raises(UsageError, match="shallow"):
        changes.affected_environments(shallow, base)


def test_no_temporary_directories_are_left_behind(
    repo: FixtureRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("EPHEMERA_SCRATCH", str(scratch))
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-13.yaml", "ttl: 4h", "ttl: 1h")
    repo.commit()
    seen: list[Path] = []
    original = changes.scan_revision

    def spy(project, commit="", only=None):  # noqa: ANN001, ANN202
        seen.append(project.root)
        return original(project, commit, only)

    monkeypatch.setattr(changes, "scan_revision", spy)
    assert [c.env for c in changes.affected_environments(repo.root, base)] == ["svc-13"]
    assert len(seen) == 2 and all(scratch in root.parents for root in seen)
    assert list(scratch.iterdir()) == []


def test_a_project_in_a_subdirectory_of_the_repository(tmp_path: Path) -> None:
    project = make_repo(tmp_path / "outer" / "infra")
    shutil.rmtree(project.root / ".git")
    outer = FixtureRepo(tmp_path / "outer")
    outer.git("init", "-q", "-b", "main")
    outer.write("README.md", "the project is in infra/\n")
    base = outer.commit("project in infra/")
    edit(project, "environments/svc-01.yaml", "ttl: 4h", "ttl: 2h")
    outer.commit()
    assert [c.env for c in changes.affected_environments(project.root, base)] == ["svc-01"]


# --- only what a change can reach is fingerprinted ----------------------------------


def scanned(monkeypatch: pytest.MonkeyPatch) -> list[set[str] | None]:
    """What each scan_revision was asked to fingerprint (None: every environment)."""
    asked: list[set[str] | None] = []
    original = changes.scan_revision

    def spy(project, commit="", only=None):  # noqa: ANN001, ANN202
        asked.append(only)
        return original(project, commit, only)

    monkeypatch.setattr(changes, "scan_revision", spy)
    return asked


def test_a_change_of_environment_files_fingerprints_only_them(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-03.yaml", "ttl: 4h", "ttl: 6h")
    repo.remove("environments/svc-05.yaml")
    repo.write("environments/svc-99.yaml", svc_text("svc-99", 99))
    repo.commit()
    asked = scanned(monkeypatch)
    found = affected(repo, base)
    assert asked == [{"svc-03", "svc-05", "svc-99"}] * 2
    assert {name: c.action for name, c in found.items()} == {
        "svc-03": UPDATE,
        "svc-05": DESTROY,
        "svc-99": CREATE,
    }


def test_any_other_change_fingerprints_everything(
    repo: FixtureRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-03.yaml", "ttl: 4h", "ttl: 6h")
    repo.write("README.md", "a file nobody names\n")
    repo.commit()
    asked = scanned(monkeypatch)
    assert list(affected(repo, base)) == ["svc-03"]
    assert asked == [None, None]


def test_an_environment_naming_a_changed_environment_file_is_reached(repo: FixtureRepo) -> None:
    edit(
        repo,
        "environments/api-01.yaml",
        "  port:",
        "  notes_file: environments/svc-03.yaml\n  port:",
    )
    repo.commit("api-01 names svc-03's file")
    assert candidates_of_a_svc_03_change(repo) == {"svc-03", "api-01"}


def test_an_environment_naming_a_deleted_environment_file_is_reached(repo: FixtureRepo) -> None:
    """At base its fingerprint held the file; at head, where it names nothing, too."""
    edit(
        repo,
        "environments/api-01.yaml",
        "  port:",
        "  notes_file: environments/svc-03.yaml\n  port:",
    )
    base = repo.commit("api-01 names svc-03's file")
    repo.remove("environments/svc-03.yaml")
    head = repo.commit("svc-03 deleted")
    with git.checkout(repo.root, head) as after:
        reached = changes.candidates(git.changed_paths(repo.root, base, head), after)
    assert reached == {"svc-03", "api-01"}


def candidates_of_a_svc_03_change(repo: FixtureRepo) -> set[str] | None:
    """`candidates` of a commit that changes svc-03's ttl, on top of the repository."""
    base = repo.git("rev-parse", "HEAD")
    edit(repo, "environments/svc-03.yaml", "ttl: 4h", "ttl: 6h")
    head = repo.commit()
    with git.checkout(repo.root, head) as after:
        return changes.candidates(git.changed_paths(repo.root, base, head), after)


@pytest.mark.parametrize(
    ("link", "target"),
    [
        ("environments/svc-alias.yaml", "svc-03.yaml"),  # an environment file itself
        ("expectations/notes.yaml", "../environments/svc-03.yaml"),  # another name for one
    ],
)
def test_a_symlink_compares_everything(repo: FixtureRepo, link: str, target: str) -> None:
    """A link can give an environment file another name, which no text search finds."""
    (repo.root / link).symlink_to(target)
    repo.commit("a link")
    assert candidates_of_a_svc_03_change(repo) is None


def test_an_environment_invalid_before_and_untouched_is_not_affected(
    repo: FixtureRepo,
) -> None:
    edit(repo, "environments/svc-08.yaml", "replicas: 1", "replicas: many")
    base = repo.commit("svc-08 broken on main")
    edit(repo, "environments/svc-03.yaml", "ttl: 4h", "ttl: 6h")
    repo.write("README.md", "everything is compared\n")
    repo.commit()
    assert list(affected(repo, base)) == ["svc-03"]
    edit(repo, "environments/svc-08.yaml", "owner:", "# still broken\nowner:")
    repo.commit("touched, still broken")
    found = affected(repo, base)
    assert sorted(found) == ["svc-03", "svc-08"] and not found["svc-08"].valid
