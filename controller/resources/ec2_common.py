"""Tag identity, batched reads and tag writes shared by the EC2 network kinds.

EC2 names are not unique (two VPCs may both be called `iq-theory-vpc`), so the
controller finds what it owns by its ownership tags: `gitops:stack` names the
stack and `gitops:id` the resource (`ec2.Vpc/iq-theory-vpc`). One describe call
with a `tag:gitops:stack` filter returns every resource of a kind in the stack,
so a plan costs one call per kind however many VPCs, subnets or groups it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from controller.aws.tags import ID_KEY, STACK_KEY, as_key_value_list, from_key_value_list, user_tags
from controller.resources.base import Desired, Driver, Observed, RunContext

# The tag EC2's console shows as the resource's name; the controller sets it on create.
NAME_TAG = "Name"


class CachedRead(Protocol):
    """A batched read kept in the run's cache, which a write makes stale."""

    def forget(self, ctx: RunContext) -> None: ...


@dataclass(frozen=True)
class TaggedCollection:
    """All resources of one EC2 type owned by the run's stack, indexed by `gitops:id`.

    `describe` is the boto3 method (`describe_vpcs`), `result_key` the list in
    its answer (`Vpcs`), `resource_type` the TagSpecifications type (`vpc`).
    """

    describe: str
    result_key: str
    resource_type: str

    def cache_key(self, ctx: RunContext) -> tuple[str, str, str]:
        return ("ec2", self.describe, ctx.stack)

    def all(self, ctx: RunContext) -> dict[str, dict[str, Any]]:
        """Every owned resource of the stack, read once per run (and again after `forget`)."""
        return ctx.cached(self.cache_key(ctx), lambda: self._load(ctx))

    def find(self, desired: Desired, ctx: RunContext) -> dict[str, Any] | None:
        return self.all(ctx).get(desired.id)

    def forget(self, ctx: RunContext) -> None:
        ctx.forget(self.cache_key(ctx))

    def find_fresh(self, desired: Desired, ctx: RunContext) -> dict[str, Any] | None:
        """Look again, skipping the run's cache: `create` calls this first so a retried
        create (the first one's answer lost) adopts its own resource instead of making
        a twin, since EC2 create calls have no name to collide on."""
        self.forget(ctx)
        return self.find(desired, ctx)

    def tag_specifications(self, desired: Desired) -> list[dict[str, Any]]:
        """Ownership and user tags, plus `Name` unless the user set it, written atomically on
        create: a resource is never visible without the tags that identify it."""
        tags = {NAME_TAG: desired.name, **desired.tags()}
        return [{"ResourceType": self.resource_type, "Tags": as_key_value_list(tags)}]

    def _load(self, ctx: RunContext) -> dict[str, dict[str, Any]]:
        pages = ctx.client("ec2").get_paginator(self.describe).paginate(
            Filters=[{"Name": f"tag:{STACK_KEY}", "Values": [ctx.stack]}]
        )
        found: dict[str, dict[str, Any]] = {}
        for page in pages:
            for item in page[self.result_key]:
                resource_id = tags_of(item).get(ID_KEY)
                # Deleted-but-listed items (a `deleted` state) are not the resource any more.
                if resource_id and item.get("State", "available") != "deleted":
                    found.setdefault(resource_id, item)
        return found


def tags_of(item: dict[str, Any]) -> dict[str, str]:
    return from_key_value_list(item.get("Tags"))


def observed_tags(desired: Desired, item: dict[str, Any]) -> dict[str, dict[str, str]]:
    """`{"tags": ...}` when the spec manages tags, else nothing: unmanaged tags are no diff.

    The `Name` tag the controller writes on create is left out unless the spec
    declares one, so that it never reads as a tag added by hand.
    """
    if "tags" not in desired.spec:
        return {}
    tags = user_tags(tags_of(item))
    if NAME_TAG not in desired.spec["tags"] and tags.get(NAME_TAG) == desired.name:
        del tags[NAME_TAG]
    return {"tags": tags}


def sync_tags(desired: Desired, live: Observed, resource_id: str, ctx: RunContext) -> None:
    """Write the desired tags and drop user tags git no longer declares.

    `Name` is kept: the controller set it on create, and removing it because the
    spec's `tags` does not mention it would only blank the console's name column.
    """
    ec2 = ctx.client("ec2")
    wanted = desired.spec.get("tags") or {}
    stale = set(live.fields.get("tags", {})) - set(wanted) - {NAME_TAG}
    if stale:
        ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": k} for k in sorted(stale)])
    ec2.create_tags(Resources=[resource_id], Tags=as_key_value_list(desired.tags()))


def reread(driver: Driver, desired: Desired, ctx: RunContext, *stale: CachedRead) -> Observed:
    """Observe again after a write, past the cache entries the write made stale."""
    for collection in stale:
        collection.forget(ctx)
    observed = driver.observe(desired, ctx)
    assert observed is not None, f"{desired.id} vanished right after it was written"
    return observed


def ec2_arn(ctx: RunContext, owner: str, resource_type: str, resource_id: str) -> str:
    """EC2 ARNs the describe answers leave out (a VPC's), built the documented way."""
    return f"arn:aws:ec2:{ctx.aws.region}:{owner}:{resource_type}/{resource_id}"
