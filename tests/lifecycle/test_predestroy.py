"""The ecs_scale_to_zero pre-destroy step against a real moto server: desired count 0,
auto scaling suspended, the drain waited for with an injected clock and sleep (nothing
really waits), and the timeout when tasks do not stop."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from ephemera.config import stackmanifest
from ephemera.leases.sqlite import SqliteLeaseStore
from ephemera.lifecycle import predestroy
from ephemera.lifecycle.context import Context
from ephemera.project import Project
from ephemera.terraform.hclmodel import parse_file
from ephemera.terraform.render import Rendered
from tests.conftest import REPO_ROOT, MotoServer

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto: MotoServer) -> MotoServer:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in moto.env().items():
        monkeypatch.setenv(key, value)
    return moto


class FakeTime:
    """A clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def waiting(self) -> predestroy.Waiting:
        return predestroy.Waiting(clock=self.clock, sleep=self.sleep, poll_seconds=10.0)


def ecs_service(moto: MotoServer, desired: int = 2) -> str:
    """A cluster with a service of `desired` tasks and its scalable target; the cluster ARN."""
    ecs = moto.client("ecs")
    cluster = ecs.create_cluster(clusterName="qa")["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family="qa",
        containerDefinitions=[{"name": "mockserver", "image": "mockserver:5.15.0", "memory": 512}],
    )
    ecs.create_service(cluster="qa", serviceName="qa", taskDefinition="qa", desiredCount=desired)
    ecs.update_service(cluster="qa", service="qa", desiredCount=desired)  # moto: now running
    moto.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs",
        ResourceId="service/qa/qa",
        ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=1,
        MaxCapacity=2,
    )
    return cluster


def service(moto: MotoServer) -> dict[str, object]:
    return moto.client("ecs").describe_services(cluster="qa", services=["qa"])["services"][0]


def test_the_actions_are_the_manifests() -> None:
    assert set(predestroy.ACTIONS) == set(stackmanifest.ACTIONS)


def test_the_service_is_scaled_to_zero_and_auto_scaling_suspended(aws: MotoServer) -> None:
    cluster = ecs_service(aws)
    assert service(aws)["runningCount"] == 2
    time, lines = FakeTime(), []
    drained = predestroy.scale_to_zero(
        boto3.Session(region_name=REGION), cluster, "qa", 600, lines.append, time.waiting()
    )
    assert drained is True
    assert (service(aws)["desiredCount"], service(aws)["runningCount"]) == (0, 0)
    (target,) = aws.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs"
    )["ScalableTargets"]
    assert target["SuspendedState"] == {
        "DynamicScalingInSuspended": True,
        "DynamicScalingOutSuspended": True,
        "ScheduledScalingSuspended": True,
    }
    assert lines == [
        "==> ECS service qa/qa: desired count 0, waiting for its tasks to drain",
        "    drained after 0s",
    ]
    assert time.sleeps == []


def test_tasks_that_do_not_stop_are_waited_for_until_the_timeout(aws: MotoServer) -> None:
    """Something keeps two tasks running (here: every update is followed by one setting the
    count back, as auto scaling would): the step gives up after its timeout, on the
    injected clock."""
    cluster = ecs_service(aws)
    session = boto3.Session(region_name=REGION)
    other = aws.client("ecs")

    def back_up(**_: object) -> None:
        other.update_service(cluster="qa", service="qa", desiredCount=2)

    session.events.register("after-call.ecs.UpdateService", back_up)
    time, lines = FakeTime(), []
    drained = predestroy.scale_to_zero(session, cluster, "qa", 25, lines.append, time.waiting())
    assert drained is False
    assert time.sleeps == [10.0, 10.0, 5.0]  # bounded: never past the timeout
    assert lines == [
        "==> ECS service qa/qa: desired count 0, waiting for its tasks to drain",
        "    2 running, 0 pending (0s of 25s)",
        "    2 running, 0 pending (10s of 25s)",
        "    2 running, 0 pending (20s of 25s)",
        "    qa/qa: 2 running, 0 pending after 25s: giving up waiting; terraform destroy "
        "deletes the service and stops them",
    ]


def test_a_service_or_cluster_that_is_gone_is_nothing_to_scale(aws: MotoServer) -> None:
    cluster = aws.client("ecs").create_cluster(clusterName="empty")["cluster"]["clusterArn"]
    lines: list[str] = []
    session = boto3.Session(region_name=REGION)
    assert predestroy.scale_to_zero(session, cluster, "qa", 60, lines.append) is False
    assert predestroy.scale_to_zero(session, "no-such-cluster", "qa", 60, lines.append) is False
    assert lines == [
        "==> ECS service empty/qa is not active: nothing to scale to zero",
        "==> ECS service no-such-cluster/qa is gone (ClusterNotFoundException): nothing to "
        "scale to zero",
    ]


def context(tmp_path: Path, stack_yaml: str, lines: list[str]) -> tuple[Context, Rendered]:
    project = Project(root=tmp_path / "project", home=tmp_path / "home")
    (project.stack_dir("ecs") / "stack.yaml").parent.mkdir(parents=True)
    (project.stack_dir("ecs") / "stack.yaml").write_text(stack_yaml)
    work = project.work_dir("qa")
    rendered = Rendered("qa", work, work / "tf" / "stacks" / "ecs", work / "t", work / "b", "")
    store = SqliteLeaseStore(tmp_path / "leases.db")
    return Context(project, store, echo=lines.append), rendered


STEP = (
    "pre_destroy:\n  - action: ecs_scale_to_zero\n    cluster_output: cluster_arn\n"
    "    service_output: service\n    timeout: 2m\n"
)


def test_the_stacks_step_takes_the_cluster_and_service_from_the_outputs(
    aws: MotoServer, tmp_path: Path
) -> None:
    cluster = ecs_service(aws)
    lines: list[str] = []
    ctx, rendered = context(tmp_path, STEP, lines)
    outputs = {"cluster_arn": cluster, "service": "qa"}
    predestroy.run_pre_destroy(ctx, rendered, outputs, FakeTime().waiting())
    assert service(aws)["desiredCount"] == 0
    assert lines[0] == "==> ECS service qa/qa: desired count 0, waiting for its tasks to drain\n"


def test_a_stack_without_steps_or_outputs_runs_nothing(aws: MotoServer, tmp_path: Path) -> None:
    lines: list[str] = []
    ctx, rendered = context(tmp_path, "runtime: terraform_data.x\n", lines)
    predestroy.run_pre_destroy(ctx, rendered, {})
    assert lines == []
    ctx, rendered = context(tmp_path / "again", STEP, lines)
    predestroy.run_pre_destroy(ctx, rendered, {"cluster_arn": None, "service": None})
    assert lines == ["==> qa: no ECS service in the stack outputs: nothing to scale to zero\n"]


def test_the_mock_api_stacks_step_names_outputs_it_has() -> None:
    stack = REPO_ROOT / "terraform" / "stacks" / "mock-api"
    (step,) = stackmanifest.load_manifest(stack).pre_destroy
    assert step == stackmanifest.Step(
        "ecs_scale_to_zero",
        {"cluster_output": "cluster_arn", "service_output": "service", "timeout": "10m"},
    )
    outputs = {
        block.labels[0] for block in parse_file(stack / "outputs.tf") if block.type == "output"
    }
    assert {step.params["cluster_output"], step.params["service_output"]} <= outputs
