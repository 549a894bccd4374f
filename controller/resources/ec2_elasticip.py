"""ec2.ElasticIp: a VPC Elastic IP address, found by its ownership tags.

An Elastic IP has no name and AWS hands out its address, so the controller finds
its own by the `gitops:stack` / `gitops:id` tags written at allocation (with the
tag-filtered describe_addresses, one call for the stack's addresses: the
tagging API's index leaves Elastic IPs out in the emulator, and is not needed).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.model import Desired, Observed, SpecModel, Tags
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

ADDRESSES = TaggedCollection(
    "describe_addresses", "Addresses", "elastic-ip", "AllocationId", "release_address",
    paged=False, absent=("InvalidAllocationID.NotFound",),
)
DEFAULT_DOMAIN: Literal["vpc"] = "vpc"


class ElasticIpSpec(SpecModel):
    """An address for a NAT gateway or a public endpoint; its `Name` tag is set to the
    resource's `name` on allocation. Releasing it gives the address back for good."""

    domain: Literal["vpc"] = Field(
        default=DEFAULT_DOMAIN,
        description="vpc (the only domain since EC2-Classic retired; immutable)",
    )
    tags: Tags | None = None


class ElasticIpDriver(TaggedEc2Driver):
    kind = "ec2.ElasticIp"
    spec_model = ElasticIpSpec
    attributes = ("id", "publicIp", "arn")
    immutable = frozenset({"domain"})
    collection = ADDRESSES

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        """AWS's default domain is compared as written: `vpc` whether declared or not."""
        return {**spec, "domain": spec.get("domain") or DEFAULT_DOMAIN}

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        allocation = item["AllocationId"]
        return {"id": allocation, "publicIp": item.get("PublicIp"),
                "arn": ec2_arn(ctx, run_account(ctx), "elastic-ip", allocation)}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {"domain": item.get("Domain", DEFAULT_DOMAIN),
                                  **observed_tags(desired, item)}
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        address = ADDRESSES.owned_fresh(desired, ctx)
        if address is None:
            address = ctx.client("ec2").allocate_address(
                Domain=desired.spec.get("domain") or DEFAULT_DOMAIN,
                TagSpecifications=ADDRESSES.tag_specifications(desired),
            )
        return self.reread(desired, address["AllocationId"], ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """Only the tags change in place (`domain` is immutable)."""
        if "tags" in changed:
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, live.attrs["id"], ctx)

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Addresses have no name: a new one can be allocated before the old is released,
        so what uses it (a NAT gateway) moves over first."""
        return "create_first"
