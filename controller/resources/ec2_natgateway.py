"""ec2.NatGateway: outbound internet for private subnets, found by its ownership tags.

Nothing of a NAT gateway changes in place but its tags. AWS keeps a deleted one
listed for about an hour (`deleting`, then `deleted`): those are not the resource
any more. A delete waits until AWS says `deleted`, since until then the gateway
holds its Elastic IP (which cannot be released or given to a new gateway) and
keeps the VPC's internet gateway from being detached.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from controller.model import READY, Desired, FieldError, Observed, Readiness, SpecModel, Tags
from controller.resources.base import ReplaceOrder, RunContext
from controller.resources.ec2_common import (
    Item,
    TaggedCollection,
    TaggedEc2Driver,
    ec2_arn,
    observed_tags,
    run_account,
    tags_of,
)

NOT_FOUND = ("NatGatewayNotFound", "InvalidNatGatewayID.NotFound")
NAT_GATEWAYS = TaggedCollection(
    "describe_nat_gateways", "NatGateways", "natgateway", "NatGatewayId", "delete_nat_gateway",
    filter_param="Filter", gone=frozenset({"deleting", "deleted"}), absent=NOT_FOUND,
)
DEFAULT_CONNECTIVITY: Literal["public"] = "public"
# How long a delete waits for `deleted` (AWS takes about a minute; 10 minutes at most).
DELETE_WAIT = {"Delay": 5, "MaxAttempts": 120}


class NatGatewaySpec(SpecModel):
    """A public NAT gateway lives in a public subnet (one routed to the internet gateway)
    with an Elastic IP of its own; AWS fails it when the VPC has no internet gateway."""

    subnetId: str = Field(description="a public subnet, usually ${ref:ec2.Subnet/NAME.id} "
                                      "(immutable)")
    allocationId: str | None = Field(
        default=None, description="the Elastic IP, usually ${ref:ec2.ElasticIp/NAME.id}: "
                                  "required for public, none for private (immutable)")
    connectivityType: Literal["public", "private"] = Field(
        default=DEFAULT_CONNECTIVITY, description="public (default) or private (immutable)")
    tags: Tags | None = None

    @model_validator(mode="after")
    def _address_fits_connectivity(self) -> NatGatewaySpec:
        if self.connectivityType == "public" and not self.allocationId:
            raise FieldError(("allocationId",), "a public NAT gateway needs an Elastic IP: "
                                                "${ref:ec2.ElasticIp/NAME.id}")
        if self.connectivityType == "private" and self.allocationId:
            raise FieldError(("allocationId",), "a private NAT gateway takes no Elastic IP")
        return self


class NatGatewayDriver(TaggedEc2Driver):
    kind = "ec2.NatGateway"
    spec_model = NatGatewaySpec
    attributes = ("id", "arn", "publicIp")
    immutable = frozenset({"subnetId", "allocationId", "connectivityType"})
    # The internet gateway too: AWS cannot detach it while a NAT gateway's address is
    # mapped in the VPC, so prune deletes NAT gateways first.
    references = ("ec2.Subnet", "ec2.ElasticIp", "ec2.InternetGateway")
    collection = NAT_GATEWAYS

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        return {**spec, "connectivityType": spec.get("connectivityType") or DEFAULT_CONNECTIVITY}

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        nat_id = item["NatGatewayId"]
        primary = _primary_address(item)
        return {"id": nat_id, "arn": ec2_arn(ctx, run_account(ctx), "natgateway", nat_id),
                "publicIp": primary.get("PublicIp"), "state": item.get("State"),
                "failure": item.get("FailureMessage") or item.get("FailureCode")}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {
            "subnetId": item["SubnetId"],
            "connectivityType": item.get("ConnectivityType") or DEFAULT_CONNECTIVITY,
            **observed_tags(desired, item),
        }
        allocation = _primary_address(item).get("AllocationId")
        if allocation or "allocationId" in desired.spec:
            fields["allocationId"] = allocation
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        nat = NAT_GATEWAYS.owned_fresh(desired, ctx)
        if nat is None:
            spec = desired.spec
            args: dict[str, Any] = {
                "SubnetId": spec["subnetId"],
                "ConnectivityType": spec.get("connectivityType") or DEFAULT_CONNECTIVITY,
                "TagSpecifications": NAT_GATEWAYS.tag_specifications(desired),
            }
            if spec.get("allocationId"):
                args["AllocationId"] = spec["allocationId"]
            nat = ctx.client("ec2").create_nat_gateway(**args)["NatGateway"]
        # `pending` for a minute or two: readiness says so, and what routes to it waits.
        return self.reread(desired, nat["NatGatewayId"], ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """Only the tags change in place: every other field is immutable."""
        if "tags" in changed:
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, live.attrs["id"], ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Delete, then wait for `deleted`: until then the Elastic IP stays associated."""
        super().delete(live, ctx)
        waiter = ctx.client("ec2").get_waiter("nat_gateway_deleted")
        waiter.wait(NatGatewayIds=[live.attrs["id"]], WaiterConfig=DELETE_WAIT)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        state = live.attrs.get("state")
        if state == "pending":
            return Readiness("progressing", "NAT gateway pending")
        if state == "failed":
            why = live.attrs.get("failure") or "no reason given"
            return Readiness("failed", f"NAT gateway failed: {why}")
        return READY

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """An Elastic IP serves one NAT gateway: with the same address the old gateway must
        go first; with another (or none, private) the new one comes first, so the route
        tables move to it before the old one goes."""
        same = desired.spec.get("allocationId")
        if same and same == live.fields.get("allocationId"):
            return "delete_first"
        return "create_first"


def _primary_address(item: Item) -> dict[str, Any]:
    """The gateway's primary address (the one given at create), or {}."""
    addresses: list[dict[str, Any]] = item.get("NatGatewayAddresses") or []
    primary = [a for a in addresses if a.get("IsPrimary")]
    return (primary or addresses or [{}])[0]
