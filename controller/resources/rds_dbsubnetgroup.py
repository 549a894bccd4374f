"""rds.DBSubnetGroup: the subnets (in two or more AZs) an RDS instance may be placed in.

RDS stores a subnet group's name in lower case whatever case it was given: the
driver looks the group up by the lower-cased name, so a name with capitals is
never taken for absent (and re-created) nor shown as drift.

Reads: one paged DescribeDBSubnetGroups lists every group of the account once per
run (AWS has no filter for it), shared by observe and inventory. The describe
carries no tags, and the tagging index lags behind a create (and the emulator
does not index subnet groups): each group's tags are one ListTagsForResource.
The subnets and the description change in place (ModifyDBSubnetGroup).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from controller.aws.tags import user_tags
from controller.model import (
    Declared,
    Desired,
    Finding,
    NameRule,
    Observed,
    Readiness,
    SpecModel,
    Tags,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.rds_common import (
    RDS_ABSENT,
    describe_all,
    forget_tags,
    rds_tag_list,
    read_tags,
    write_tags,
)
from controller.resources.tagged import by_id

# AWS: up to 255 letters, digits, periods, underscores, spaces or hyphens; not "default".
SUBNET_GROUP_NAME = NameRule(r"(?i)(?!default$)[a-z0-9._ -]{1,255}",
                             "1-255 letters, digits, spaces and ._-, not 'default'")
READY_STATUS = "Complete"  # SubnetGroupStatus of a usable group


class DBSubnetGroupSpec(SpecModel):
    """The group is named by the resource's `name` (stored lower case by AWS)."""

    dbSubnetGroupDescription: str = Field(min_length=1, max_length=255,
                                          description="required by AWS; changeable in place")
    subnetIds: list[str] = Field(min_length=2, description="subnets in at least two AZs "
                                                           "of one VPC (a set: order is free)")
    tags: Tags | None = None


def _load(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every subnet group of the account by its (lower-case) name."""
    groups = describe_all(ctx, "describe_db_subnet_groups", "DBSubnetGroups")
    return {g["DBSubnetGroupName"]: g for g in groups}


SUBNET_GROUPS: Listing[dict[str, Any]] = Listing("rds.subnet-groups", _load)


def aws_name(name: str) -> str:
    """The name as RDS stores it."""
    return name.lower()


class DBSubnetGroupDriver(Driver):
    kind = "rds.DBSubnetGroup"
    name_rule = SUBNET_GROUP_NAME
    spec_model = DBSubnetGroupSpec
    attributes = ("name", "arn", "vpcId")
    references = ("ec2.Subnet",)

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "subnetIds" in out:
            out["subnetIds"] = sorted(set(out["subnetIds"]))  # a set in AWS
        return out

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        return _one_zone(doc, stack)

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        SUBNET_GROUPS.all(ctx)  # one listing serves every group of the run

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = SUBNET_GROUPS.get(ctx, aws_name(desired.name))
        return None if group is None else _observed(group, desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        ctx.client("rds").create_db_subnet_group(
            DBSubnetGroupName=desired.name,
            DBSubnetGroupDescription=desired.spec["dbSubnetGroupDescription"],
            SubnetIds=list(desired.spec["subnetIds"]),
            Tags=rds_tag_list(desired.tags()),
        )
        SUBNET_GROUPS.forget(ctx)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        if {"subnetIds", "dbSubnetGroupDescription"} & set(changed):
            # SubnetIds is required by the call: the whole declared set is written.
            ctx.client("rds").modify_db_subnet_group(
                DBSubnetGroupName=live.attrs["name"],
                DBSubnetGroupDescription=desired.spec["dbSubnetGroupDescription"],
                SubnetIds=list(desired.spec["subnetIds"]),
            )
            SUBNET_GROUPS.forget(ctx)
        if "tags" in changed:
            write_tags(ctx, live.attrs["arn"], desired, live.tags or {})
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        # AWS refuses while an instance uses the group (InvalidDBSubnetGroupStateFault):
        # prune deletes instances first, as they reference the group.
        absent_ok(ctx.client("rds").delete_db_subnet_group,
                  DBSubnetGroupName=live.attrs["name"], absent=RDS_ABSENT)
        SUBNET_GROUPS.forget(ctx)
        forget_tags(ctx, live.attrs["arn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The run's one listing, and each listed group's tags (RDS reserves `default`,
        which is never ours). Subnet groups are few: AWS allows 50 per region."""
        found = (Observed(fields={}, attrs=_attrs(g), tags=read_tags(ctx, g["DBSubnetGroupArn"]))
                 for name, g in SUBNET_GROUPS.all(ctx).items() if name != "default")
        return by_id(found, ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """A group is usable once RDS calls it Complete; anything else (a subnet of it
        deleted) will not heal by waiting."""
        status = live.attrs.get("status")
        if status in (None, READY_STATUS):
            return Readiness()
        return Readiness("failed", f"subnet group {status}")


def _attrs(group: dict[str, Any]) -> dict[str, Any]:
    return {"name": group["DBSubnetGroupName"], "arn": group["DBSubnetGroupArn"],
            "vpcId": group.get("VpcId"), "status": group.get("SubnetGroupStatus")}


def _observed(group: dict[str, Any], desired: Desired, ctx: RunContext) -> Observed:
    tags = read_tags(ctx, group["DBSubnetGroupArn"], desired)
    fields: dict[str, Any] = {
        "dbSubnetGroupDescription": group.get("DBSubnetGroupDescription", ""),
        "subnetIds": sorted(s["SubnetIdentifier"] for s in group.get("Subnets") or []),
    }
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(group), tags=tags)


def _one_zone(doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
    """AWS refuses a group whose subnets lie in fewer than two AZs: known when every
    subnet is a ref to a subnet of the stack with its zone written out."""
    zones: set[str] = set()
    for index in range(len(doc.spec.get("subnetIds") or [])):
        subnet = stack.get(doc.refs.get(("subnetIds", index), ""))
        zone = subnet.spec.get("availabilityZone") if subnet is not None else None
        if subnet is None or subnet.kind != "ec2.Subnet" or not isinstance(zone, str) \
                or zone.startswith("${"):
            return []
        zones.add(zone)
    if len(zones) >= 2:
        return []
    return [Finding(("spec", "subnetIds"), f"all subnets are in {', '.join(sorted(zones))}: "
                                           "a DB subnet group needs two or more AZs")]
