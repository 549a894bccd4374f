"""ec2.Vpc: a VPC with its CIDR block and DNS attributes, found by its ownership tags."""

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
from controller.resources.shapes import VpcCidr

VPCS = TaggedCollection("describe_vpcs", "Vpcs", "vpc")

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


class VpcDriver(Driver):
    kind = "ec2.Vpc"
    spec_model = VpcSpec
    attributes = ("id", "arn", "cidrBlock")
    immutable = frozenset({"cidrBlock"})

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        VPCS.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        vpc = VPCS.find(desired, ctx)
        if vpc is None:
            return None
        vpc_id = vpc["VpcId"]
        fields: dict[str, Any] = {"cidrBlock": vpc["CidrBlock"], **observed_tags(desired, vpc)}
        for field, attribute in DNS_ATTRIBUTES.items():
            if field in desired.spec:
                fields[field] = _dns_attribute(ctx, vpc_id, field, attribute)
        attrs = {
            "id": vpc_id,
            "arn": ec2_arn(ctx, vpc["OwnerId"], "vpc", vpc_id),
            "cidrBlock": vpc["CidrBlock"],
        }
        return Observed(fields=fields, attrs=attrs, tags=tags_of(vpc))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        if VPCS.find_fresh(desired, ctx) is None:
            ctx.client("ec2").create_vpc(
                CidrBlock=desired.spec["cidrBlock"],
                TagSpecifications=VPCS.tag_specifications(desired),
            )
        live = reread(self, desired, ctx, VPCS)
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
            sync_tags(desired, live, vpc_id, ctx)
        return reread(self, desired, ctx, VPCS)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        try:
            ctx.client("ec2").delete_vpc(VpcId=live.attrs["id"])
        except Exception as err:
            if not is_not_found(err):
                raise
        VPCS.forget(ctx)


def _dns_attribute(ctx: RunContext, vpc_id: str, field: str, attribute: str) -> bool:
    answer = ctx.client("ec2").describe_vpc_attribute(VpcId=vpc_id, Attribute=field)
    return bool(answer[attribute]["Value"])
