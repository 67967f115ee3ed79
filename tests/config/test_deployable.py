"""`validate` means it will deploy: the mistakes that used to pass validate and fail at
plan or apply, one environment file each, with the exact `file:line: key: message`
(exit 2, nothing rendered). The stack's own validation blocks are evaluated by the real
(embedded) Terraform; files by the mock API's own check; ports against real sockets and
a real SQLite lease store."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest

from ephemera import config
from ephemera.errors import EXIT_INVALID, UsageError, ValidationError
from ephemera.leases import ACTIVE, Lease, SqliteLeaseStore
from ephemera.project import Project
from tests.conftest import REPO_ROOT, free_port

LOCAL = "name: {name}\nstack: local-mock-api\nowner: a@example.com\nvariables:\n{vars}"
AWS = (
    "name: {name}\nstack: mock-api\ntarget: aws\nregion: eu-west-1\nowner: a@example.com\n"
    "variables:\n{vars}"
)
EXPECTATIONS = "  expectations_file: expectations/local-demo.json\n"
TEST_API_EXPECTATIONS = "  expectations_file: expectations/test-api.json\n"


def store_of(project: Project) -> SqliteLeaseStore:
    return SqliteLeaseStore(project.leases_db)


def write(project: Project, name: str, text: str) -> None:
    (project.environments_dir / f"{name}.yaml").write_text(text.format(name=name))


def refused(project: Project, name: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        config.load_environment(project, name, deployable=True, store=lambda: store_of(project))
    assert caught.value.exit_code == EXIT_INVALID
    assert not project.work_dir(name).exists()  # nothing rendered
    return [str(problem) for problem in caught.value.problems]


def port_line(port: int) -> str:
    return f"  port: {port}\n"


def test_a_port_outside_the_stacks_range(project: Project) -> None:
    write(project, "port-range", LOCAL.replace("{vars}", "  port: 99999\n" + EXPECTATIONS))
    assert refused(project, "port-range") == [
        "environments/port-range.yaml:5: variables.port: port must be a whole number "
        "between 1024 and 65535."
    ]


def test_a_port_that_is_not_a_whole_number(project: Project) -> None:
    write(project, "port-range", LOCAL.replace("{vars}", "  port: 8080.5\n" + EXPECTATIONS))
    assert refused(project, "port-range") == [
        "environments/port-range.yaml:5: variables.port: port must be a whole number "
        "between 1024 and 65535."
    ]


def test_an_instance_size_the_stack_does_not_offer(project: Project) -> None:
    write(project, "size", AWS.replace("{vars}", "  instance_size: huge\n" + EXPECTATIONS))
    assert refused(project, "size") == [
        "environments/size.yaml:7: variables.instance_size: instance_size must be one of: small, "
        "medium, large, xlarge."
    ]


def test_an_expectations_file_that_does_not_exist(project: Project) -> None:
    vars_ = f"{port_line(free_port())}  expectations_file: expectations/nope.json\n"
    write(project, "nofile", LOCAL.replace("{vars}", vars_))
    assert refused(project, "nofile") == [
        "environments/nofile.yaml:6: variables.expectations_file: expectations/nope.json: no such "
        "file in the project"
    ]


def test_an_expectations_file_with_invalid_json(project: Project) -> None:
    (project.root / "expectations" / "bad.json").write_text('[{"httpRequest": }]\n')
    vars_ = f"{port_line(free_port())}  expectations_file: expectations/bad.json\n"
    write(project, "badjson", LOCAL.replace("{vars}", vars_))
    (message,) = refused(project, "badjson")
    assert message.startswith(
        "environments/badjson.yaml:6: variables.expectations_file: expectations/bad.json:1:"
    )
    assert "invalid JSON" in message


def test_an_expectations_field_the_local_mock_api_refuses(project: Project) -> None:
    (project.root / "expectations" / "odd.json").write_text(
        '[{"httpRequest": {"path": "/a"}, "httpResponse": {}, "httpBogus": {}}]\n'
    )
    vars_ = f"{port_line(free_port())}  expectations_file: expectations/odd.json\n"
    write(project, "refused", LOCAL.replace("{vars}", vars_))
    (message,) = refused(project, "refused")
    assert message.startswith(
        "environments/refused.yaml:6: variables.expectations_file: expectations/odd.json: "
        "[0].httpBogus:"
    )


def test_an_aws_expectations_file_must_be_json(project: Project) -> None:
    (project.root / "expectations" / "broken.json").write_text("{")
    write(
        project,
        "aws-json",
        AWS.replace("{vars}", "  expectations_file: expectations/broken.json\n"),
    )
    (message,) = refused(project, "aws-json")
    assert message.startswith(
        "environments/aws-json.yaml:7: variables.expectations_file: expectations/broken.json:1:2: "
        "invalid JSON"
    )


def test_a_port_another_environments_live_lease_holds(project: Project) -> None:
    port = free_port()
    store_of(project).create(
        Lease(
            env="other",
            target="local",
            stack="local-mock-api",
            owner="b@example.com",
            status=ACTIVE,
            created_at=datetime.now(UTC),
            outputs={"url": f"http://127.0.0.1:{port}"},
        )
    )
    write(project, "mine", LOCAL.replace("{vars}", port_line(port) + EXPECTATIONS))
    assert refused(project, "mine") == [
        f"environments/mine.yaml:5: variables.port: port {port} is held by environment other "
        "(its lease is active)"
    ]


def test_a_port_another_program_holds(project: Project) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        write(project, "busy", LOCAL.replace("{vars}", port_line(port) + EXPECTATIONS))
        assert refused(project, "busy") == [
            f"environments/busy.yaml:5: variables.port: port {port} on 127.0.0.1 is in use by "
            "another program"
        ]


def test_the_port_its_own_live_lease_holds_is_fine(project: Project) -> None:
    with socket.socket() as server:  # its own running mock API
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        store_of(project).create(
            Lease(
                env="mine",
                target="local",
                stack="local-mock-api",
                owner="a@example.com",
                status=ACTIVE,
                created_at=datetime.now(UTC),
                outputs={"url": f"http://127.0.0.1:{port}"},
            )
        )
        write(project, "mine", LOCAL.replace("{vars}", port_line(port) + EXPECTATIONS))
        env = config.load_environment(
            project, "mine", deployable=True, store=lambda: store_of(project)
        )
    assert env.variables["port"] == port


def test_target_aws_without_its_control_plane(project: Project) -> None:
    (project.environments_dir / "_defaults.yaml").write_text(
        (REPO_ROOT / "environments" / "_defaults.yaml").read_text()
    )
    write(project, "no-plane", AWS.replace("{vars}", TEST_API_EXPECTATIONS))
    assert refused(project, "no-plane") == [
        "environments/no-plane.yaml:3: target: target aws needs aws.state_bucket and "
        "aws.lease_table in environments/_defaults.yaml (the outputs of terraform/bootstrap)"
    ]


def test_a_yml_file_is_named_not_ignored(project: Project) -> None:
    (project.environments_dir / "misnamed.yml").write_text(
        LOCAL.format(name="misnamed", vars=EXPECTATIONS)
    )
    with pytest.raises(UsageError) as caught:
        config.load_environment(project, "misnamed")
    assert caught.value.message == (
        "environments/misnamed.yml:1: (document): environment files end in .yaml: rename it "
        "to environments/misnamed.yaml"
    )
    with pytest.raises(ValidationError) as every:
        config.validate_environments(project)
    assert every.value.message == caught.value.message


def test_a_nullable_variable_takes_null(project: Project) -> None:
    write(
        project,
        "nullable",
        AWS.replace("{vars}", "  domain_name: null\n" + TEST_API_EXPECTATIONS),
    )
    env = config.load_environment(
        project, "nullable", deployable=True, store=lambda: store_of(project)
    )
    assert env.variables["domain_name"] is None


def test_a_list_where_a_mapping_belongs(project: Project) -> None:
    write(project, "tag-list", LOCAL.replace("{vars}", EXPECTATIONS) + "tags: [platform]\n")
    assert refused(project, "tag-list") == [
        "environments/tag-list.yaml:6: tags: expected mapping, got a list"
    ]
