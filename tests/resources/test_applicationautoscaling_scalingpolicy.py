"""applicationautoscaling.ScalingPolicy against a moto server: convergence, drift, batching,
deletion out of band, and ownership through the scalable target (policies have no tags).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.applicationautoscaling_scalingpolicy import ScalingPolicyDriver
from tests.conftest import TEST_STACK, AwsEnv
from tests.resources.test_applicationautoscaling_scalabletarget import (
    DIMENSION,
    Env,
    ecs_services,
    resource_id,
)
from tests.resources.test_applicationautoscaling_scalabletarget import (
    DRIVER as TARGETS,
)
from tests.resources.test_applicationautoscaling_scalabletarget import (
    desired as target,
)

DRIVER = ScalingPolicyDriver()
KIND = "applicationautoscaling.ScalingPolicy"
CPU = "ECSServiceAverageCPUUtilization"


@pytest.fixture
def env(aws: AwsEnv) -> Env:
    ecs_services(aws, "iq-theory-api", "iq-theory-frontend")
    return Env(aws)


def desired(name: str = "iq-theory-api-cpu", metric: str = CPU, **config: Any) -> Desired:
    spec = {"serviceNamespace": "ecs", "resourceId": resource_id(),
            "scalableDimension": DIMENSION,
            "targetTrackingScalingPolicyConfiguration": {
                "targetValue": 60,
                "predefinedMetricSpecification": {"predefinedMetricType": metric},
                "scaleInCooldown": 120, **config}}
    return Desired(KIND, name, TEST_STACK, DRIVER.normalise(spec))


def put_by_hand(env: Env, name: str = "iq-theory-api-cpu", **config: Any) -> None:
    env.client().put_scaling_policy(
        PolicyName=name, ServiceNamespace="ecs", ResourceId=resource_id(),
        ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": CPU}, **config})


def test_create_then_observe_has_no_diff_and_is_owned_through_its_target(env: Env) -> None:
    TARGETS.create(target(), env.ctx())
    want = desired()
    assert DRIVER.observe(want, env.ctx()) is None
    created = DRIVER.create(want, env.ctx())
    assert diff_fields(want.spec, created.fields) == []
    live = DRIVER.observe(want, env.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.attrs["name"] == want.name and "policyName/iq-theory-api-cpu" in live.attrs["arn"]
    assert live.tags is not None
    assert (live.tags["gitops:stack"], live.tags["gitops:id"]) == (TEST_STACK, want.id)


def test_a_whole_number_target_is_the_double_aws_answers() -> None:
    spec = desired().spec["targetTrackingScalingPolicyConfiguration"]
    assert spec["targetValue"] == 60.0 and isinstance(spec["targetValue"], float)


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Env], None]
    path: str


DRIFT = [
    DriftCase("target value", "the policy put again by hand with another target",
              lambda e: put_by_hand(e, TargetValue=90.0, ScaleInCooldown=120),
              "spec.targetTrackingScalingPolicyConfiguration.targetValue"),
    DriftCase("cooldown", "a declared cooldown changed by hand",
              lambda e: put_by_hand(e, TargetValue=60.0, ScaleInCooldown=10),
              "spec.targetTrackingScalingPolicyConfiguration.scaleInCooldown"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(env: Env, case: DriftCase) -> None:
    TARGETS.create(target(), env.ctx())
    want = desired()
    DRIVER.create(want, env.ctx())
    case.drift(env)
    live = DRIVER.observe(want, env.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), env.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, env.ctx()).fields) == []  # type: ignore[union-attr]


def test_undeclared_settings_are_not_drift(env: Env) -> None:
    # AWS fills in disableScaleIn and the cooldowns: a spec without them compares neither.
    TARGETS.create(target(), env.ctx())
    want = desired()
    put_by_hand(env, TargetValue=60.0, ScaleInCooldown=120, ScaleOutCooldown=5,
                DisableScaleIn=True)
    assert diff_fields(want.spec, DRIVER.observe(want, env.ctx()).fields) == []  # type: ignore[union-attr]


def test_deleted_out_of_band_reads_absent_and_delete_succeeds_again(env: Env) -> None:
    TARGETS.create(target(), env.ctx())
    want = desired()
    live = DRIVER.create(want, env.ctx())
    env.client().delete_scaling_policy(PolicyName=want.name, ServiceNamespace="ecs",
                                       ResourceId=resource_id(), ScalableDimension=DIMENSION)
    assert DRIVER.observe(want, env.ctx()) is None
    DRIVER.delete(live, env.ctx())  # already gone: AWS says ObjectNotFoundException


def test_prefetch_makes_one_call_for_a_targets_policies(env: Env) -> None:
    TARGETS.create(target(), env.ctx())
    wants = [desired(), desired("iq-theory-api-memory", "ECSServiceAverageMemoryUtilization"),
             desired("absent")]
    for want in wants[:2]:
        DRIVER.create(want, env.ctx())
    ctx = env.ctx()
    DRIVER.prefetch(wants, ctx)
    assert [DRIVER.observe(w, ctx) is not None for w in wants] == [True, True, False]
    assert ctx.aws.calls[("application-autoscaling", "DescribeScalingPolicies")] == 1


def test_ownership_follows_the_target(env: Env) -> None:
    # Untagged target (made by hand): the policy carries no ownership either (adopt).
    env.client().register_scalable_target(ServiceNamespace="ecs", ResourceId=resource_id(),
                                          ScalableDimension=DIMENSION, MinCapacity=1,
                                          MaxCapacity=2)
    put_by_hand(env, TargetValue=60.0)
    assert DRIVER.observe(desired(), env.ctx()).tags == {}  # type: ignore[union-attr]
    # A target of another stack: the policy is that stack's (refused, never pruned by us).
    mine = target(name="iq-theory-frontend", service="iq-theory-frontend")
    TARGETS.create(dataclasses.replace(mine, stack="other-stack"), env.ctx())
    theirs = dataclasses.replace(desired("frontend-cpu"), spec={
        **desired("frontend-cpu").spec, "resourceId": resource_id("iq-theory-frontend")})
    DRIVER.create(theirs, env.ctx())
    live = DRIVER.observe(theirs, env.ctx())
    assert live is not None and live.tags is not None
    assert live.tags["gitops:stack"] == "other-stack"


def test_inventory_is_the_policies_on_the_stacks_targets(env: Env) -> None:
    TARGETS.create(target(), env.ctx())
    DRIVER.create(desired(), env.ctx())
    put_by_hand(env, "made-by-hand", TargetValue=50.0)  # on our target: ours to prune
    other = dataclasses.replace(target("fe", "iq-theory-frontend"), stack="other-stack")
    TARGETS.create(other, env.ctx())
    env.client().put_scaling_policy(
        PolicyName="theirs", ServiceNamespace="ecs", ResourceId=resource_id("iq-theory-frontend"),
        ScalableDimension=DIMENSION, PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 50.0, "PredefinedMetricSpecification": {"PredefinedMetricType": CPU}})
    owned = DRIVER.inventory(env.ctx())
    assert sorted(owned) == [f"{KIND}/iq-theory-api-cpu", f"{KIND}/made-by-hand"]
    assert owned[f"{KIND}/made-by-hand"].attrs["resourceId"] == resource_id()
