"""ec2.Subnet: a subnet of a VPC in one availability zone, found by its ownership tags."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws.errors import is_not_found
from controller.resources.base import Desired, Driver, Observed, RunContext, SpecModel, Tags
from controller.resources.ec2_common import (
    TaggedCollection,
    ec2_arn,
    observed_tags,
    reread,
    sync_tags,
    tags_of,
)

SUBNETS = TaggedCollection("describe_subnets", "Subnets", "subnet")


class SubnetSpec(SpecModel):
    """The subnet's `Name` tag is set to the resource's `name` on create.

    Identity is the ownership tags, not `vpcId`: when the VPC is being replaced
    (its id only known after apply) the old subnet is still found, and the
    `vpcId` change shows as the replace it is rather than as a second subnet.
    """

    vpcId: str = Field(description="usually ${ref:ec2.Vpc/NAME.id} (immutable)")
    cidrBlock: str = Field(description="IPv4 CIDR inside the VPC's block (immutable)")
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
