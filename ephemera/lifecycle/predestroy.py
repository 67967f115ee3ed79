"""The pre-destroy steps a stack declares in its stack.yaml
(`ephemera.config.stackmanifest`), run just before `terraform destroy`: by `make destroy`
and so by the janitor's destroys (in-process, or the CodeBuild/GitHub run of `make
destroy` it dispatches).

`ecs_scale_to_zero` scales the ECS service to zero first, as deleting a service with
running tasks should not be the way they stop: it suspends the service's Application Auto
Scaling target (which would otherwise scale it back up to its minimum), sets the desired
count to 0 and waits, bounded by the step's timeout, until no task is running or pending,
printing progress. A timeout is reported and the destroy goes on (deleting the service
stops what is left). The cluster and service come from the stack outputs the step names
(the lease's, else `terraform output`); give the cluster as an ARN and the step uses its
region. A cluster or service that no longer exists is nothing to scale.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ephemera.config.stackmanifest import Step, load_manifest
from ephemera.durations import parse_duration
from ephemera.errors import EphemeraError
from ephemera.lifecycle.context import Context
from ephemera.lifecycle.deploy import read_outputs
from ephemera.terraform.render import Rendered

DEFAULT_TIMEOUT = "10m"
POLL_SECONDS = 10.0
_GONE = ("ClusterNotFoundException", "ServiceNotFoundException", "ServiceNotActiveException")


@dataclass(frozen=True)
class Waiting:
    """How the drain is waited for: the clock and sleep tests replace."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    poll_seconds: float = POLL_SECONDS


def run_pre_destroy(
    ctx: Context, rendered: Rendered, outputs: dict[str, Any], waiting: Waiting = Waiting()
) -> None:
    """Every pre-destroy step of the environment's stack, in order (none: nothing).
    `outputs` are the stack outputs the lease recorded; `terraform output` is read when
    they lack one a step names."""
    stack_dir = ctx.project.stack_dir(rendered.root_dir.name)
    steps = load_manifest(stack_dir, cache_dir=ctx.project.cache_dir).pre_destroy
    if not steps:
        return
    needed = {
        value for step in steps for key, value in step.params.items() if key.endswith("_output")
    }
    if not needed <= outputs.keys():
        outputs = read_outputs(ctx, rendered)
    for step in steps:
        ACTIONS[step.action](ctx, rendered.env, step, outputs, waiting)


def _ecs_scale_to_zero(
    ctx: Context, env: str, step: Step, outputs: dict[str, Any], waiting: Waiting
) -> None:
    cluster = outputs.get(step.params["cluster_output"])
    service = outputs.get(step.params["service_output"])
    if not cluster or not service:
        ctx.say(f"==> {env}: no ECS service in the stack outputs: nothing to scale to zero")
        return
    import boto3  # only stacks that declare the step need it

    session = boto3.Session(region_name=_region_of(str(cluster)))
    timeout = parse_duration(str(step.params.get("timeout", DEFAULT_TIMEOUT))).total_seconds()
    scale_to_zero(session, str(cluster), str(service), timeout, ctx.say, waiting)


def scale_to_zero(
    session: Any,
    cluster: str,
    service: str,
    timeout: float,
    say: Callable[[str], None],
    waiting: Waiting = Waiting(),
) -> bool:
    """Scale `service` of `cluster` to zero and wait for its tasks to drain; True when they
    did within `timeout` seconds, False when it ran out (or there was nothing to scale)."""
    from botocore.exceptions import ClientError

    ecs = session.client("ecs")
    name = f"{cluster.rsplit('/', 1)[-1]}/{service}"
    try:
        if _counts(ecs, cluster, service) is None:
            say(f"==> ECS service {name} is not active: nothing to scale to zero")
            return False
        _suspend_auto_scaling(session.client("application-autoscaling"), cluster, service)
        ecs.update_service(cluster=cluster, service=service, desiredCount=0)
        say(f"==> ECS service {name}: desired count 0, waiting for its tasks to drain")
        return _drain(ecs, cluster, service, timeout, say, waiting, name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _GONE:
            say(f"==> ECS service {name} is gone ({code}): nothing to scale to zero")
            return False
        raise EphemeraError(f"pre-destroy: ECS service {name}: {exc}") from None


def _drain(
    ecs: Any,
    cluster: str,
    service: str,
    timeout: float,
    say: Callable[[str], None],
    waiting: Waiting,
    name: str,
) -> bool:
    started = waiting.clock()
    while True:
        running, pending = _counts(ecs, cluster, service) or (0, 0)
        waited = waiting.clock() - started
        if running == 0 and pending == 0:
            say(f"    drained after {waited:.0f}s")
            return True
        if waited >= timeout:
            say(
                f"    {name}: {running} running, {pending} pending after {waited:.0f}s: "
                "giving up waiting; terraform destroy deletes the service and stops them"
            )
            return False
        say(f"    {running} running, {pending} pending ({waited:.0f}s of {timeout:.0f}s)")
        waiting.sleep(min(waiting.poll_seconds, max(timeout - waited, 0.0)))


def _counts(ecs: Any, cluster: str, service: str) -> tuple[int, int] | None:
    """(running, pending) tasks of the service; None when it is not active."""
    found = ecs.describe_services(cluster=cluster, services=[service]).get("services") or []
    active = [s for s in found if s.get("status") == "ACTIVE"]
    if not active:
        return None
    return int(active[0].get("runningCount", 0)), int(active[0].get("pendingCount", 0))


def _suspend_auto_scaling(autoscaling: Any, cluster: str, service: str) -> None:
    """Suspend the service's scalable target, if it has one: auto scaling would bring
    the desired count back up to the target's minimum."""
    resource = f"service/{cluster.rsplit('/', 1)[-1]}/{service}"
    targets = autoscaling.describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[resource]
    ).get("ScalableTargets")
    for target in targets or []:
        autoscaling.register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=resource,
            ScalableDimension=target["ScalableDimension"],
            SuspendedState={
                "DynamicScalingInSuspended": True,
                "DynamicScalingOutSuspended": True,
                "ScheduledScalingSuspended": True,
            },
        )


def _region_of(cluster: str) -> str | None:
    """The region of a cluster ARN (arn:aws:ecs:<region>:…); None for a bare name."""
    parts = cluster.split(":")
    return parts[3] if cluster.startswith("arn:") and len(parts) > 5 else None


ACTIONS: dict[str, Callable[[Context, str, Step, dict[str, Any], Waiting], None]] = {
    "ecs_scale_to_zero": _ecs_scale_to_zero,
}
