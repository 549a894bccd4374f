"""ec2.Subnet: a subnet of a VPC in one availability zone, found by its ownership tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from controller.aws.errors import is_not_found
from controller.resources.base import (
    Declared,
    Desired,
    Driver,
    Finding,
    Observed,
    RunContext,
    SpecModel,
    Tags,
)
from controller.resources.ec2_common import (
    TaggedCollection,
    ec2_arn,
    observed_tags,
    reread,
    sync_tags,
    tags_of,
)
from controller.resources.shapes import VpcCidr, ipv4_network

SUBNETS = TaggedCollection("describe_subnets", "Subnets", "subnet")


class SubnetSpec(SpecModel):
    """The subnet's `Name` tag is set to the resource's `name` on create.

    Identity is the ownership tags, not `vpcId`: when the VPC is being replaced
    (its id only known after apply) the old subnet is still found, and the
    `vpcId` change shows as the replace it is rather than as a second subnet.
    """

    vpcId: str = Field(description="usually ${ref:ec2.Vpc/NAME.id} (immutable)")
    cidrBlock: VpcCidr = Field(description="IPv4 CIDR inside the VPC's block, /16 to /28 "
                                           "(immutable)")
    availabilityZone: str = Field(description="e.g. us-east-1a (immutable)")
    mapPublicIpOnLaunch: bool | None = Field(
        default=None, description="give instances a public IPv4 address (AWS default false)"
    )
    tags: Tags | None = None


class SubnetDriver(Driver):
    kind = "ec2.Subnet"
    spec_model = SubnetSpec
    attributes = ("id", "arn")
    immutable = frozenset({"vpcId", "cidrBlock", "availabilityZone"})

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        return [*_outside_its_vpc(doc, stack), *_overlapping(doc, stack)]

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        SUBNETS.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        subnet = SUBNETS.find(desired, ctx)
        if subnet is None:
            return None
        fields: dict[str, Any] = {
            "vpcId": subnet["VpcId"],
            "cidrBlock": subnet["CidrBlock"],
            "availabilityZone": subnet["AvailabilityZone"],
            "mapPublicIpOnLaunch": bool(subnet.get("MapPublicIpOnLaunch", False)),
            **observed_tags(desired, subnet),
        }
        subnet_id = subnet["SubnetId"]
        arn = subnet.get("SubnetArn") or ec2_arn(ctx, subnet["OwnerId"], "subnet", subnet_id)
        return Observed(fields=fields, attrs={"id": subnet_id, "arn": arn}, tags=tags_of(subnet))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        if SUBNETS.find_fresh(desired, ctx) is None:
            ctx.client("ec2").create_subnet(
                VpcId=desired.spec["vpcId"],
                CidrBlock=desired.spec["cidrBlock"],
                AvailabilityZone=desired.spec["availabilityZone"],
                TagSpecifications=SUBNETS.tag_specifications(desired),
            )
        live = reread(self, desired, ctx, SUBNETS)
        if desired.spec.get("mapPublicIpOnLaunch") is not None:
            return self.update(desired, live, ["mapPublicIpOnLaunch"], ctx)
        return live

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        subnet_id = live.attrs["id"]
        if "mapPublicIpOnLaunch" in changed and desired.spec.get("mapPublicIpOnLaunch") is not None:
            ctx.client("ec2").modify_subnet_attribute(
                SubnetId=subnet_id,
                MapPublicIpOnLaunch={"Value": desired.spec["mapPublicIpOnLaunch"]},
            )
        if "tags" in changed:
            sync_tags(desired, live, subnet_id, ctx)
        return reread(self, desired, ctx, SUBNETS)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        try:
            ctx.client("ec2").delete_subnet(SubnetId=live.attrs["id"])
        except Exception as err:
            if not is_not_found(err):
                raise
        SUBNETS.forget(ctx)


def _outside_its_vpc(doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
    """AWS refuses a subnet whose block is not inside its VPC's: known when `vpcId` is a
    ref to a VPC of the stack and both blocks are written out."""
    vpc = stack.get(doc.refs.get(("vpcId",), ""))
    if vpc is None or vpc.kind != "ec2.Vpc":
        return []
    mine = ipv4_network(str(doc.spec.get("cidrBlock", "")))
    outer = ipv4_network(str(vpc.spec.get("cidrBlock", "")))
    if mine is None or outer is None or mine.subnet_of(outer):
        return []
    return [Finding(("spec", "cidrBlock"), f"{mine} is outside {vpc.id}'s block {outer}: a "
                                           "subnet's block lies inside its VPC's")]


def _overlapping(doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
    """AWS refuses a subnet that overlaps another of the same VPC. Reported on the later
    of the two, once, naming the earlier."""
    mine = ipv4_network(str(doc.spec.get("cidrBlock", "")))
    if mine is None:
        return []
    found: list[Finding] = []
    for other in stack.values():
        if other.id == doc.id:
            break
        if other.kind != doc.kind or _vpc_of(other) != _vpc_of(doc):
            continue
        block = ipv4_network(str(other.spec.get("cidrBlock", "")))
        if block is not None and mine.overlaps(block):
            found.append(Finding(("spec", "cidrBlock"), f"{mine} overlaps {other.id}'s block "
                                                        f"{block} in the same VPC"))
    return found


def _vpc_of(doc: Declared) -> str:
    """What names the subnet's VPC: the resource its ref points at, else the id written."""
    return doc.refs.get(("vpcId",)) or str(doc.spec.get("vpcId"))
