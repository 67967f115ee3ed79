"""`make destroy` runs the stack's pre-destroy step before `terraform destroy`: a real
local deploy and destroy (embedded Terraform) of a stack whose outputs name an ECS
service in a moto server, which the destroy scales to zero."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO_ROOT, MotoServer
from tests.integration.conftest import Cli

pytestmark = pytest.mark.integration

STACK = REPO_ROOT / "tests" / "fixtures" / "predestroy" / "stacks" / "ecs-outputs"


def test_destroy_scales_the_ecs_service_to_zero_first(cli: Cli, moto: MotoServer) -> None:
    ecs = moto.client("ecs")
    cluster = ecs.create_cluster(clusterName="qa")["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family="qa", containerDefinitions=[{"name": "m", "image": "mockserver", "memory": 512}]
    )
    ecs.create_service(cluster="qa", serviceName="qa", taskDefinition="qa", desiredCount=2)
    shutil.copytree(STACK, cli.root / "terraform" / "stacks" / "ecs-outputs")
    cli.write_env(
        "ecs-demo",
        "name: ecs-demo\nstack: ecs-outputs\ntarget: local\nowner: demo@example.com\nttl: 1h\n"
        f"variables:\n  cluster_arn: {cluster}\n  service_name: qa\n",
    )
    cli.extra_env.update(moto.env())
    deployed = cli.invoke("deploy", "--env", "ecs-demo")
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout

    destroyed = cli.invoke("destroy", "--env", "ecs-demo", "--yes")
    assert destroyed.returncode == 0, destroyed.stderr + destroyed.stdout
    out = destroyed.stdout
    step = out.index("==> ECS service qa/qa: desired count 0, waiting for its tasks to drain")
    assert out.index("    drained after 0s") > step
    assert out.index("==> ecs-demo: terraform destroy") > step
    (service,) = ecs.describe_services(cluster="qa", services=["qa"])["services"]
    assert service["desiredCount"] == 0
