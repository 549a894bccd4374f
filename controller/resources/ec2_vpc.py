"""ec2.Vpc: a VPC with its CIDR block and DNS attributes, found by its ownership tags."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.model import Desired, Observed, SpecModel, Tags
from controller.resources.base import ReplaceOrder, RunContext
from controller.resources.ec2_common import (
    Item,
    TaggedCollection,
    TaggedEc2Driver,
    ec2_arn,
    observed_tags,
    tags_of,
)
from controller.resources.shapes import VpcCidr

VPCS = TaggedCollection("describe_vpcs", "Vpcs", "vpc", "VpcId", "delete_vpc")

# Spec field -> the describe_vpc_attribute name and answer key. AWS keeps these two
# outside describe_vpcs, so each costs one call per VPC, made only when declared.
DNS_ATTRIBUTES = {
    "enableDnsSupport": "EnableDnsSupport",
    "enableDnsHostnames": "EnableDnsHostnames",
}


class VpcSpec(SpecModel):
    """The VPC's `Name` tag is set to the resource's `name` on create; EC2 names are not
    unique, so the controller finds its VPC by the `gitops:stack` and `gitops:id` tags."""

    cidrBlock: VpcCidr = Field(description="primary IPv4 CIDR, /16 to /28, e.g. 10.0.0.0/16 "
                                           "(immutable)")
    enableDnsSupport: bool | None = Field(
        default=None, description="Amazon DNS server resolves names (AWS default true)"
    )
    enableDnsHostnames: bool | None = Field(
        default=None, description="instances get public DNS hostnames (AWS default false)"
    )
    tags: Tags | None = None


class VpcDriver(TaggedEc2Driver):
    kind = "ec2.Vpc"
    spec_model = VpcSpec
    attributes = ("id", "arn", "cidrBlock")
    immutable = frozenset({"cidrBlock"})
    collection = VPCS

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        vpc_id = item["VpcId"]
        return {"id": vpc_id, "arn": ec2_arn(ctx, item["OwnerId"], "vpc", vpc_id),
                "cidrBlock": item["CidrBlock"]}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {"cidrBlock": item["CidrBlock"], **observed_tags(desired, item)}
        for field, attribute in DNS_ATTRIBUTES.items():
            if field in desired.spec:
                fields[field] = _dns_attribute(ctx, item["VpcId"], field, attribute)
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        vpc = VPCS.owned_fresh(desired, ctx)
        if vpc is None:
            vpc = ctx.client("ec2").create_vpc(
                CidrBlock=desired.spec["cidrBlock"],
                TagSpecifications=VPCS.tag_specifications(desired),
            )["Vpc"]
        live = self.reread(desired, vpc["VpcId"], ctx)
        # AWS's defaults may differ from what git declares: set each declared attribute.
        declared = [f for f in DNS_ATTRIBUTES if desired.spec.get(f) is not None]
        return self.update(desired, live, declared, ctx) if declared else live

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        ec2 = ctx.client("ec2")
        vpc_id = live.attrs["id"]
        # AWS refuses hostnames without DNS support: turn support on first, off last.
        support_first = desired.spec.get("enableDnsSupport") is True
        order = ["enableDnsSupport", "enableDnsHostnames"]
        for field in order if support_first else reversed(order):
            if field in changed and desired.spec.get(field) is not None:
                ec2.modify_vpc_attribute(
                    VpcId=vpc_id, **{DNS_ATTRIBUTES[field]: {"Value": desired.spec[field]}}
                )
        if "tags" in changed:
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, vpc_id, ctx)

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Two VPCs may exist at once, even with the same block: the new one comes first,
        so its subnets and groups move over before the old VPC goes."""
        return "create_first"


def _dns_attribute(ctx: RunContext, vpc_id: str, field: str, attribute: str) -> bool:
    answer = ctx.client("ec2").describe_vpc_attribute(VpcId=vpc_id, Attribute=field)
    return bool(answer[attribute]["Value"])
