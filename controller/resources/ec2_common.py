"""Tag identity, batched reads and tag writes shared by the EC2 network kinds.

EC2 names are not unique (two VPCs may both be called `iq-theory-vpc`), so the
controller finds what it owns by its ownership tags: `gitops:stack` names the
stack and `gitops:id` the resource (`ec2.Vpc/iq-theory-vpc`). One describe call
with a `tag:gitops:stack` filter returns every resource of a kind in the stack,
so a plan costs one call per kind however many VPCs, subnets or groups it has,
and that one listing also answers `inventory` (what prune compares with git).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from controller.aws.tags import ID_KEY, STACK_KEY, as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, Observed
from controller.resources import common
from controller.resources.base import Driver, Identity, RunContext
from controller.resources.batch import Listing

# The tag EC2's console shows as the resource's name; the controller sets it on create.
NAME_TAG = "Name"

Item = dict[str, Any]  # one entry of a describe answer, as AWS returns it


@dataclass(frozen=True)
class TaggedCollection:
    """One EC2 resource type: the stack's resources of it, by `gitops:id`, and its calls.

    `describe` is the boto3 method (`describe_vpcs`), `result_key` the list in its
    answer (`Vpcs`), `resource_type` the TagSpecifications type (`vpc`), `id_key`
    the id in an answer and the delete call's parameter (`VpcId`), `delete` the
    boto3 delete method (`delete_vpc`).
    """

    describe: str
    result_key: str
    resource_type: str
    id_key: str
    delete: str
    # What some types spell otherwise: the describe's filter parameter (`Filter` for
    # NAT gateways), whether AWS pages it (describe_addresses answers all at once), the
    # states of a deleted item still listed (NAT gateways linger `deleting`/`deleted`),
    # and the codes this type's "no such id" comes as beyond the shared ones.
    filter_param: str = "Filters"
    paged: bool = True
    gone: frozenset[str] = frozenset({"deleted"})
    absent: tuple[str, ...] = ()

    @property
    def listing(self) -> Listing[Item]:
        """The one tag-filtered describe of the run, kept in the run's context."""
        return Listing(f"ec2.{self.describe}", self._load)

    def all(self, ctx: RunContext) -> dict[str, Item]:
        """Every resource of the stack, read once per run (and again after `forget`); a
        failed read raises AWS's error to every caller without asking again."""
        return self.listing.all(ctx)

    def owned(self, desired: Desired, ctx: RunContext) -> Item | None:
        return self.all(ctx).get(desired.id)

    def owned_fresh(self, desired: Desired, ctx: RunContext) -> Item | None:
        """Look again, skipping the run's cache: `create` calls this first so a retried
        create (the first one's answer lost) adopts its own resource instead of making
        a twin, since EC2 create calls have no name to collide on."""
        self.forget(ctx)
        return self.owned(desired, ctx)

    def by_id(self, aws_id: str, ctx: RunContext) -> Item | None:
        """The resource with this id, whoever made it (`adopt: vpc-...`), or None."""
        answer = common.absent_ok(getattr(ctx.client("ec2"), self.describe),
                                  absent=self.absent, **{f"{self.id_key}s": [aws_id]})
        items: list[Item] = (answer or {}).get(self.result_key, [])
        return next((item for item in items if self.alive(item)), None)

    def alive(self, item: Item) -> bool:
        """Deleted-but-listed items (a `deleted` state) are not the resource any more."""
        return bool(item.get("State", "available") not in self.gone)

    def forget(self, ctx: RunContext) -> None:
        self.listing.forget(ctx)

    def tag_specifications(self, desired: Desired) -> list[dict[str, Any]]:
        """Ownership and user tags, plus `Name` unless the user set it, written atomically on
        create: a resource is never visible without the tags that identify it."""
        tags = {NAME_TAG: desired.name, **desired.tags()}
        return [{"ResourceType": self.resource_type, "Tags": as_key_value_list(tags)}]

    def _load(self, ctx: RunContext, scope: str) -> dict[str, Item]:
        ec2 = ctx.client("ec2")
        query = {self.filter_param: [{"Name": f"tag:{STACK_KEY}", "Values": [ctx.stack]}]}
        pages = (ec2.get_paginator(self.describe).paginate(**query) if self.paged
                 else [getattr(ec2, self.describe)(**query)])
        found: dict[str, Item] = {}
        for page in pages:
            for item in page[self.result_key]:
                tags = tags_of(item)
                resource_id = tags.get(ID_KEY)
                # the filter is AWS's; the check is ours too (moto's NAT filter ignores it)
                if resource_id and tags.get(STACK_KEY) == ctx.stack and self.alive(item):
                    first = found.setdefault(resource_id, item)
                    if first is not item:
                        ctx.seen_twice(resource_id, first[self.id_key], item[self.id_key])
        return found


class TaggedEc2Driver(Driver):
    """What the EC2 network kinds do alike: found by tags (or by id for `adopt:`), listed
    for prune from the same describe, deleted and retagged by id, tags kept equal to git's.

    A kind supplies its collection, the attributes refs read (`attrs`), and how a
    described item reads as its spec (`read`).
    """

    identity: ClassVar[Identity] = "tags"
    collection: ClassVar[TaggedCollection]

    @abstractmethod
    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        """The attributes refs read (`id`, `arn`...), from the describe answer alone."""

    @abstractmethod
    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        """`item` as `observe` returns it: the declared fields, the attrs, every tag."""

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        self.collection.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        item = self.collection.owned(desired, ctx)
        return None if item is None else self.read(desired, item, ctx)

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        item = self.collection.by_id(aws_id, ctx)
        return None if item is None else self.read(desired, item, ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's resources from the listing `observe` reads: no call of its own."""
        return {
            resource_id: Observed(fields={}, attrs=self.attrs(item, ctx), tags=tags_of(item))
            for resource_id, item in self.collection.all(ctx).items()
        }

    def retag(self, live: Observed, tags: dict[str, str], ctx: RunContext) -> None:
        ctx.client("ec2").create_tags(Resources=[live.attrs["id"]], Tags=as_key_value_list(tags))
        self.forget(ctx, live.attrs["id"])

    def delete(self, live: Observed, ctx: RunContext) -> None:
        ec2 = ctx.client("ec2")
        common.absent_ok(getattr(ec2, self.collection.delete), absent=self.collection.absent,
                         **{self.collection.id_key: live.attrs["id"]})
        self.forget(ctx, live.attrs["id"])

    def sync_tags(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        """Make the tags git's. `Name` is kept: the controller set it on create, and removing
        it because the spec's `tags` does not mention it would blank the console's name."""
        ec2 = ctx.client("ec2")
        resource = [live.attrs["id"]]
        common.sync_tags(
            desired, live.tags or {},
            write=lambda tags: ec2.create_tags(Resources=resource, Tags=as_key_value_list(tags)),
            remove=lambda keys: ec2.delete_tags(Resources=resource,
                                                Tags=[{"Key": key} for key in keys]),
            keep=(NAME_TAG,),
        )

    def forget(self, ctx: RunContext, resource_id: str) -> None:
        """Drop the run's reads a write to `resource_id` made stale."""
        self.collection.forget(ctx)

    def reread(self, desired: Desired, resource_id: str, ctx: RunContext) -> Observed:
        """Observe again after a write to `resource_id`, past the reads it made stale."""
        self.forget(ctx, resource_id)
        return common.reread(self, desired, ctx)


def tags_of(item: Item) -> dict[str, str]:
    return from_key_value_list(item.get("Tags"))


def observed_tags(desired: Desired, item: Item) -> dict[str, dict[str, str]]:
    """`{"tags": ...}` when the spec manages tags, else nothing: unmanaged tags are no diff.

    The `Name` tag the controller writes on create is left out unless the spec
    declares one, so that it never reads as a tag added by hand.
    """
    if "tags" not in desired.spec:
        return {}
    tags = user_tags(tags_of(item))
    if NAME_TAG not in (desired.spec["tags"] or {}) and tags.get(NAME_TAG) == desired.name:
        del tags[NAME_TAG]
    return {"tags": tags}


def ec2_arn(ctx: RunContext, owner: str, resource_type: str, resource_id: str) -> str:
    """EC2 ARNs the describe answers leave out (a VPC's), built the documented way."""
    return f"arn:aws:ec2:{ctx.aws.region}:{owner}:{resource_type}/{resource_id}"


def run_account(ctx: RunContext) -> str:
    """The account of the run's credentials (the account guard's answer, else asked once
    per run): for the ARNs of kinds whose describe answers name no owner (an Elastic IP's,
    a NAT gateway's)."""
    if ctx.aws.account is not None:  # the account guard's answer
        return ctx.aws.account
    return str(ctx.cached(("sts", "account"),
                          lambda: ctx.client("sts").get_caller_identity()["Account"]))
