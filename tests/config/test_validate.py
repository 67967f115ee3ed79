from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from ephemera import config
from ephemera.config.documents import deep_merge
from ephemera.environment import Environment, PolicySkip
from ephemera.errors import EXIT_INVALID, UsageError, ValidationError
from ephemera.project import Project
from tests.conftest import REPO_ROOT

FIXTURE_ROOT = REPO_ROOT / "tests" / "fixtures" / "config"


@pytest.fixture
def fixtures(tmp_path: Path) -> Project:
    return Project(root=FIXTURE_ROOT, home=tmp_path / ".ephemera")


@pytest.fixture
def copy(tmp_path: Path) -> Project:
    """A writable copy of the fixture project."""
    root = tmp_path / "project"
    shutil.copytree(FIXTURE_ROOT, root)
    return Project(root=root, home=tmp_path / ".ephemera")


def problems(project: Project, name: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        config.load_environment(project, name)
    assert caught.value.exit_code == EXIT_INVALID
    assert caught.value.message == "\n".join(str(p) for p in caught.value.problems)
    return [str(p) for p in caught.value.problems]


ALLOWED = (
    "allowed: aws, budget, max_ttl, name, notify, owner, policy, protected, region, stack, "
    "tags, target, ttl, variables, warnings"
)
KNOWN_VARS = (
    "known: allowed_cidrs, debug, expectations_file, extra, labels, limits, listeners, pair, port"
)


# ----------------------------------------------------------------------- the repo


def test_local_demo_loads(tmp_path: Path) -> None:
    project = Project(root=REPO_ROOT, home=tmp_path / ".ephemera")
    env = config.load_environment(project, "local-demo")
    assert isinstance(env, Environment)
    assert (env.name, env.stack, env.target, env.owner) == (
        "local-demo",
        "local-mock-api",
        "local",
        "demo@example.com",
    )
    assert (env.ttl, env.ttl_text, env.max_ttl) == (timedelta(hours=8), "8h", timedelta(days=7))
    assert env.source == project.environment_file("local-demo")
    assert env.variables == {
        "bind_address": "127.0.0.1",
        "port": 8765,
        "expectations_file": "expectations/local-demo.json",
    }
    assert env.tags == {"team": "demo"}
    assert env.warnings == ("24h", "2h", "30m")
    assert env.notify == {"console": True}
    assert env.protected is False and env.region is None and env.budget is None
    assert env.document["max_ttl"] == "7d" and env.document["name"] == "local-demo"


def test_repo_environment_files_name_the_schema() -> None:
    for path in (REPO_ROOT / "environments").glob("*.yaml"):
        first = path.read_text().splitlines()[0]
        schema = "defaults" if path.name == "_defaults.yaml" else "environment"
        assert first == f"# yaml-language-server: $schema=../schemas/{schema}.schema.json"


def test_local_demo_validates_in_a_batch(tmp_path: Path) -> None:
    project = Project(root=REPO_ROOT, home=tmp_path / ".ephemera")
    assert [e.name for e in config.validate_environments(project, ["local-demo"])] == ["local-demo"]


# ------------------------------------------------------------------- a valid file


def test_a_valid_fixture_with_every_kind_of_variable(fixtures: Project) -> None:
    env = config.load_environment(fixtures, "good")
    assert env.ttl == timedelta(minutes=1)
    assert env.policy_skips == (
        PolicySkip("CKV_AWS_91", "access logs are not kept for 8-hour test stacks"),
    )
    assert env.notify == {"console": True, "email": ["alice@example.com"]}
    assert env.variables["listeners"][1] == {"name": "public", "port": 9443, "tls": True}
    assert env.all_tags["ephemera:env"] == "good"


def test_aws_target(copy: Project) -> None:
    (copy.environments_dir / "on-aws.yaml").write_text(
        "name: on-aws\nstack: static-site\ntarget: aws\nowner: a@example.com\n"
        "region: eu-west-1\nbudget: 12.5\nprotected: true\n"
        "aws: {state_bucket: my-state, lease_table: leases, account_id: '123456789012'}\n"
        "variables: {site_dir: site}\n"
    )
    env = config.load_environment(copy, "on-aws")
    assert (env.target, env.region, env.budget, env.protected) == ("aws", "eu-west-1", 12.5, True)
    assert env.aws["state_bucket"] == "my-state"


# ------------------------------------------------------------- one problem each


def test_wrong_type(fixtures: Project) -> None:
    assert problems(fixtures, "wrong-type") == [
        "environments/wrong-type.yaml:4: ttl: expected string, got number 8",
        "environments/wrong-type.yaml:5: protected: expected bool (true or false), got string "
        "'yes'",
    ]


def test_unknown_key(fixtures: Project) -> None:
    assert problems(fixtures, "unknown-key") == [
        "environments/unknown-key.yaml:1: owner: required key missing",
        f"environments/unknown-key.yaml:3: ownr: unknown key (did you mean 'owner'?); {ALLOWED}",
    ]


def test_duplicate_key(fixtures: Project) -> None:
    assert problems(fixtures, "duplicate-key") == [
        "environments/duplicate-key.yaml:7: ttl: duplicate key (first defined on line 4)"
    ]


def test_bad_name(fixtures: Project) -> None:
    assert problems(fixtures, "Bad_Name") == [
        "environments/Bad_Name.yaml:1: name: 'Bad_Name' is not a valid environment name: 3 to "
        "40 characters, lowercase letters, digits and '-', starting with a letter and not "
        "ending with '-'"
    ]


def test_name_must_equal_the_file_stem(fixtures: Project) -> None:
    assert problems(fixtures, "name-mismatch") == [
        "environments/name-mismatch.yaml:1: name: must equal the file name: expected "
        "'name-mismatch', got 'other-name'"
    ]


def test_alias_bomb(fixtures: Project) -> None:
    assert problems(fixtures, "alias-bomb") == [
        "environments/alias-bomb.yaml:1: (document): YAML anchors (&a) are not allowed; "
        "write the value out"
    ]


def test_stack_variable_of_the_wrong_type(fixtures: Project) -> None:
    assert problems(fixtures, "stack-var-type") == [
        "environments/stack-var-type.yaml:6: variables.port: expected number, got string '8080'",
        "environments/stack-var-type.yaml:9: variables.listeners[0].port: expected number, got "
        "string 'high'",
        "environments/stack-var-type.yaml:10: variables.listeners[0].colour: unknown attribute; "
        "known: name, port, tls",
        "environments/stack-var-type.yaml:11: variables.listeners[1].name: required attribute "
        "missing (type string)",
        "environments/stack-var-type.yaml:12: variables.pair: expected tuple([string, number]) "
        "(2 items), got 1 item",
        "environments/stack-var-type.yaml:13: variables.labels: expected set(string), got "
        "string 'x'",
    ]


def test_missing_required_variable(fixtures: Project) -> None:
    assert problems(fixtures, "missing-var") == [
        "environments/missing-var.yaml:4: variables.expectations_file: required variable of "
        "stack 'mock-api' missing (type string, no default)"
    ]


def test_unknown_stack_variable_with_suggestion(fixtures: Project) -> None:
    assert problems(fixtures, "unknown-var") == [
        "environments/unknown-var.yaml:6: variables.prot: unknown variable of stack 'mock-api' "
        f"(did you mean 'port'?); {KNOWN_VARS}"
    ]


def test_variable_set_by_ephemera(fixtures: Project) -> None:
    assert problems(fixtures, "provided-var") == [
        "environments/provided-var.yaml:6: variables.environment: set by Ephemera, not the "
        "environment file"
    ]


def test_not_a_mapping(fixtures: Project) -> None:
    assert problems(fixtures, "not-mapping") == [
        "environments/not-mapping.yaml:1: (document): expected a mapping at the top level, "
        "got a list"
    ]


def test_more_than_one_document(fixtures: Project) -> None:
    assert problems(fixtures, "multi-doc") == [
        "environments/multi-doc.yaml:3: (document): more than one YAML document (a second "
        "'---'); write one environment per file"
    ]


def test_yaml_syntax_error(fixtures: Project) -> None:
    assert problems(fixtures, "syntax-error") == [
        "environments/syntax-error.yaml:4: (document): YAML syntax error: while parsing a flow "
        "sequence started on line 3, did not find expected ',' or ']'"
    ]


def test_ttl_longer_than_max_ttl(fixtures: Project) -> None:
    assert problems(fixtures, "ttl-too-long") == [
        "environments/ttl-too-long.yaml:4: ttl: 8d is longer than max_ttl 7d"
    ]


def test_region_with_target_local(fixtures: Project) -> None:
    assert problems(fixtures, "region-local") == [
        "environments/region-local.yaml:4: region: only allowed with target aws (target is local)"
    ]


def test_target_aws_needs_a_region(fixtures: Project) -> None:
    assert problems(fixtures, "aws-no-region") == [
        "environments/aws-no-region.yaml:1: region: required with target aws",
        "environments/aws-no-region.yaml:3: target: target aws needs aws.state_bucket and "
        "aws.lease_table in environments/_defaults.yaml (the outputs of terraform/bootstrap)",
    ]


def test_unknown_stack(fixtures: Project) -> None:
    assert problems(fixtures, "unknown-stack") == [
        "environments/unknown-stack.yaml:2: stack: unknown stack 'mock-apy': no directory "
        "terraform/stacks/mock-apy (did you mean 'mock-api'?); known: mock-api, static-site"
    ]


def test_every_problem_of_a_file_is_reported_at_once(fixtures: Project) -> None:
    file = "environments/many-problems.yaml"
    assert problems(fixtures, "many-problems") == [
        f"{file}:4: owner: 'not-an-email' is not an email address",
        f"{file}:5: ttl: '8 hours' is not a duration like 30m, 8h or 2d",
        f"{file}:6: max_ttl: may only be set in environments/_defaults.yaml",
        f"{file}:7: region: only allowed with target aws (target is local)",
        f"{file}:8: protected: expected bool (true or false), got string 'maybe'",
        f"{file}:9: variables.expectations_file: required variable of stack 'mock-api' missing "
        "(type string, no default)",
        f"{file}:10: variables.prot: unknown variable of stack 'mock-api' (did you mean 'port'?);"
        f" {KNOWN_VARS}",
        f"{file}:11: variables.owner: set by Ephemera, not the environment file",
        f"{file}:13: tags.managed-by: reserved tag key: Ephemera sets it itself",
        f"{file}:17: policy.skip[0].reason: a policy skip needs a non-empty reason",
        f"{file}:18: policy.skip[1].reason: a policy skip needs a non-empty reason",
        f"{file}:19: colour: unknown key; {ALLOWED}",
    ]


# ------------------------------------------------------------ schema details


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ("ttl: 0h", "ttl: '0h' is not a duration like 30m, 8h or 2d"),
        ("target: gcp", "target: must be one of: local, aws (got 'gcp')"),
        ("budget: -1", "budget: must be at least 0 (got -1)"),
        ("warnings: [1h, 1h]", "warnings: has duplicate items"),
        ("warnings: [1h, soon]", "warnings[1]: 'soon' is not a duration like 30m, 8h or 2d"),
        (
            "tags: {'ephemera:env': x}",
            "tags.ephemera:env: reserved tag key: Ephemera sets it itself",
        ),
        ("tags: {team: 1}", "tags.team: expected string, got number 1"),
        ("tags: {team: " + "x" * 257 + "}", "tags.team: longer than 256 characters"),
        (
            "tags: {" + "k" * 129 + ": v}",
            "tags." + "k" * 129 + ": tag key longer than 128 characters",
        ),
        ("notify: {webhook: 'ftp://x'}", "notify.webhook: 'ftp://x' is not an http(s) URL"),
        (
            "notify: {emial: [a@b.c]}",
            "notify.emial: unknown key (did you mean 'email'?); "
            "allowed: console, email, sns_topic_arn, webhook",
        ),
        ("policy: {skip: [{reason: r}]}", "policy.skip[0].id: required key missing"),
        ("aws: {account_id: '1234'}", "aws.account_id: '1234' is not a 12-digit AWS account id"),
    ],
)
def test_schema_messages(copy: Project, lines: str, expected: str) -> None:
    (copy.environments_dir / "tweak.yaml").write_text(
        "name: tweak\nstack: static-site\nowner: a@example.com\nvariables: {site_dir: s}\n"
        + lines
        + "\n"
    )
    assert problems(copy, "tweak") == [f"environments/tweak.yaml:5: {expected}"]


# ------------------------------------------------------------ _defaults.yaml


def test_defaults_merge_under_the_file(copy: Project) -> None:
    (copy.environments_dir / "merged.yaml").write_text(
        "name: merged\nstack: static-site\nowner: a@example.com\nvariables: {site_dir: s}\n"
        "warnings: [1h]\nnotify: {email: [a@example.com]}\n"
    )
    env = config.load_environment(copy, "merged")
    assert env.warnings == ("1h",)  # lists replace
    assert env.notify == {"console": True, "email": ["a@example.com"]}  # maps merge
    assert env.ttl_text == "8h"  # from _defaults.yaml


def test_deep_merge() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1, "e": {"x": 1}}
    over = {"a": {"c": [3], "f": 2}, "e": None}
    merged = deep_merge(base, over)
    assert merged == {"a": {"b": 1, "c": [3], "f": 2}, "d": 1, "e": None}
    merged["a"]["b"] = 99
    assert base["a"]["b"] == 1


def test_environment_documents_do_not_share_the_cached_defaults(fixtures: Project) -> None:
    first = config.load_environment(fixtures, "good")
    first.document["notify"]["console"] = False
    first.document["warnings"].append("1m")
    second = config.load_environment(fixtures, "good")
    assert second.notify == {"console": True, "email": ["alice@example.com"]}
    assert second.warnings == ("24h", "2h", "30m")


def test_problems_in_defaults_name_defaults(copy: Project) -> None:
    copy.defaults_file.write_text(
        "target: local\nttl: 8h\nmax_ttl: 7d\nttll: 2h\nname: nope\nnotify:\n  console: 1\n"
    )
    with pytest.raises(ValidationError) as caught:
        config.validate_environments(copy, ["good", "ttl-too-long"])
    assert [str(p) for p in caught.value.problems] == [
        "environments/_defaults.yaml:4: ttll: unknown key (did you mean 'ttl'?); " + ALLOWED,
        "environments/_defaults.yaml:5: name: may not be set in environments/_defaults.yaml",
        "environments/_defaults.yaml:7: notify.console: expected bool (true or false), got "
        "number 1",
        "environments/ttl-too-long.yaml:4: ttl: 8d is longer than max_ttl 7d",
    ]


def test_max_ttl_missing_is_a_defaults_problem(copy: Project) -> None:
    copy.defaults_file.write_text("# defaults\ntarget: local\nttl: 8h\n")
    assert problems(copy, "good") == [
        "environments/_defaults.yaml:2: max_ttl: required key missing; set it in "
        "environments/_defaults.yaml"
    ]


def test_broken_defaults_stop_every_environment(copy: Project) -> None:
    copy.defaults_file.write_text("ttl: 8h\nttl: 9h\n")
    assert problems(copy, "good") == [
        "environments/_defaults.yaml:2: ttl: duplicate key (first defined on line 1)"
    ]


def test_ttl_from_defaults_above_max_ttl_names_defaults(copy: Project) -> None:
    copy.defaults_file.write_text("target: local\nttl: 8d\nmax_ttl: 7d\n")
    assert problems(copy, "missing-var")[0] == (
        "environments/_defaults.yaml:2: ttl: 8d is longer than max_ttl 7d"
    )


def test_over_256_kib_file(copy: Project) -> None:
    path = copy.environment_file("huge")
    path.write_text("name: huge\n" + "# padding\n" * 27000)
    size = path.stat().st_size
    assert size > 256 * 1024
    assert problems(copy, "huge") == [
        f"environments/huge.yaml:1: (document): file is {size} bytes; the limit is 262144 "
        "bytes (256 KiB)"
    ]


def test_a_broken_stack_variables_file(copy: Project) -> None:
    (copy.stack_dir("static-site") / "variables.tf").write_text('variable "x" {\n  type = \n}\n')
    (copy.environments_dir / "site.yaml").write_text(
        "name: site\nstack: static-site\nowner: a@example.com\n"
    )
    [problem] = problems(copy, "site")
    assert problem.startswith(
        "terraform/stacks/static-site/variables.tf:2: (document): not valid HCL"
    )


# ---------------------------------------------------------------- names, batches


def test_unknown_environment_suggests_the_closest(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "environments").mkdir(parents=True)
    (root / "terraform" / "stacks").mkdir(parents=True)
    for name in ("local-demo", "test-api"):
        (root / "environments" / f"{name}.yaml").write_text(f"name: {name}\n")
    (root / "environments" / "_defaults.yaml").write_text("ttl: 8h\n")
    project = Project(root=root, home=tmp_path / ".ephemera")
    with pytest.raises(UsageError) as caught:
        config.load_environment(project, "lcoal-demo")
    assert caught.value.exit_code == EXIT_INVALID
    assert not isinstance(caught.value, ValidationError)
    assert caught.value.message == (
        "unknown environment 'lcoal-demo' (did you mean 'local-demo'?); known: local-demo, test-api"
    )
    with pytest.raises(UsageError) as caught:
        config.load_environment(project, "zzz")
    assert caught.value.message == "unknown environment 'zzz'; known: local-demo, test-api"


@pytest.mark.parametrize("name", ["../etc/passwd", "_defaults", "", "a b", "good/x"])
def test_invalid_environment_names(fixtures: Project, name: str) -> None:
    with pytest.raises(UsageError) as caught:
        config.load_environment(fixtures, name)
    known = ", ".join(fixtures.known_environments())
    assert caught.value.message.startswith(f"invalid environment name {name!r}")
    assert caught.value.message.endswith(f"; known: {known}")


def test_unknown_name_in_fixture_project_lists_them_all(fixtures: Project) -> None:
    with pytest.raises(UsageError) as caught:
        config.validate_environments(fixtures, ["good", "godo"])
    known = ", ".join(fixtures.known_environments())
    assert caught.value.message == (
        f"unknown environment 'godo' (did you mean 'good'?); known: {known}"
    )


def test_validate_environments_collects_every_file(fixtures: Project) -> None:
    with pytest.raises(ValidationError) as caught:
        config.validate_environments(fixtures)
    files = {p.file for p in caught.value.problems}
    bad = [n for n in fixtures.known_environments() if n != "good"]
    assert files == {f"environments/{name}.yaml" for name in bad}
    assert caught.value.problems == sorted(caught.value.problems)
    assert len(caught.value.message.splitlines()) == len(caught.value.problems)


def test_validate_named_environments(fixtures: Project) -> None:
    assert [e.name for e in config.validate_environments(fixtures, ["good"])] == ["good"]
    assert config.validate_environments(fixtures, []) == []


def test_a_thousand_files_validate_quickly(copy: Project) -> None:
    import time

    template = (copy.environments_dir / "good.yaml").read_text()
    for path in copy.environments_dir.glob("*.yaml"):
        if path.name != "_defaults.yaml":
            path.unlink()
    names = [f"env-{i:04d}" for i in range(1000)]
    for name in names:
        copy.environment_file(name).write_text(template.replace("name: good", f"name: {name}"))
    started = time.process_time()
    envs = config.validate_environments(copy)
    elapsed = time.process_time() - started
    assert [e.name for e in envs] == names
    assert elapsed < 15, f"{elapsed:.1f}s of CPU for 1,000 files"
