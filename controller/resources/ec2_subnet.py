"""ec2.Subnet: a subnet of a VPC in one availability zone, found by its ownership tags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from controller.model import Declared, Desired, Finding, Observed, SpecModel, Tags
from controller.resources.base import ReplaceOrder, RunContext
from controller.resources.ec2_common import (
    Item,
    TaggedCollection,
    TaggedEc2Driver,
    ec2_arn,
    observed_tags,
    tags_of,
)
from controller.resources.shapes import VpcCidr, ipv4_network

SUBNETS = TaggedCollection("describe_subnets", "Subnets", "subnet", "SubnetId", "delete_subnet")


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


class SubnetDriver(TaggedEc2Driver):
    kind = "ec2.Subnet"
    spec_model = SubnetSpec
    attributes = ("id", "arn")
    immutable = frozenset({"vpcId", "cidrBlock", "availabilityZone"})
    references = ("ec2.Vpc",)
    collection = SUBNETS

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        return [*_outside_its_vpc(doc, stack), *_overlapping(doc, stack)]

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        subnet_id = item["SubnetId"]
        arn = item.get("SubnetArn") or ec2_arn(ctx, item["OwnerId"], "subnet", subnet_id)
        return {"id": subnet_id, "arn": arn}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {
            "vpcId": item["VpcId"],
            "cidrBlock": item["CidrBlock"],
            "availabilityZone": item["AvailabilityZone"],
            "mapPublicIpOnLaunch": bool(item.get("MapPublicIpOnLaunch", False)),
            **observed_tags(desired, item),
        }
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        subnet = SUBNETS.owned_fresh(desired, ctx)
        if subnet is None:
            subnet = ctx.client("ec2").create_subnet(
                VpcId=desired.spec["vpcId"],
                CidrBlock=desired.spec["cidrBlock"],
                AvailabilityZone=desired.spec["availabilityZone"],
                TagSpecifications=SUBNETS.tag_specifications(desired),
            )["Subnet"]
        live = self.reread(desired, subnet["SubnetId"], ctx)
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
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, subnet_id, ctx)

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Subnets of one VPC may not overlap: the new one comes first when it lies in
        another VPC or its block is apart from the old one's; else the old one goes first."""
        if "vpcId" in live.fields and desired.spec.get("vpcId") != live.fields["vpcId"]:
            return "create_first"
        new = ipv4_network(str(desired.spec.get("cidrBlock", "")))
        old = ipv4_network(str(live.fields.get("cidrBlock", "")))
        if new is None or old is None or new.overlaps(old):
            return "delete_first"
        return "create_first"


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
