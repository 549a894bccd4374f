"""elbv2.TargetGroup against a moto server: convergence, drift, batching, deletion out of
band, the in-use refusal and its plan note."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.elbv2_targetgroup import TargetGroupDriver, TargetGroupInUse
from tests.conftest import TEST_STACK, AwsEnv
from tests.resources.test_elbv2_loadbalancer import Network, load_balancer, network

DRIVER = TargetGroupDriver()
NAME = "iq-theory-api"


@pytest.fixture
def net(aws: AwsEnv) -> Network:
    return network(aws)


def desired(vpc: str, name: str = NAME, **spec: Any) -> Desired:
    base = {"protocol": "HTTP", "port": 8080, "vpcId": vpc, "targetType": "ip",
            "healthCheck": {"path": "/health", "matcher": 200, "intervalSeconds": 15,
                            "port": "traffic-port"},
            "attributes": {"deregistration_delay.timeout_seconds": 30},
            "tags": {"app": "iq-theory"}}
    return Desired("elbv2.TargetGroup", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv, net: Network) -> None:
    want = desired(net.vpc)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["arnSuffix"].startswith(f"targetgroup/{NAME}/")
    assert again.tags is not None and again.tags["gitops:id"] == "elbv2.TargetGroup/" + NAME


def test_undeclared_health_check_keys_are_not_compared(aws: AwsEnv, net: Network) -> None:
    """AWS fills in thresholds and timeouts: only what git writes compares."""
    want = desired(net.vpc, healthCheck={"path": "/"})
    live = DRIVER.create(want, aws.ctx())
    assert live.fields["healthCheck"]["healthyThresholdCount"] == 5
    assert diff_fields(want.spec, live.fields) == []


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str], None]
    path: str


DRIFT = [
    DriftCase("health path", "a declared health-check key changed by hand",
              lambda c, arn: c.modify_target_group(TargetGroupArn=arn, HealthCheckPath="/"),
              "spec.healthCheck.path"),
    DriftCase("matcher", "a nested map of AWS's (Matcher.HttpCode) read as text",
              lambda c, arn: c.modify_target_group(TargetGroupArn=arn,
                                                   Matcher={"HttpCode": "200-399"}),
              "spec.healthCheck.matcher"),
    DriftCase("deregistration delay", "a declared attribute changed by hand",
              lambda c, arn: c.modify_target_group_attributes(
                  TargetGroupArn=arn,
                  Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "300"}]),
              "spec.attributes.deregistration_delay.timeout_seconds"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, arn: c.add_tags(ResourceArns=[arn], Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, net: Network, case: DriftCase) -> None:
    want = desired(net.vpc)
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    case.drift(aws.client("elbv2"), arn)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


@pytest.mark.parametrize(("field", "value"), [("port", 8081), ("targetType", "instance")])
def test_immutable_fields_diff_as_replace_with_a_note(aws: AwsEnv, net: Network, field: str,
                                                      value: Any) -> None:
    live = DRIVER.create(desired(net.vpc), aws.ctx())
    want = desired(net.vpc, **{field: value})
    assert top_level_fields(diff_fields(want.spec, live.fields)) == [field]
    assert field in DRIVER.immutable
    assert DRIVER.replace_order(want, live) == "delete_first"  # the name is unique
    note = DRIVER.plan_note("replace", want, live, [field])
    assert note is not None and "ResourceInUse" in note


def test_deleted_out_of_band_reads_absent_and_delete_is_idempotent(aws: AwsEnv,
                                                                    net: Network) -> None:
    live = DRIVER.create(desired(net.vpc), aws.ctx())
    aws.client("elbv2").delete_target_group(TargetGroupArn=live.attrs["arn"])
    assert DRIVER.observe(desired(net.vpc), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())


def test_a_group_in_use_is_refused_in_words(aws: AwsEnv, net: Network) -> None:
    live = DRIVER.create(desired(net.vpc), aws.ctx())
    aws.client("elbv2").create_listener(
        LoadBalancerArn=load_balancer(aws, net), Port=80, Protocol="HTTP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": live.attrs["arn"]}])
    with pytest.raises(TargetGroupInUse, match="listener or rule forwards to"):
        DRIVER.delete(live, aws.ctx())


def test_prefetch_reads_all_groups_in_one_listing(aws: AwsEnv, net: Network) -> None:
    wants = [desired(net.vpc, f"tg-{i}", attributes={}) for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(net.vpc, "absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(net.vpc, "absent"), ctx) is None
    assert ctx.aws.calls[("elbv2", "DescribeTargetGroups")] == 1
    assert ctx.aws.calls[("elbv2", "DescribeTags")] == 1
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
