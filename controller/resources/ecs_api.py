"""ECS calls shared by the cluster, task-definition and service drivers.

ECS describes clusters and services by lists of names and spells tags as
lower-case `key`/`value` pairs; both quirks live here once, so each driver
keeps only what is particular to its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.resources.base import Desired, NameRule, RunContext

# Clusters, services and task-definition families share one naming rule.
ECS_NAME = NameRule(r"[A-Za-z0-9_-]{1,255}", "1-255 letters, digits, hyphens and underscores")

# fetch(names) -> {name: live item} for the names that exist (absent ones are left out)
Fetch = Callable[[list[str]], dict[str, dict[str, Any]]]


def prefetch_names(ctx: RunContext, key: tuple[Any, ...], names: list[str], fetch: Fetch,
                   chunk: int) -> None:
    """Describe every name under `key` in calls of `chunk` names, once per run."""
    ctx.cached(key, lambda: _load(names, fetch, chunk))


def lookup_name(ctx: RunContext, key: tuple[Any, ...], name: str, fetch: Fetch,
                chunk: int) -> dict[str, Any] | None:
    """The live item `name` from the batch under `key`, describing it alone if the batch
    did not ask for it (observe without prefetch, or after `forget_name`)."""
    batch = ctx.cached(key, lambda: _load([name], fetch, chunk))
    if name in batch:
        return batch[name]
    return ctx.cached((*key, name), lambda: _load([name], fetch, chunk))[name]


def forget_name(ctx: RunContext, key: tuple[Any, ...], name: str) -> None:
    """After a write, drop both the batch and the single read so the next read is fresh."""
    ctx.forget(key)
    ctx.forget((*key, name))


def _load(names: list[str], fetch: Fetch, chunk: int) -> dict[str, dict[str, Any] | None]:
    # Every asked name gets an entry, so "asked and absent" (None) differs from "not asked".
    found: dict[str, dict[str, Any] | None] = dict.fromkeys(names)
    unique = sorted(set(names))
    for start in range(0, len(unique), chunk):
        found.update(fetch(unique[start:start + chunk]))
    return found


def revision_name(arn: str) -> str:
    """`family:revision` out of a task-definition ARN, as the ECS console shows it."""
    return arn.rsplit("/", 1)[-1]


def ecs_tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """A tag map as ECS's request shape."""
    return as_key_value_list(tags, key="key", value="value")


def live_tags(item: dict[str, Any]) -> dict[str, str]:
    """Every tag of a described ECS item (described with include=["TAGS"])."""
    return from_key_value_list(item.get("tags"), key="key", value="value")


def live_user_tags(item: dict[str, Any]) -> dict[str, str]:
    """The user tags of a described ECS item (ownership tags are the controller's own)."""
    return user_tags(live_tags(item))


def sync_tags(ctx: RunContext, arn: str, live_tags: dict[str, str], desired: Desired) -> None:
    """Make the resource's tags equal to the desired user tags plus the ownership tags."""
    ecs = ctx.client("ecs")
    stale = set(live_tags) - set(desired.spec.get("tags") or {})
    if stale:
        ecs.untag_resource(resourceArn=arn, tagKeys=sorted(stale))
    ecs.tag_resource(resourceArn=arn, tags=ecs_tag_list(desired.tags()))
