"""elbv2.LoadBalancer against a moto server: convergence, drift, batching, deletion out of
band, deletion protection, readiness. `network` and `load_balancer` are reused by the
target group, listener and rule tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.elbv2_loadbalancer import DeletionProtected, LoadBalancerDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = LoadBalancerDriver()
NAME = "iq-theory-alb"


@dataclass
class Network:
    vpc: str
    subnets: list[str]  # three, in three zones
    groups: list[str]  # two security groups


def network(aws: AwsEnv) -> Network:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("abc")]
    groups = [ec2.create_security_group(GroupName=f"alb-{i}", Description="alb",
                                        VpcId=vpc)["GroupId"] for i in range(2)]
    return Network(vpc, subnets, groups)


def desired(net: Network, name: str = NAME, **spec: Any) -> Desired:
    base = {"scheme": "internet-facing", "subnets": net.subnets[:2],
            "securityGroups": net.groups[:1],
            "attributes": {"idle_timeout.timeout_seconds": 60,
                           "deletion_protection.enabled": False},
            "tags": {"app": "iq-theory"}}
    return Desired("elbv2.LoadBalancer", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def load_balancer(aws: AwsEnv, net: Network, name: str = NAME) -> str:
    """A load balancer made through the driver; its ARN."""
    return str(DRIVER.create(desired(net, name), aws.ctx()).attrs["arn"])


@pytest.fixture
def net(aws: AwsEnv) -> Network:
    return network(aws)


def test_create_then_observe_has_no_diff(aws: AwsEnv, net: Network) -> None:
    want = desired(net)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert set(DRIVER.attributes) <= set(again.attrs) and again.attrs["name"] == NAME
    assert again.tags is not None and again.tags["gitops:id"] == "elbv2.LoadBalancer/" + NAME
    assert again.tags["gitops:stack"] == TEST_STACK
    # refs read these: the DNS name and zone for an alias record, the ARN for listeners
    assert again.attrs["dnsName"] and again.attrs["canonicalHostedZoneId"]


def test_sets_and_attribute_values_read_as_aws_returns_them(aws: AwsEnv, net: Network) -> None:
    """Subnets and groups are sets; attribute values are AWS's text ("60", "false")."""
    want = desired(net, subnets=list(reversed(net.subnets[:2])))
    assert want.spec["attributes"] == {"idle_timeout.timeout_seconds": "60",
                                       "deletion_protection.enabled": "false"}
    live = DRIVER.create(want, aws.ctx())
    assert diff_fields(desired(net).spec, live.fields) == []


def test_undeclared_attributes_are_not_compared(aws: AwsEnv, net: Network) -> None:
    DRIVER.create(desired(net), aws.ctx())
    want = desired(net, attributes={"idle_timeout.timeout_seconds": "60"})
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.fields["attributes"] == {"idle_timeout.timeout_seconds": "60"}


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str, Network], None]
    path: str


DRIFT = [
    DriftCase("subnets", "a set changed by hand (SetSubnets)",
              lambda c, arn, n: c.set_subnets(LoadBalancerArn=arn, Subnets=n.subnets[1:]),
              "spec.subnets"),
    DriftCase("security groups", "a set changed by hand (SetSecurityGroups)",
              lambda c, arn, n: c.set_security_groups(LoadBalancerArn=arn,
                                                      SecurityGroups=n.groups),
              "spec.securityGroups"),
    DriftCase("idle timeout", "a declared attribute changed by hand",
              lambda c, arn, n: c.modify_load_balancer_attributes(
                  LoadBalancerArn=arn,
                  Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}]),
              "spec.attributes.idle_timeout.timeout_seconds"),
    DriftCase("tag removed", "a declared tag deleted by hand",
              lambda c, arn, n: c.remove_tags(ResourceArns=[arn], TagKeys=["app"]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, net: Network, case: DriftCase) -> None:
    want = desired(net)
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    case.drift(aws.client("elbv2"), arn, net)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_scheme_is_immutable(aws: AwsEnv, net: Network) -> None:
    live = DRIVER.create(desired(net), aws.ctx())
    changes = diff_fields(desired(net, scheme="internal").spec, live.fields)
    assert top_level_fields(changes) == ["scheme"] and "scheme" in DRIVER.immutable


def test_deleted_out_of_band_reads_absent_and_delete_is_idempotent(aws: AwsEnv,
                                                                    net: Network) -> None:
    live = DRIVER.create(desired(net), aws.ctx())
    aws.client("elbv2").delete_load_balancer(LoadBalancerArn=live.attrs["arn"])
    assert DRIVER.observe(desired(net), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: succeeds


def test_deletion_protection_refuses_the_delete_in_words(aws: AwsEnv, net: Network) -> None:
    """AWS refuses (OperationNotPermitted); the emulator would delete it, so the driver reads
    the attribute first. It never turns the protection off by itself."""
    want = desired(net, attributes={"deletion_protection.enabled": True})
    live = DRIVER.create(want, aws.ctx())
    with pytest.raises(DeletionProtected, match=r"deletion_protection\.enabled: false in git"):
        DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is not None
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and again.fields["attributes"] == {
        "deletion_protection.enabled": "true"}
    note = DRIVER.plan_note("replace", desired(net, scheme="internal"), again, ["scheme"])
    assert note is not None and "deletion protection is on" in note


def test_prefetch_reads_all_load_balancers_in_one_listing(aws: AwsEnv, net: Network) -> None:
    wants = [desired(net, f"alb-{i}", attributes={}) for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(net, "absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(net, "absent"), ctx) is None
    assert ctx.aws.calls[("elbv2", "DescribeLoadBalancers")] == 1
    assert ctx.aws.calls[("elbv2", "DescribeTags")] == 1
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    assert ctx.aws.calls[("elbv2", "DescribeTags")] == 1  # the inventory reads the same


@pytest.mark.parametrize(("state", "ready"), [
    ("provisioning", "progressing"), ("active", "ready"), ("active_impaired", "ready"),
    ("failed", "failed")])
def test_readiness_is_the_load_balancers_state(state: str, ready: str) -> None:
    live = Observed(fields={}, attrs={"arn": "arn", "name": NAME, "state": state})
    readiness = DRIVER.readiness(None, live)
    assert readiness.state == ready
    assert readiness.ready or state in readiness.reason
