"""ElastiCache pieces shared by the subnet-group and replication-group drivers.

ElastiCache reads carry no tags: a resource's tags are one ListTagsForResource by
its ARN, and written by ARN too. Its describes list the whole account's items of a
kind, 100 a page, and its names are lower case (AWS lowers what it is given).
Those quirks live here once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from controller.aws.tags import as_key_value_list, from_key_value_list
from controller.model import Desired, NameRule
from controller.resources.base import RunContext
from controller.resources.common import sync_tags
from controller.resources.tagged import stack_tags

PAGE = 100  # ElastiCache's describes answer at most 100 records per call
# ElastiCache's own spellings of "not there" (its faults are not the shared not-found codes).
ABSENT = ("CacheSubnetGroupNotFoundFault", "ReplicationGroupNotFoundFault",
          "CacheClusterNotFound")

# AWS lowers a replication group's or subnet group's name: a lower-case rule keeps the
# name in git the name AWS answers with. Replication groups: 1-40 characters, a letter
# first, no trailing hyphen, no two hyphens in a row.
REPLICATION_GROUP_NAME = NameRule(
    r"(?=.{1,40}$)[a-z](?:-?[a-z0-9])*",
    "1-40 lower-case letters, digits and single hyphens, starting with a letter, "
    "not ending with a hyphen")
SUBNET_GROUP_NAME = NameRule(r"[a-z0-9-]{1,255}", "1-255 lower-case letters, digits and hyphens")


def pages(ctx: RunContext, operation: str, key: str) -> Iterator[dict[str, Any]]:
    """Every item an account-wide describe lists, page after page."""
    paginator = ctx.client("elasticache").get_paginator(operation)
    for page in paginator.paginate(PaginationConfig={"PageSize": PAGE}):
        yield from page.get(key) or []


def read_tags(ctx: RunContext, arn: str, desired: Desired | None = None) -> dict[str, str]:
    """Every tag of one resource, read once per run (observe, then the inventory, share
    it); from the stack's tagging index when they agree with `desired` (stack_tags)."""
    return ctx.cached(("elasticache.tags", arn), lambda: stack_tags(
        ctx, arn, desired, lambda: from_key_value_list(
            ctx.client("elasticache").list_tags_for_resource(ResourceName=arn)
            .get("TagList"))))


def forget_tags(ctx: RunContext, arn: str) -> None:
    ctx.forget(("elasticache.tags", arn))


def write_tags(ctx: RunContext, arn: str, desired: Desired, live_tags: dict[str, str],
               extra: dict[str, str] | None = None) -> None:
    """Make the resource's tags git's (common.sync_tags), plus `extra` controller tags
    (a replication group's record of its token's secret), with ElastiCache's tag calls."""
    ec = ctx.client("elasticache")
    sync_tags(desired, live_tags,
              write=lambda tags: ec.add_tags_to_resource(
                  ResourceName=arn, Tags=as_key_value_list({**tags, **(extra or {})})),
              remove=lambda keys: ec.remove_tags_from_resource(ResourceName=arn, TagKeys=keys))
    forget_tags(ctx, arn)


def name_of(arn: str) -> str:
    """The name at the end of an ElastiCache ARN (`...:subnetgroup:NAME`)."""
    return arn.rsplit(":", 1)[-1]
