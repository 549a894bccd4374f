"""ec2.InternetGateway: a VPC's way to the internet, found by its ownership tags.

The gateway and its attachment are one resource here: `vpcId` says which VPC it
is attached to, and a change of it moves the gateway in place (detach from the
old VPC, attach to the new) rather than replacing it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.model import READY, Desired, Observed, Readiness, SpecModel, Tags
from controller.resources import common
from controller.resources.base import RunContext
from controller.resources.ec2_common import (
    Item,
    TaggedCollection,
    TaggedEc2Driver,
    ec2_arn,
    observed_tags,
    tags_of,
)

NOT_FOUND = "InvalidInternetGatewayID.NotFound"
GATEWAYS = TaggedCollection(
    "describe_internet_gateways", "InternetGateways", "internet-gateway", "InternetGatewayId",
    "delete_internet_gateway", absent=(NOT_FOUND,),
)
# Attachment states that hold the VPC (AWS says `available` for an attached gateway).
HOLDING = ("attaching", "attached", "available")
SETTLING = ("attaching", "detaching")


class InternetGatewaySpec(SpecModel):
    """The gateway's `Name` tag is set to the resource's `name` on create. A VPC takes one
    internet gateway; a gateway serves one VPC."""

    vpcId: str = Field(description="the VPC it is attached to, usually "
                                   "${ref:ec2.Vpc/NAME.id}; a change moves it in place")
    tags: Tags | None = None


class InternetGatewayDriver(TaggedEc2Driver):
    kind = "ec2.InternetGateway"
    spec_model = InternetGatewaySpec
    attributes = ("id", "arn")
    references = ("ec2.Vpc",)
    collection = GATEWAYS

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        gateway_id = item["InternetGatewayId"]
        return {"id": gateway_id,
                "arn": ec2_arn(ctx, item["OwnerId"], "internet-gateway", gateway_id),
                "attachments": [a.get("State", "") for a in item.get("Attachments") or []]}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {"vpcId": _attached_vpc(item), **observed_tags(desired, item)}
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        gateway = GATEWAYS.owned_fresh(desired, ctx)
        if gateway is None:
            gateway = ctx.client("ec2").create_internet_gateway(
                TagSpecifications=GATEWAYS.tag_specifications(desired))["InternetGateway"]
        live = self.reread(desired, gateway["InternetGatewayId"], ctx)
        if live.fields.get("vpcId") != desired.spec["vpcId"]:
            return self.update(desired, live, ["vpcId"], ctx)
        return live

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        gateway_id = live.attrs["id"]
        if "vpcId" in changed:
            self._move(gateway_id, desired.spec["vpcId"], ctx)
        if "tags" in changed:
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, gateway_id, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Detach from every VPC (AWS refuses to delete an attached gateway), then delete.
        Read afresh: the inventory's listing may predate an attachment."""
        self._move(live.attrs["id"], None, ctx)
        super().delete(live, ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        settling = [s for s in live.attrs.get("attachments") or [] if s in SETTLING]
        if settling:
            return Readiness("progressing", f"internet gateway {settling[0]}")
        return READY

    def _move(self, gateway_id: str, vpc_id: str | None, ctx: RunContext) -> None:
        """Attach the gateway to `vpc_id` alone (None: to no VPC): detach first, since a
        gateway is attached to one VPC at a time."""
        ec2 = ctx.client("ec2")
        answer = common.absent_ok(ec2.describe_internet_gateways, absent=(NOT_FOUND,),
                                  InternetGatewayIds=[gateway_id])
        items = (answer or {}).get("InternetGateways") or []
        attached = [a["VpcId"] for item in items for a in item.get("Attachments") or []
                    if a.get("State") in HOLDING]
        for old in attached:
            if old != vpc_id:  # already detached, or the VPC gone: done
                common.absent_ok(ec2.detach_internet_gateway, InternetGatewayId=gateway_id,
                                 VpcId=old, absent=("Gateway.NotAttached", NOT_FOUND))
        if vpc_id is not None and vpc_id not in attached:
            ec2.attach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpc_id)
        self.forget(ctx, gateway_id)


def _attached_vpc(item: Item) -> str | None:
    """The VPC the gateway is attached to (or attaching to), None when detached."""
    return next((a["VpcId"] for a in item.get("Attachments") or []
                 if a.get("State") in HOLDING), None)

