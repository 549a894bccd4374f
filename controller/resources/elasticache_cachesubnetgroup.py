"""elasticache.CacheSubnetGroup: the subnets an ElastiCache cluster's nodes may live in.

A replication group names its subnet group at creation and never again (moving a
cache to other subnets is a new cache), so this small kind mostly exists to be
referenced. AWS lists every subnet group of the account in pages of 100 with no tags:
a run reads that listing once, and each group's tags by its ARN.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import as_key_value_list, user_tags
from controller.model import Desired, Observed, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.elasticache_common import (
    ABSENT,
    SUBNET_GROUP_NAME,
    name_of,
    pages,
    read_tags,
    write_tags,
)
from controller.resources.tagged import by_id, stack_arns

# spec field -> ModifyCacheSubnetGroup parameter
_MODIFY = {"cacheSubnetGroupDescription": "CacheSubnetGroupDescription", "subnetIds": "SubnetIds"}


class CacheSubnetGroupSpec(SpecModel):
    """The group is named by the resource's `name` (lower case: AWS lowers it)."""

    cacheSubnetGroupDescription: str = Field(
        min_length=1, max_length=255, description="required by AWS; changeable in place")
    subnetIds: list[str] = Field(
        min_length=1, description="usually ${ref:ec2.Subnet/NAME.id} of private subnets in "
                                  "two or more zones (Multi-AZ needs two); compared as a set")
    tags: Tags | None = None


def _list(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every subnet group of the account, by name (AWS has no narrower read)."""
    return {g["CacheSubnetGroupName"]: g for g in pages(
        ctx, "describe_cache_subnet_groups", "CacheSubnetGroups")}


SUBNET_GROUPS: Listing[dict[str, Any]] = Listing("elasticache.subnetgroups", _list)


class CacheSubnetGroupDriver(Driver):
    kind = "elasticache.CacheSubnetGroup"
    name_rule = SUBNET_GROUP_NAME
    spec_model = CacheSubnetGroupSpec
    attributes = ("name", "arn", "vpcId")
    references = ("ec2.Subnet",)

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if isinstance(out.get("subnetIds"), list):
            out["subnetIds"] = sorted(set(out["subnetIds"]), key=str)  # a set, as observe reads
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        SUBNET_GROUPS.all(ctx)  # one listing (a call per 100 groups) for every group

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = SUBNET_GROUPS.get(ctx, desired.name)
        return None if group is None else _observed(group, desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        try:
            ctx.client("elasticache").create_cache_subnet_group(
                CacheSubnetGroupName=desired.name,
                CacheSubnetGroupDescription=desired.spec["cacheSubnetGroupDescription"],
                SubnetIds=desired.spec["subnetIds"],
                Tags=as_key_value_list(desired.tags()))
        except errors.ClientError as err:
            # Made since the plan read (a retried apply): the engine's next plan
            # compares it, its tags decide whether it is ours.
            if error_code(err) != "CacheSubnetGroupAlreadyExists":
                raise
        SUBNET_GROUPS.forget(ctx)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        args = {_MODIFY[f]: desired.spec[f] for f in changed if f in _MODIFY}
        if args:
            ctx.client("elasticache").modify_cache_subnet_group(
                CacheSubnetGroupName=desired.name, **args)
        if "tags" in changed:
            write_tags(ctx, live.attrs["arn"], desired, live.tags or {})
        SUBNET_GROUPS.forget(ctx)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """AWS refuses (CacheSubnetGroupInUse) while a cache still uses the group: a
        replication group deleted in this run takes minutes to go; a later run deletes it."""
        absent_ok(ctx.client("elasticache").delete_cache_subnet_group,
                  CacheSubnetGroupName=live.attrs["name"], absent=ABSENT)
        SUBNET_GROUPS.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the candidates; the run's one listing confirms them
        (the index lags a deletion), and each one's tags are read by its ARN."""
        found = []
        for arn in stack_arns(ctx, "elasticache", "subnetgroup:"):
            group = SUBNET_GROUPS.get(ctx, name_of(arn))
            if group is not None:
                found.append(Observed(fields={}, attrs=_attrs(group),
                                      tags=read_tags(ctx, group["ARN"])))
        return by_id(found, ctx)


def _attrs(group: dict[str, Any]) -> dict[str, Any]:
    return {"name": group["CacheSubnetGroupName"], "arn": group["ARN"],
            "vpcId": group.get("VpcId")}


def _observed(group: dict[str, Any], desired: Desired, ctx: RunContext) -> Observed:
    tags = read_tags(ctx, group["ARN"], desired)
    fields: dict[str, Any] = {
        "cacheSubnetGroupDescription": group.get("CacheSubnetGroupDescription", ""),
        "subnetIds": sorted(s["SubnetIdentifier"] for s in group.get("Subnets") or []),
    }
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(group), tags=tags)
