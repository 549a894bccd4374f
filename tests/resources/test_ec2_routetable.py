"""ec2.RouteTable against a moto server: routes and subnets as sets, what AWS adds never
drift, hand-made routes and associations corrected, subnets disassociated before delete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, Observed
from controller.resources.ec2_routetable import RouteTableDriver, RouteTableSpec
from tests.conftest import TEST_STACK, AwsEnv
from tests.faults import Throttle

DRIVER = RouteTableDriver()
NAME = "iq-theory-private-a"


@dataclass
class Network:
    """Made out of band: a VPC, its internet gateway, two subnets, a NAT gateway."""

    vpc: str
    igw: str
    subnets: list[str]
    nat: str


@pytest.fixture
def net(aws: AwsEnv) -> Network:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
               for i in (1, 2)]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], AllocationId=allocation)
    return Network(vpc, igw, subnets, nat["NatGateway"]["NatGatewayId"])


def desired(net: Network, name: str = NAME, **spec: Any) -> Desired:
    base = {
        "vpcId": net.vpc,
        "routes": [{"destinationCidrBlock": "0.0.0.0/0", "natGatewayId": net.nat}],
        "subnetIds": [net.subnets[0]],
        "tags": {"tier": "private"},
        **spec,
    }
    return Desired("ec2.RouteTable", name, TEST_STACK, DRIVER.normalise(base))


def table(aws: AwsEnv, table_id: str) -> dict[str, Any]:
    tables = aws.client("ec2").describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    return dict(tables[0])


def test_create_then_observe_has_no_diff(aws: AwsEnv, net: Network) -> None:
    """The VPC's local route AWS adds is not drift."""
    want = desired(net)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["id"].startswith("rtb-") and ":route-table/rtb-" in again.attrs["arn"]
    live = table(aws, again.attrs["id"])
    assert {r.get("GatewayId") for r in live["Routes"]} >= {"local"}
    assert [a["SubnetId"] for a in live["Associations"]] == [net.subnets[0]]
    assert DRIVER.readiness(want, again).ready


def test_routes_and_subnets_compare_as_sets(aws: AwsEnv, net: Network) -> None:
    routes = [{"destinationCidrBlock": "10.9.0.0/16", "gatewayId": net.igw},
              {"destinationCidrBlock": "0.0.0.0/0", "natGatewayId": net.nat}]
    want = desired(net, routes=routes, subnetIds=list(reversed(net.subnets)))
    DRIVER.create(want, aws.ctx())
    reordered = desired(net, routes=list(reversed(routes)), subnetIds=net.subnets)
    assert reordered.spec == want.spec
    live = DRIVER.observe(reordered, aws.ctx())
    assert live is not None and diff_fields(reordered.spec, live.fields) == []


def test_unknown_subnets_are_not_merged() -> None:
    """Two subnets known only after apply are two entries, not one."""
    spec = DRIVER.normalise({"vpcId": "vpc-1", "subnetIds": [UNKNOWN, "subnet-b", UNKNOWN]})
    assert spec["subnetIds"] == ["subnet-b", UNKNOWN, UNKNOWN]


@pytest.mark.parametrize("spec", [
    {"vpcId": "v", "routes": [{"destinationCidrBlock": "0.0.0.0/0"}]},
    {"vpcId": "v", "routes": [{"destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-1",
                               "natGatewayId": "nat-1"}]},
    {"vpcId": "v", "routes": [{"destinationCidrBlock": "0.0.0.0/0", "gatewayId": "igw-1"},
                              {"destinationCidrBlock": "0.0.0.0/0", "natGatewayId": "nat-1"}]},
    {"vpcId": "v", "subnetIds": ["subnet-1", "subnet-1"]},
], ids=["no target", "two targets", "same destination twice", "subnet twice"])
def test_what_aws_refuses_is_a_validation_error(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RouteTableSpec.model_validate(spec)


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, Network, str], None]
    path: str


def _assoc(ec2: Any, table_id: str, subnet: str) -> str:
    tables = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"]
    return str(next(a["RouteTableAssociationId"] for a in tables[0]["Associations"]
                    if a.get("SubnetId") == subnet))


DRIFT = [
    DriftCase("route added", "a route made by hand is drift (routes are a set)",
              lambda c, n, t: c.create_route(RouteTableId=t, DestinationCidrBlock="10.9.0.0/16",
                                             GatewayId=n.igw), "spec.routes"),
    DriftCase("route deleted", "the declared route removed by hand",
              lambda c, n, t: c.delete_route(RouteTableId=t, DestinationCidrBlock="0.0.0.0/0"),
              "spec.routes"),
    DriftCase("route retargeted", "the declared route pointed elsewhere by hand",
              lambda c, n, t: c.replace_route(RouteTableId=t, DestinationCidrBlock="0.0.0.0/0",
                                              GatewayId=n.igw), "spec.routes[0].natGatewayId"),
    DriftCase("subnet added", "a subnet associated by hand",
              lambda c, n, t: c.associate_route_table(RouteTableId=t, SubnetId=n.subnets[1]),
              "spec.subnetIds"),
    DriftCase("subnet removed", "the declared subnet disassociated by hand",
              lambda c, n, t: c.disassociate_route_table(
                  AssociationId=_assoc(c, t, n.subnets[0])), "spec.subnetIds"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, n, t: c.create_tags(Resources=[t], Tags=[{"Key": "tier", "Value": "x"}]),
              "spec.tags.tier"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, net: Network, case: DriftCase) -> None:
    want = desired(net)
    table_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    case.drift(aws.client("ec2"), net, table_id)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_gateway_endpoint_routes_are_not_drift(aws: AwsEnv, net: Network) -> None:
    """An S3 gateway endpoint adds a prefix-list route to the tables it serves: AWS's."""
    want = desired(net)
    table_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    aws.client("ec2").create_vpc_endpoint(VpcId=net.vpc, ServiceName="com.amazonaws.us-east-1.s3",
                                          VpcEndpointType="Gateway", RouteTableIds=[table_id])
    assert any(r.get("DestinationPrefixListId") for r in table(aws, table_id)["Routes"])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []


def test_a_subnet_moves_from_the_table_that_held_it(aws: AwsEnv, net: Network,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A subnet has one explicit table: declaring it here moves its association. AWS
    refuses a second AssociateRouteTable with Resource.AlreadyAssociated; moto answers
    the old association's id and moves nothing, so AWS's answer is injected."""
    first = DRIVER.create(desired(net, "first"), aws.ctx())
    aws_answer = Throttle("ec2", "AssociateRouteTable", "Resource.AlreadyAssociated")
    second = DRIVER.create(desired(net, "second"), aws_answer.ctx(aws, monkeypatch))
    assert aws_answer.sent == 1
    assert [a["SubnetId"] for a in table(aws, second.attrs["id"])["Associations"]] == \
        [net.subnets[0]]
    assert table(aws, first.attrs["id"])["Associations"] == []


def test_delete_disassociates_first_and_is_idempotent(aws: AwsEnv, net: Network) -> None:
    """Works from the inventory's entry alone, even past moto's stale association of a
    deleted subnet (moto keeps it; AWS drops it with the subnet)."""
    ec2 = aws.client("ec2")
    extra = ec2.create_subnet(VpcId=net.vpc, CidrBlock="10.0.3.0/24")["Subnet"]["SubnetId"]
    DRIVER.create(desired(net, subnetIds=[*net.subnets, extra]), aws.ctx())
    ec2.delete_subnet(SubnetId=extra)
    live = DRIVER.inventory(aws.ctx())[f"ec2.RouteTable/{NAME}"]
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(desired(net), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: done
    assert DRIVER.find(live.attrs["id"], desired(net), aws.ctx()) is None


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, net: Network) -> None:
    table_id = DRIVER.create(desired(net, subnetIds=[]), aws.ctx()).attrs["id"]
    aws.client("ec2").delete_route_table(RouteTableId=table_id)
    assert DRIVER.observe(desired(net), aws.ctx()) is None


def test_prefetch_reads_all_tables_in_one_call(aws: AwsEnv, net: Network) -> None:
    wants = [desired(net, f"rt-{i}", subnetIds=[s]) for i, s in enumerate(net.subnets)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("ec2", "DescribeRouteTables")] == 1


def test_vpc_is_immutable_and_replaced_create_first(aws: AwsEnv, net: Network) -> None:
    live = DRIVER.create(desired(net), aws.ctx())
    want = desired(net, vpcId=UNKNOWN)
    assert top_level_fields(diff_fields(want.spec, live.fields)) == ["vpcId"]
    assert "vpcId" in DRIVER.immutable and DRIVER.replace_order(want, live) == "create_first"


@pytest.mark.parametrize(("states", "state"), [
    ([("associated", "")], "ready"),
    ([("associating", "")], "progressing"),
    ([("failed", "subnet is gone")], "failed"),
])
def test_readiness_is_the_associations_state(states: list[tuple[str, str]],
                                            state: str) -> None:
    """moto associates at once: the states are given as observe reads them."""
    answer = DRIVER.readiness(None, Observed(fields={}, attrs={"associationStates": states}))
    assert answer.state == state
    assert answer.ready or states[0][0] in answer.reason
