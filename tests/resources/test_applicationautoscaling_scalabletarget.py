"""applicationautoscaling.ScalableTarget against a moto server: convergence, drift, batching,
deletion out of band, ownership by tags and the desiredCount it takes over.

moto 5.2.5 implements none of the service's tag calls; the emulator process fills them in
as AWS documents them (controller/motoserver.py, tested in tests/emulator/).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.applicationautoscaling_scalabletarget import (
    ScalableTargetDriver,
    ScalableTargetSpec,
)
from controller.resources.base import RunContext
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = ScalableTargetDriver()
CLUSTER = "iq-theory-cluster"
DIMENSION = "ecs:service:DesiredCount"
SERVICE = "application-auto-scaling"  # botocore's event name of the service


@dataclass
class Env:
    """A moto server with the cluster and services targets need (moto checks they exist)."""

    aws: AwsEnv

    def ctx(self, stack: str = TEST_STACK) -> RunContext:
        return self.aws.ctx(stack)

    def client(self) -> Any:
        """An out-of-band client, for making drift or checking state."""
        return self.ctx().client("application-autoscaling")


def ecs_services(aws: AwsEnv, *names: str) -> None:
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    revision = ecs.register_task_definition(family="iq-theory-api", containerDefinitions=[
        {"name": "api", "image": "api:1", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    for name in names:
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=revision,
                           desiredCount=2)


@pytest.fixture
def env(aws: AwsEnv) -> Env:
    ecs_services(aws, "iq-theory-api", "iq-theory-frontend", "iq-theory-worker")
    return Env(aws)


def resource_id(service: str = "iq-theory-api") -> str:
    return f"service/{CLUSTER}/{service}"


def desired(name: str = "iq-theory-api", service: str = "iq-theory-api", **spec: Any) -> Desired:
    base = {"serviceNamespace": "ecs", "resourceId": resource_id(service),
            "scalableDimension": DIMENSION, "minCapacity": 2, "maxCapacity": 4,
            "tags": {"app": "iq-theory"}}
    return Desired("applicationautoscaling.ScalableTarget", name, TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(env: Env) -> None:
    want = desired()
    assert DRIVER.observe(want, env.ctx()) is None
    created = DRIVER.create(want, env.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["resourceId"] == resource_id()
    assert created.attrs["arn"].startswith("arn:aws:application-autoscaling:")
    live = DRIVER.observe(want, env.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.tags is not None
    assert live.tags["gitops:id"] == want.id and live.tags["gitops:stack"] == TEST_STACK


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str], None]
    path: str


DRIFT = [
    DriftCase("min capacity", "the range changed by hand (RegisterScalableTarget again)",
              lambda c, arn: c.register_scalable_target(
                  ServiceNamespace="ecs", ResourceId=resource_id(), ScalableDimension=DIMENSION,
                  MinCapacity=1), "spec.minCapacity"),
    DriftCase("scaling in suspended", "a suspended flag is drift where the spec declares it",
              lambda c, arn: c.register_scalable_target(
                  ServiceNamespace="ecs", ResourceId=resource_id(), ScalableDimension=DIMENSION,
                  SuspendedState={"DynamicScalingInSuspended": True}),
              "spec.suspendedState.dynamicScalingInSuspended"),
    DriftCase("tag changed", "a user tag changed by hand",
              lambda c, arn: c.tag_resource(ResourceARN=arn, Tags={"app": "x"}),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(env: Env, case: DriftCase) -> None:
    want = desired(suspendedState={"dynamicScalingInSuspended": False})
    created = DRIVER.create(want, env.ctx())
    case.drift(env.client(), created.attrs["arn"])
    live = DRIVER.observe(want, env.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), env.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, env.ctx()).fields) == []  # type: ignore[union-attr]


def test_undeclared_suspended_state_is_not_drift(env: Env) -> None:
    # AWS answers all three flags: a spec without suspendedState compares none of them.
    want = desired()
    DRIVER.create(want, env.ctx())
    env.client().register_scalable_target(
        ServiceNamespace="ecs", ResourceId=resource_id(), ScalableDimension=DIMENSION,
        SuspendedState={"ScheduledScalingSuspended": True})
    assert diff_fields(want.spec, DRIVER.observe(want, env.ctx()).fields) == []  # type: ignore[union-attr]


def test_deleted_out_of_band_reads_absent_and_delete_succeeds_again(env: Env) -> None:
    want = desired()
    live = DRIVER.create(want, env.ctx())
    env.client().deregister_scalable_target(ServiceNamespace="ecs", ResourceId=resource_id(),
                                            ScalableDimension=DIMENSION)
    assert DRIVER.observe(want, env.ctx()) is None
    DRIVER.delete(live, env.ctx())  # already gone: AWS says ObjectNotFoundException


def test_prefetch_makes_one_call_for_all_targets(env: Env) -> None:
    wants = [desired(s, s) for s in ("iq-theory-api", "iq-theory-frontend", "iq-theory-worker")]
    for want in wants[:2]:
        DRIVER.create(want, env.ctx())
    ctx = env.ctx()
    DRIVER.prefetch(wants, ctx)
    assert [DRIVER.observe(w, ctx) is not None for w in wants] == [True, True, False]
    assert ctx.aws.calls[("application-autoscaling", "DescribeScalableTargets")] == 1


def test_inventory_keeps_the_stacks_targets(env: Env) -> None:
    DRIVER.create(desired(), env.ctx())
    theirs = desired("theirs", "iq-theory-frontend")
    DRIVER.create(dataclasses.replace(theirs, stack="other-stack"), env.ctx("other-stack"))
    owned = DRIVER.inventory(env.ctx())
    assert list(owned) == ["applicationautoscaling.ScalableTarget/iq-theory-api"]
    assert owned["applicationautoscaling.ScalableTarget/iq-theory-api"].attrs[
        "resourceId"] == resource_id()


def test_it_takes_over_the_services_desired_count() -> None:
    # The engine shows the service's desiredCount as managed by the target, never as drift.
    assert DRIVER.takes_over == {"ecs.Service": ("desiredCount",)}


def test_min_above_max_is_refused_at_validation() -> None:
    with pytest.raises(ValueError, match="below minCapacity"):
        ScalableTargetSpec.model_validate({
            "serviceNamespace": "ecs", "resourceId": resource_id(), "scalableDimension": DIMENSION,
            "minCapacity": 5, "maxCapacity": 4})
