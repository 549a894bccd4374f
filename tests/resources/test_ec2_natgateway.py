"""ec2.NatGateway against a moto server: create, tags, readiness from AWS's states,
deleted gateways still listed, replace order by Elastic IP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, Observed
from controller.resources.ec2_natgateway import NatGatewayDriver, NatGatewaySpec
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = NatGatewayDriver()
NAME = "iq-theory-nat-a"


@dataclass
class Network:
    """Made out of band: a VPC with its internet gateway (AWS fails a public NAT gateway
    without one; moto does not check), a public subnet, two unassociated Elastic IPs."""

    subnet: str
    allocations: list[str]


@pytest.fixture
def net(aws: AwsEnv) -> Network:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.101.0/24",
                               AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
    allocations = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(2)]
    return Network(subnet, allocations)


def desired(net: Network, name: str = NAME, **spec: Any) -> Desired:
    base = {"subnetId": net.subnet, "allocationId": net.allocations[0],
            "tags": {"app": "iq-theory"}, **spec}
    return Desired("ec2.NatGateway", name, TEST_STACK, DRIVER.normalise(base))


def test_create_then_observe_has_no_diff(aws: AwsEnv, net: Network) -> None:
    """connectivityType is not written: public is compared on both sides."""
    want = desired(net)
    assert want.spec["connectivityType"] == "public"
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["id"].startswith("nat-") and ":natgateway/nat-" in again.attrs["arn"]
    assert again.attrs["publicIp"]
    assert DRIVER.readiness(want, again).ready  # moto: available at once
    nat = aws.client("ec2").describe_nat_gateways(NatGatewayIds=[again.attrs["id"]])
    tags = {t["Key"]: t["Value"] for t in nat["NatGateways"][0]["Tags"]}
    assert tags["gitops:id"] == "ec2.NatGateway/" + NAME and tags["Name"] == NAME


@pytest.mark.parametrize("spec", [
    {"subnetId": "subnet-1"},  # public without an address
    {"subnetId": "subnet-1", "connectivityType": "private", "allocationId": "eipalloc-1"},
], ids=["public without eip", "private with eip"])
def test_the_address_must_fit_the_connectivity(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Elastic IP"):
        NatGatewaySpec.model_validate(spec)


def test_tag_drift_is_seen_and_corrected(aws: AwsEnv, net: Network) -> None:
    want = desired(net)
    nat_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    aws.client("ec2").create_tags(Resources=[nat_id], Tags=[{"Key": "app", "Value": "x"}])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.tags.app"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


@pytest.mark.parametrize("field", ["allocationId", "subnetId"])
def test_a_new_address_or_subnet_is_a_replace(aws: AwsEnv, net: Network, field: str) -> None:
    live = DRIVER.create(desired(net), aws.ctx())
    value = net.allocations[1] if field == "allocationId" else "subnet-0123456789abcdef0"
    changes = diff_fields(desired(net, **{field: value}).spec, live.fields)
    assert top_level_fields(changes) == [field] and field in DRIVER.immutable


def test_deleted_gateways_stay_listed_but_are_gone(aws: AwsEnv, net: Network) -> None:
    """AWS (and moto) list a deleted gateway for an hour: observe, inventory and find
    skip it, and a second delete succeeds."""
    live = DRIVER.create(desired(net), aws.ctx())
    DRIVER.delete(live, aws.ctx())
    listed = aws.client("ec2").describe_nat_gateways(NatGatewayIds=[live.attrs["id"]])
    assert [n["State"] for n in listed["NatGateways"]] == ["deleted"]
    assert DRIVER.observe(desired(net), aws.ctx()) is None
    assert DRIVER.inventory(aws.ctx()) == {}
    assert DRIVER.find(live.attrs["id"], desired(net), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, net: Network) -> None:
    nat_id = DRIVER.create(desired(net), aws.ctx()).attrs["id"]
    aws.client("ec2").delete_nat_gateway(NatGatewayId=nat_id)
    assert DRIVER.observe(desired(net), aws.ctx()) is None


def test_prefetch_reads_all_gateways_in_one_call(aws: AwsEnv, net: Network) -> None:
    wants = [desired(net, f"nat-{i}", allocationId=a) for i, a in enumerate(net.allocations)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("ec2", "DescribeNatGateways")] == 1


@pytest.mark.parametrize(("change", "order"), [
    ({}, "delete_first"),  # same address (a new subnet): it serves one gateway at a time
    ({"allocationId": "eipalloc-new"}, "create_first"),
    ({"allocationId": UNKNOWN}, "create_first"),  # its Elastic IP is being replaced
], ids=["same eip", "new eip", "eip being replaced"])
def test_replace_order_follows_the_address(change: dict[str, Any], order: str) -> None:
    live = Observed(fields={"subnetId": "subnet-1", "allocationId": "eipalloc-old",
                            "connectivityType": "public"}, attrs={"id": "nat-1"})
    want = Desired("ec2.NatGateway", NAME, TEST_STACK, DRIVER.normalise(
        {"subnetId": "subnet-2", "allocationId": "eipalloc-old", **change}))
    assert DRIVER.replace_order(want, live) == order


@pytest.mark.parametrize(("state", "failure", "readiness"), [
    ("pending", None, "progressing"),
    ("available", None, "ready"),
    ("failed", "Network vpc-1 has no Internet gateway attached", "failed"),
])
def test_readiness_is_the_gateways_state(state: str, failure: str | None,
                                         readiness: str) -> None:
    """moto's gateways are available at once: the states are given as observe reads them."""
    live = Observed(fields={}, attrs={"state": state, "failure": failure})
    answer = DRIVER.readiness(None, live)
    assert answer.state == readiness
    assert answer.ready or state in answer.reason
    assert failure is None or failure in answer.reason
