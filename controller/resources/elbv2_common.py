"""Elastic Load Balancing v2 pieces shared by the load balancer, target group, listener and
rule drivers: how each kind is read in batches, its tags, its attribute maps, its names.

Two shapes of kind. Load balancers and target groups have names unique per account and
region; a by-name describe fails as a whole when one name is absent (what a first apply
always asks), so each is read by one account listing per run (400 a page), which also
confirms what the tagging index names as the stack's. Listeners and rules have no names:
they are read under their parent (one describe per load balancer, per listener) and told
apart by their `gitops:id` tag. ELB reads carry no tags: `describe_tags` reads them, 20
ARNs a call, for every kind alike (`TAGS`).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed, is_unknown
from controller.resources.base import Driver, Identity, RunContext
from controller.resources.batch import ByNames, Listing
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.tagged import owned_id, stack_arns

Item = dict[str, Any]  # one entry of a describe answer, as AWS returns it

SERVICE = "elasticloadbalancing"  # the ARN's and IAM's service name
# ELB's not-found codes (not in the shared table: no other service spells them so).
ABSENT = ("LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound", "RuleNotFound")
TAGS_PER_CALL = 20  # describe_tags takes at most 20 ARNs
PAGE_SIZE = 400  # the largest page every ELB describe answers

# Load balancer and target group names: 1-32 letters, digits and hyphens, no hyphen at
# either end (and a load balancer's may not start with `internal-`).
ELB_NAME = NameRule(r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?",
                    "1-32 letters, digits and hyphens, not starting or ending with a hyphen "
                    "(nor starting with internal-)")


def pages(ctx: RunContext, operation: str, result_key: str, **params: Any) -> list[Item]:
    """Every item of an ELB describe, page by page (Marker / NextMarker)."""
    client = ctx.client("elbv2")
    items: list[Item] = []
    marker: str | None = None
    while True:
        answer = getattr(client, operation)(**params, PageSize=PAGE_SIZE,
                                            **({"Marker": marker} if marker else {}))
        items.extend(answer.get(result_key) or [])
        marker = answer.get("NextMarker")
        if not marker:
            return items


# ---- tags -----------------------------------------------------------------------------


def _describe_tags(ctx: RunContext, arns: list[str]) -> dict[str, dict[str, str]]:
    """Every tag of each ARN still there. AWS fails the whole call when one of them is gone
    (deleted between the listing and this read): the rest are then read one by one."""
    elbv2 = ctx.client("elbv2")
    try:
        answer = elbv2.describe_tags(ResourceArns=arns)["TagDescriptions"]
    except errors.ClientError as err:
        if error_code(err) not in ABSENT:
            raise
        if len(arns) == 1:
            return {}
        answer = []
        for arn in arns:
            one = absent_ok(elbv2.describe_tags, ResourceArns=[arn], absent=ABSENT)
            answer.extend((one or {}).get("TagDescriptions") or [])
    return {d["ResourceArn"]: from_key_value_list(d.get("Tags")) for d in answer}


# Every ELB kind's tags, by ARN: one describe_tags per 20 resources of a run.
TAGS: ByNames[dict[str, str]] = ByNames("elbv2.tags", _describe_tags, TAGS_PER_CALL)


def tags_of(ctx: RunContext, arn: str) -> dict[str, str]:
    return TAGS.get(ctx, arn) or {}


def write_tags(ctx: RunContext, arn: str, desired: Desired, live: Observed) -> None:
    """Make the resource's tags git's (common.sync_tags) with ELB's tag calls."""
    elbv2 = ctx.client("elbv2")
    sync_tags(desired, live.tags or {},
              write=lambda tags: elbv2.add_tags(ResourceArns=[arn],
                                                Tags=as_key_value_list(tags)),
              remove=lambda keys: elbv2.remove_tags(ResourceArns=[arn], TagKeys=keys))
    TAGS.forget(ctx, arn)


def tag_list(desired: Desired) -> list[dict[str, str]]:
    """Ownership and user tags in a create call's shape: ELB tags on create, so a resource
    is never visible without the tags that identify it."""
    return as_key_value_list(desired.tags())


def observed_user_tags(desired: Desired, tags: dict[str, str]) -> dict[str, dict[str, str]]:
    """`{"tags": ...}` when the spec manages tags, else nothing: unmanaged tags are no diff."""
    return {"tags": user_tags(tags)} if "tags" in desired.spec else {}


# ---- attribute maps (load balancer and target group attributes) ------------------------


def attribute_text(value: Any) -> Any:
    """An attribute value as AWS returns it: text, booleans lower-case (`true`)."""
    if is_unknown(value) or value is None:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def normalise_attributes(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with its `attributes` map in AWS's text form."""
    if not isinstance(spec.get("attributes"), dict):
        return spec
    return {**spec, "attributes": {k: attribute_text(v) for k, v in spec["attributes"].items()}}


def declared_attributes(desired: Desired, live: list[Item]) -> dict[str, Any]:
    """The live values of the attribute keys the spec declares (only those compare): a
    key AWS does not report reads as None, so it shows as the difference it is."""
    values = {a["Key"]: a.get("Value") for a in live}
    return {key: values.get(key) for key in desired.spec.get("attributes") or {}}


def attribute_list(desired: Desired) -> list[dict[str, str]]:
    return [{"Key": k, "Value": str(v)} for k, v in sorted(desired.spec["attributes"].items())]


# ---- name-identified kinds: one account listing per run --------------------------------


@dataclass(frozen=True)
class Named:
    """A name-identified ELB kind: `operation` (describe_load_balancers) answers
    `result_key` items, named by `name_key`, with their ARN under `arn_key`; the stack's
    are found in the tagging index under `arn_prefix` (resource part of the ARN)."""

    operation: str
    result_key: str
    name_key: str
    arn_key: str
    arn_prefix: str

    @property
    def listing(self) -> Listing[Item]:
        return Listing(f"elbv2.{self.operation}", self._load)

    def _load(self, ctx: RunContext, scope: str) -> dict[str, Item]:
        return {item[self.name_key]: item for item in pages(ctx, self.operation,
                                                           self.result_key)}

    def get(self, ctx: RunContext, name: str) -> Item | None:
        return self.listing.get(ctx, name)

    def fresh(self, ctx: RunContext, name: str) -> Item | None:
        """Read again past the run's cache: a create looks first, so a retried create (the
        first answer lost) finds what it made instead of failing on the name."""
        self.listing.forget(ctx)
        return self.get(ctx, name)

    def forget(self, ctx: RunContext, arn: str | None = None) -> None:
        self.listing.forget(ctx)
        if arn:
            TAGS.forget(ctx, arn)

    def prime_tags(self, ctx: RunContext, names: Iterable[str]) -> None:
        """One describe_tags per 20 of the named resources that exist."""
        found = (self.get(ctx, name) for name in names)
        TAGS.prime(ctx, [item[self.arn_key] for item in found if item is not None])

    def stack_items(self, ctx: RunContext) -> list[tuple[Item, dict[str, str]]]:
        """The stack's resources with every tag: the tagging index names the candidates (one
        call shared by every kind), the listing confirms they still exist (the index lags),
        and describe_tags (the run's same batched read) gives their tags."""
        candidates = set(stack_arns(ctx, SERVICE, self.arn_prefix))
        alive = [item for item in self.listing.all(ctx).values()
                 if item[self.arn_key] in candidates]
        TAGS.prime(ctx, [item[self.arn_key] for item in alive])
        found = [(item, tags_of(ctx, item[self.arn_key])) for item in alive]
        return [(item, tags) for item, tags in found if owned_id(tags, ctx.stack)]


class NamedDriver(Driver):
    """What load balancers and target groups do alike: read by name from the run's one
    listing (with their tags, 20 per call), looked up afresh before a create, listed for
    the inventory from the tagging index confirmed by the listing.

    A kind supplies its `named` collection, how an item reads (`read`), and its attrs
    (`attrs_of`, what delete and refs need).
    """

    named: ClassVar[Named]

    @abstractmethod
    def read(self, item: Item, desired: Desired, ctx: RunContext) -> Observed:
        """`item` as observe returns it."""

    @abstractmethod
    def attrs_of(self, item: Item) -> dict[str, Any]:
        """The attributes refs and delete read."""

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        self.named.prime_tags(ctx, [d.name for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        item = self.named.get(ctx, desired.name)
        return None if item is None else self.read(item, desired, ctx)

    @abstractmethod
    def make(self, desired: Desired, ctx: RunContext) -> str:
        """The create call, tags included; the new resource's ARN."""

    @abstractmethod
    def modify(self, desired: Desired, live: Observed, changed: list[str],
               ctx: RunContext) -> None:
        """The kind's own in-place writes of `changed` (not attributes, not tags)."""

    @abstractmethod
    def write_attributes(self, arn: str, desired: Desired, ctx: RunContext) -> None:
        """Set the attributes the spec declares (ModifyXAttributes)."""

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        """Look first (a retried create, the first answer lost, finds what it made
        instead of failing on the name), then make, then set the declared attributes."""
        item = self.named.fresh(ctx, desired.name)
        if item is not None:
            return self.read(item, desired, ctx)
        arn = self.make(desired, ctx)
        if desired.spec.get("attributes"):
            self.write_attributes(arn, desired, ctx)
        self.named.forget(ctx, arn)
        return reread(self, desired, ctx)

    def update(self, desired: Desired, live: Observed, changed: list[str],
               ctx: RunContext) -> Observed:
        arn = live.attrs["arn"]
        self.modify(desired, live, changed, ctx)
        if "attributes" in changed and desired.spec.get("attributes"):
            self.write_attributes(arn, desired, ctx)
        if "tags" in changed:
            write_tags(ctx, arn, desired, live)
        self.named.forget(ctx, arn)
        return reread(self, desired, ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        return {str(owned_id(tags, ctx.stack)): Observed(fields={}, attrs=self.attrs_of(item),
                                                         tags=tags)
                for item, tags in self.named.stack_items(ctx)}


# ---- tag-identified kinds: read under their parent -------------------------------------


@dataclass(frozen=True)
class Child:
    """A listener or rule as read under its parent (a rule's answer does not name it)."""

    parent: str
    item: Item
    tags: dict[str, str]


@dataclass(frozen=True)
class Children:
    """A tag-identified ELB kind: `operation` (describe_listeners) lists the `result_key`
    items of one parent given as `parent_param`; `arn_key` is an item's ARN; items with
    `skip_key` true (a listener's default rule) are not resources of the kind."""

    operation: str
    result_key: str
    parent_param: str
    arn_key: str
    skip_key: str = ""

    @property
    def by_parent(self) -> ByNames[list[Item]]:
        # One call per parent (AWS has no read across parents); the failure rule is the
        # kind's: once one parent's read failed, the run asks for no other.
        return ByNames(f"elbv2.{self.operation}", self._fetch, 1)

    def _fetch(self, ctx: RunContext, parents: list[str]) -> dict[str, list[Item]]:
        found: dict[str, list[Item]] = {}
        for parent in parents:
            try:
                items = pages(ctx, self.operation, self.result_key,
                              **{self.parent_param: parent})
            except errors.ClientError as err:
                if error_code(err) in ABSENT:
                    continue  # the parent is gone, and its children with it
                raise
            found[parent] = [i for i in items if not (self.skip_key and i.get(self.skip_key))]
        return found

    def under(self, ctx: RunContext, parents: Iterable[Any]) -> list[Child]:
        """Every child of these parents (ARNs; one not known yet is skipped), with every
        tag (one describe_tags per 20)."""
        known = sorted({p for p in parents if isinstance(p, str) and not is_unknown(p)})
        self.by_parent.prime(ctx, known)
        items = [(parent, item) for parent in known
                 for item in self.by_parent.get(ctx, parent) or []]
        TAGS.prime(ctx, [item[self.arn_key] for _, item in items])
        return [Child(parent, item, tags_of(ctx, item[self.arn_key])) for parent, item in items]

    def owned(self, ctx: RunContext, parents: Iterable[Any]) -> dict[str, Child]:
        """The stack's children of these parents, by their `gitops:id`."""
        found: dict[str, Child] = {}
        for child in self.under(ctx, parents):
            resource_id = owned_id(child.tags, ctx.stack)
            if resource_id is not None:
                found.setdefault(resource_id, child)
        return found

    def forget(self, ctx: RunContext, parent: str, arn: str | None = None) -> None:
        self.by_parent.forget(ctx, parent)
        if arn:
            TAGS.forget(ctx, arn)


class ChildDriver(Driver):
    """What listeners and rules do alike: found by their `gitops:id` tag under the parent
    their spec names (or, while that parent is being replaced, under the stack's other
    parents, so the move reads as the replace it is), listed per parent for the
    inventory, made at most once, forgotten per parent after a write.

    A kind supplies its `children`, the spec field naming the parent, the stack's
    parents (`stack_parents`), how an item reads (`read`), one item by ARN
    (`describe_one`, for `adopt:`), and the create call (`make`).
    """

    identity: ClassVar[Identity] = "tags"
    children: ClassVar[Children]
    parent_field: ClassVar[str]

    @abstractmethod
    def stack_parents(self, ctx: RunContext) -> list[str]:
        """The ARNs of every parent of the stack's resources of this kind."""

    @abstractmethod
    def read(self, child: Child, desired: Desired | None) -> Observed:
        """`child` as observe returns it (`desired` None: attrs and tags only)."""

    @abstractmethod
    def describe_one(self, aws_id: str, ctx: RunContext) -> tuple[str, Item] | None:
        """(parent ARN, item) of the resource with this ARN, or None."""

    @abstractmethod
    def make(self, desired: Desired, parent: str, ctx: RunContext) -> None:
        """The create call, tags included."""

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        self.children.under(ctx, [d.spec.get(self.parent_field) for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        child = self.children.owned(ctx, [desired.spec.get(self.parent_field)]).get(desired.id)
        if child is None:
            child = self.children.owned(ctx, self.stack_parents(ctx)).get(desired.id)
        return None if child is None else self.read(child, desired)

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        found = self.describe_one(aws_id, ctx)
        if found is None:
            return None
        TAGS.forget(ctx, aws_id)
        return self.read(Child(found[0], found[1], TAGS.get(ctx, aws_id) or {}), desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        parent = desired.spec[self.parent_field]
        self.children.forget(ctx, parent)  # a retried create finds what the first one made
        existing = self.children.owned(ctx, [parent]).get(desired.id)
        if existing is not None:
            return self.read(existing, desired)
        self.make(desired, parent, ctx)
        self.children.forget(ctx, parent)
        return reread(self, desired, ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's resources under the stack's parents (the tagging index does not
        list listeners and rules everywhere; they live and die with their parent)."""
        return {resource_id: self.read(child, None) for resource_id, child in
                self.children.owned(ctx, self.stack_parents(ctx)).items()}


def arn_suffix(arn: str) -> str:
    """What follows `arn:...:elasticloadbalancing:region:account:` (`targetgroup/NAME/ID`):
    what CloudWatch metrics name a target group or load balancer by."""
    return arn.split(":", 5)[5] if arn.count(":") >= 5 else arn
