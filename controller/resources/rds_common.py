"""RDS pieces shared by the DB subnet group, DB parameter group and DB instance drivers.

RDS tags every resource by ARN with one set of calls (AddTagsToResource,
RemoveTagsFromResource, ListTagsForResource), spells tags `Key`/`Value`, and says
"absent" with a different error code per resource type. Those live here once:

- `RDS_ABSENT`: the RDS not-found codes (DBInstanceNotFound, DBSubnetGroupNotFoundFault,
  DBParameterGroupNotFound, ...), to pass as `absent_ok(..., absent=RDS_ABSENT)` or to
  test with `is_rds_absent(err)`;
- `rds_tag_list(tags)`: a tag map as RDS's request shape (`Tags=` of a create call);
- `tags_of(item)`: the tags of a described item that carries a `TagList`, None if not;
- `read_tags(ctx, arn)`: every tag of one resource (ListTagsForResource), read once per
  run (observe and inventory share it); `forget_tags(ctx, arn)` after a write;
- `write_tags(ctx, arn, desired, live_tags)`: make the tags git's (common.sync_tags);
- `describe_all(ctx, operation, key, **filters)`: every item of a paged Describe* call.
"""

from __future__ import annotations

from typing import Any

from controller.aws import errors
from controller.aws.errors import error_code, is_not_found
from controller.aws.tags import as_key_value_list, from_key_value_list
from controller.model import Desired
from controller.resources.base import RunContext
from controller.resources.common import sync_tags
from controller.resources.tagged import stack_tags

# How RDS says a resource is not there, per resource type (AWS's codes; moto's are the same).
RDS_ABSENT = frozenset({
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBSubnetGroupNotFoundFault",
    "DBSubnetGroupNotFound",
    "DBParameterGroupNotFound",
    "DBParameterGroupNotFoundFault",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterNotFoundFault",
    "OptionGroupNotFoundFault",
})


def is_rds_absent(err: BaseException) -> bool:
    """True when an RDS call failed because what it names does not exist."""
    return isinstance(err, errors.ClientError) and (is_not_found(err)
                                                    or error_code(err) in RDS_ABSENT)


def rds_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """A tag map as RDS's request shape (`Tags=[{"Key": .., "Value": ..}]`)."""
    return as_key_value_list(tags)


def tags_of(item: dict[str, Any]) -> dict[str, str] | None:
    """Every tag of a described RDS item, or None when the describe carried no `TagList`
    (then `read_tags` is the one way to know them)."""
    if "TagList" not in item:
        return None
    return from_key_value_list(item.get("TagList"))


def read_tags(ctx: RunContext, arn: str, desired: Desired | None = None) -> dict[str, str]:
    """Every tag of the RDS resource `arn`: from the stack's tagging index when they agree
    with `desired` (tagged.stack_tags), else one ListTagsForResource per resource and run.
    (Subnet and parameter groups are described without tags, and RDS has no batch tag
    read; the emulator's index lacks subnet groups.)"""
    def load() -> dict[str, str]:
        answer = ctx.client("rds").list_tags_for_resource(ResourceName=arn)
        return from_key_value_list(answer.get("TagList"))
    return dict(ctx.cached(("rds.tags", arn), lambda: stack_tags(ctx, arn, desired, load)))


def forget_tags(ctx: RunContext, arn: str) -> None:
    """After a tag write (or a create): the next `read_tags` asks AWS again."""
    ctx.forget(("rds.tags", arn))


def write_tags(ctx: RunContext, arn: str, desired: Desired, live_tags: dict[str, str]) -> None:
    """Make the RDS resource's tags git's: user tags plus ownership tags (common.sync_tags)."""
    rds = ctx.client("rds")
    forget_tags(ctx, arn)
    sync_tags(desired, live_tags,
              write=lambda tags: rds.add_tags_to_resource(ResourceName=arn,
                                                          Tags=rds_tag_list(tags)),
              remove=lambda keys: rds.remove_tags_from_resource(ResourceName=arn,
                                                                TagKeys=keys))


def describe_all(ctx: RunContext, operation: str, key: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a paged RDS Describe* call (`operation` is botocore's snake name, e.g.
    "describe_db_subnet_groups"; `key` the answer's list, e.g. "DBSubnetGroups")."""
    pages = ctx.client("rds").get_paginator(operation).paginate(**params)
    return [item for page in pages for item in page.get(key) or []]
