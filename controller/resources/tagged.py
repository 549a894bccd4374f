"""What every kind's `inventory` shares: the stack's tagged resources, and keying by `gitops:id`.

The Resource Groups Tagging API answers every resource of the stack, whatever its
kind, from one `GetResources` call per hundred with a `gitops:stack` tag filter,
where listing a kind and reading each resource's tags costs a call per resource of
the account. One listing per run serves every kind that uses it.

It is an index, not the resource: AWS may keep a resource in it a while after its
deletion (the emulator keeps deleted ECS services, clusters and task definitions
for good) and it does not index every kind (the emulator misses ECR and IAM), so a
kind confirms what it finds with its own read, and some kinds list otherwise.

It also lags a tag write by a few seconds, so a kind whose service reads tags one
resource per call (log groups, alarms, queues) takes a resource's tags from the index
only when they are what git asks for (`agreed_tags`): a run in sync makes no tag call,
and a difference the index shows, stale or not, is confirmed by the resource's own
read before the plan reports it. A tag changed by hand shows once the index has it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from controller.aws import errors
from controller.aws.tags import ID_KEY, STACK_KEY, from_key_value_list, user_tags
from controller.model import Desired, Observed
from controller.resources.base import RunContext
from controller.resources.batch import Listing

PAGE = 100  # GetResources answers at most 100 resources per call...
TAGS_PAGE = 500  # ...and at most this many tags (100 unless asked: ~25 resources a page)


def _load(ctx: RunContext, stack: str) -> dict[str, dict[str, str]]:
    """ARN -> every tag, of each resource carrying `gitops:stack = stack`."""
    pages = ctx.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=[{"Key": STACK_KEY, "Values": [stack]}], ResourcesPerPage=PAGE,
        TagsPerPage=TAGS_PAGE)
    return {item["ResourceARN"]: from_key_value_list(item.get("Tags"))
            for page in pages for item in page["ResourceTagMappingList"]}


STACK_RESOURCES: Listing[dict[str, str]] = Listing("tagging.stack", _load)


def stack_arns(ctx: RunContext, service: str,
               resource_prefix: str = "") -> dict[str, dict[str, str]]:
    """ARN -> tags of the run's stack's resources of one AWS service whose resource part
    (after `arn:partition:service:region:account:`) starts with `resource_prefix`."""
    found: dict[str, dict[str, str]] = {}
    for arn, tags in STACK_RESOURCES.all(ctx, ctx.stack).items():
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[2] == service and parts[5].startswith(resource_prefix):
            found[arn] = tags
    return found


def agreed_tags(ctx: RunContext, arn: str, desired: Desired) -> dict[str, str] | None:
    """The resource's tags from the stack's index if they are exactly what this run
    checks them against (its ownership tags, and the spec's `tags` when it declares
    them); None when the index lacks the resource or differs: read them from it."""
    try:
        indexed = STACK_RESOURCES.all(ctx, ctx.stack).get(arn)
    except errors.AWS_ERRORS:  # the resource's own read still answers, and says why not
        return None
    if indexed is None or any(indexed.get(k) != v for k, v in desired.tags().items()):
        return None
    if "tags" in desired.spec and len(user_tags(indexed)) != len(desired.spec["tags"] or {}):
        return None  # a tag git does not declare
    return indexed


def stack_tags(ctx: RunContext, arn: str, desired: Desired | None,
               read: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Every tag of a resource: from the index when they agree with `desired` (observe
    knows it), else `read()`, the resource's own tag read (the inventory's orphans)."""
    indexed = agreed_tags(ctx, arn, desired) if desired is not None else None
    return indexed if indexed is not None else read()


def owned_id(tags: dict[str, str] | None, stack: str) -> str | None:
    """The `gitops:id` of a resource carrying these tags, if it is `stack`'s."""
    if not tags or tags.get(STACK_KEY) != stack:
        return None
    return tags.get(ID_KEY) or None


def by_id(found: Iterable[Observed], ctx: RunContext) -> dict[str, Observed]:
    """The resources the run's stack owns, keyed by their `gitops:id` (what `inventory`
    returns); two carrying one id are recorded on the run (`seen_twice`)."""
    owned: dict[str, Observed] = {}
    for live in found:
        resource_id = owned_id(live.tags, ctx.stack)
        if resource_id is None:
            continue
        first = owned.setdefault(resource_id, live)
        if first is not live:
            ctx.seen_twice(resource_id, aws_id(first), aws_id(live))
    return owned


def aws_id(live: Observed) -> str:
    """How AWS names a live resource, for a person to find it."""
    return str(live.attrs.get("arn") or live.attrs.get("id") or live.attrs.get("name") or "?")
