"""What every kind's `inventory` shares: the stack's tagged resources, and keying by `gitops:id`.

The Resource Groups Tagging API answers every resource of the stack, whatever its
kind, from one `GetResources` call per hundred with a `gitops:stack` tag filter,
where listing a kind and reading each resource's tags costs a call per resource of
the account. One listing per run serves every kind that uses it.

It is an index, not the resource: AWS may keep a resource in it a while after its
deletion (the emulator keeps deleted ECS services, clusters and task definitions
for good) and it does not index every kind (the emulator misses ECR and IAM), so a
kind confirms what it finds with its own read, and some kinds list otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from controller.aws.tags import ID_KEY, STACK_KEY, from_key_value_list
from controller.model import Observed
from controller.resources.base import RunContext
from controller.resources.batch import Listing

PAGE = 100  # GetResources answers at most 100 resources per call


def _load(ctx: RunContext, stack: str) -> dict[str, dict[str, str]]:
    """ARN -> every tag, of each resource carrying `gitops:stack = stack`."""
    pages = ctx.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=[{"Key": STACK_KEY, "Values": [stack]}], ResourcesPerPage=PAGE)
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
