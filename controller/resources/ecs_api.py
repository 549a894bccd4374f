"""ECS pieces shared by the cluster, task-definition and service drivers.

ECS names clusters, services and families by one rule, spells tags as lower-case
`key`/`value` pairs and writes them by ARN; those quirks live here once, so each
driver keeps only what is particular to its kind.
"""

from __future__ import annotations

from typing import Any

from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed
from controller.resources.base import RunContext
from controller.resources.common import sync_tags

# Clusters, services and task-definition families share one naming rule.
ECS_NAME = NameRule(r"[A-Za-z0-9_-]{1,255}", "1-255 letters, digits, hyphens and underscores")


def last_part(arn_or_name: str) -> str:
    """What follows the last `/` of an ARN (a cluster's name, a revision's
    `family:revision`), or the text itself when it is already a name."""
    return arn_or_name.rsplit("/", 1)[-1]


def revision_name(arn: str) -> str:
    """`family:revision` out of a task-definition ARN, as the ECS console shows it."""
    return last_part(arn)


def ecs_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """A tag map as ECS's request shape."""
    return as_key_value_list(tags, key="key", value="value")


def live_tags(item: dict[str, Any]) -> dict[str, str]:
    """Every tag of a described ECS item (described with include=["TAGS"])."""
    return from_key_value_list(item.get("tags"), key="key", value="value")


def live_user_tags(item: dict[str, Any]) -> dict[str, str]:
    """The user tags of a described ECS item (ownership tags are the controller's own)."""
    return user_tags(live_tags(item))


def write_tags(ctx: RunContext, arn: str, desired: Desired, live: Observed) -> None:
    """Make the resource's tags git's (common.sync_tags) with ECS's tag calls."""
    ecs = ctx.client("ecs")
    sync_tags(desired, live.tags or {},
              write=lambda tags: ecs.tag_resource(resourceArn=arn, tags=ecs_tag_list(tags)),
              remove=lambda keys: ecs.untag_resource(resourceArn=arn, tagKeys=keys))


def same_revision(a: Any, b: Any) -> bool:
    """An ARN and `family:revision` name the same revision (a spec may use either form)."""
    return isinstance(a, str) and isinstance(b, str) and last_part(a) == last_part(b)
