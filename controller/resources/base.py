"""The contract every AWS kind implements, and the per-run context drivers share.

The engine owns diffing, ordering, dry-run, isolation and retries; a driver only
knows how to read and write its one kind. Drivers never import the engine.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from controller.aws import errors
from controller.model import (
    READY,
    TAG_SAFE_NAME,
    Declared,
    Desired,
    Finding,
    NameRule,
    Observed,
    Readiness,
    SpecModel,
)

if TYPE_CHECKING:  # the gateway imports boto3, which validation never needs
    from controller.aws.gateway import AwsGateway

T = TypeVar("T")


class Vanished(Exception):
    """A resource just written cannot be read back: deleted meanwhile, or AWS lags (its
    reads are eventually consistent). The engine remembers the create (engine/recent.py)."""


class RunContext:
    """Per-run state shared by drivers: the AWS gateway and a memo for batched reads.

    The cache lets one `describe_services` call serve up to ten services: the
    first observe of a kind fills it (see `Driver.prefetch`), the rest read it.
    """

    def __init__(self, aws: AwsGateway, stack: str, *, check_images: bool = True) -> None:
        self.aws = aws
        self.stack = stack
        # stack.yaml's checkImages: whether `Driver.missing` looks for images in ECR
        self.check_images = check_images
        self.cache: dict[Any, Any] = {}
        self.lock = threading.Lock()  # guards `cache`; reads of one kind run in threads
        # gitops:id -> the AWS ids of every live resource carrying it, where more than one
        # does (a create retried after its answer was lost): reported, never hidden
        self.duplicates: dict[str, list[str]] = {}
        self._key_locks: dict[Any, threading.Lock] = {}
        # key -> how many times it was forgotten: a load that a write made stale while it
        # was in flight (apply writes several resources at once) is not kept
        self._forgotten: dict[Any, int] = {}

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def seen_twice(self, resource_id: str, *aws_ids: str) -> None:
        """Record live resources that carry one identity: the first is the one managed."""
        with self.lock:
            known = self.duplicates.setdefault(resource_id, [])
            known.extend(i for i in aws_ids if i not in known)

    def cached(self, key: Any, load: Callable[[], T]) -> T:
        """Load `key` once per run, even when several threads ask at the same time.

        A failed load is remembered too: the resources that share a batched read
        all report its error, without asking a throttled API again in this run.
        """
        with self.lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self.lock:
                if key in self.cache:
                    return _unwrap(self.cache[key])
                generation = self._forgotten.get(key, 0)
            try:
                value: Any = load()
            except errors.AWS_ERRORS as err:  # a bug is not remembered: it is raised as it is
                value = _Failed(err)
            self.keep(key, value, generation)
            return _unwrap(value)

    def forgotten(self, key: Any) -> int:
        """How many times `key` was forgotten: a read that started before a write, and
        ends after it, must not be kept (`cached`, and batch.ByNames, compare it)."""
        with self.lock:
            return self._forgotten.get(key, 0)

    def keep(self, key: Any, value: Any, forgotten: int) -> None:
        """Cache `value` read for `key`, unless `key` was forgotten since the read began."""
        with self.lock:
            if self._forgotten.get(key, 0) == forgotten:
                self.cache[key] = value

    def forget(self, key: Any) -> None:
        """Drop a cached read after a write made it stale, and a read of it in flight (it
        may have started before the write): the next `cached` reads afresh."""
        with self.lock:
            self.cache.pop(key, None)
            self._forgotten[key] = self._forgotten.get(key, 0) + 1


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Failed):
        raise value.error
    return value


Identity = Literal["name", "tags"]
ReplaceOrder = Literal["create_first", "delete_first"]


class Driver(ABC):
    """One AWS kind: a declaration, four verbs, and what the engine cannot know alone.

    Declaration: the spec model, the attributes refs read, the fields AWS cannot
    change in place, whether it holds data, how it is found (`identity`) and the
    kinds it may reference (for prune order). Verbs: observe, create, update,
    delete. And: the owned resources of the stack (`inventory`), one by AWS id
    (`find`, for `adopt:`), how far AWS is with it (`readiness`), in which order
    a replace can run, and what a change does in its own words (`plan_note`).
    """

    kind: ClassVar[str]
    spec_model: ClassVar[type[SpecModel]]
    # attributes a `${ref:Kind/name.attr}` may read, e.g. ("arn", "id")
    attributes: ClassVar[tuple[str, ...]]
    # top-level spec fields that AWS cannot change in place: a change means replace
    immutable: ClassVar[frozenset[str]] = frozenset()
    # kinds that hold data are protected from replace and delete by default
    holds_data: ClassVar[bool] = False
    # attributes whose value an in-place update changes (a task definition's revision ARN)
    changed_by_update: ClassVar[frozenset[str]] = frozenset()
    # the names AWS accepts for this kind
    name_rule: ClassVar[NameRule] = TAG_SAFE_NAME
    # How `observe` finds the resource: by its AWS name (unique: a same-named resource
    # someone else made is found too, and adopted or refused), or by the ownership
    # tags (AWS names are not unique: `adopt: <id>` takes over what exists).
    identity: ClassVar[Identity] = "name"
    # kinds this kind's specs may reference: prune deletes a kind before those
    references: ClassVar[tuple[str, ...]] = ()
    # fields of a referenced kind this kind takes over once it manages that resource (an
    # autoscaler owns a service's desiredCount): git's value is used at create only, and
    # a difference is shown as managed, never as drift to correct
    takes_over: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    # AWS refuses to use the resource before it is ready (a certificate not yet issued):
    # what references it waits for readiness, not only for its attributes
    ready_before_use: ClassVar[bool] = False
    # spec fields (dotted paths, e.g. ("code.path",)) that name a folder of the repository,
    # relative to the YAML file's folder: the loader reads each whole, within the stack's
    # limits, and hands it to the driver as a `Folder` (the path, carrying its files)
    folders: ClassVar[tuple[str, ...]] = ()

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Put the desired spec in the same canonical form `observe` returns. Pure."""
        return spec

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        """What AWS would refuse at apply and validation can already tell: checks that
        need the resource's name or other resources of the stack (`stack`, by id, in
        the order they were read), e.g. a subnet outside its VPC. Pure, no AWS call;
        none by default. Checks of the spec alone belong in the spec model."""
        return []

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:  # noqa: B027
        """Batch-read all resources of this kind about to be observed into `ctx.cache`."""

    @abstractmethod
    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        """Read the live resource, or None if absent. Never writes. `Observed.tags` holds
        every tag (ownership tags included): the engine decides adopt or refuse from it."""

    @abstractmethod
    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        """Create the resource with ownership tags; return it as `observe` would."""

    @abstractmethod
    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """Change the live resource in place; `changed` lists the differing top-level fields.
        `tags` among them writes the user tags and the ownership tags (adoption does)."""

    @abstractmethod
    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Delete (replace or prune only) what `observe` or `inventory` found; deleting
        what is already gone succeeds. Needs no desired state: an orphan has none."""

    @abstractmethod
    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """Every resource of this kind carrying the run's stack's ownership tags, by its
        `gitops:id`: what prune compares with git. `Observed.fields` may be empty; attrs
        and tags must be enough for `delete`."""

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        """The resource with this AWS id (`adopt: vpc-...`), or None. Tag-identified kinds
        implement it: a resource made by another tool carries none of our tags."""
        raise NotImplementedError(f"{self.kind} is found by its name: adopt needs no id")

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """How far AWS is with `live`, from what `observe` read (no AWS call): ready,
        progressing with AWS's words, or failed (rolled back included)."""
        return READY

    def retag(self, live: Observed, tags: dict[str, str], ctx: RunContext) -> None:
        """Set these tags on `live` (others stay). A create-first replace renames the old
        resource's `gitops:id` with it before creating the new one, so the two are never
        taken for each other; kinds that can replace create-first implement it."""
        raise NotImplementedError(f"{self.kind} does not retag: it replaces delete-first")

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Whether a replace can create the new resource before deleting the old one (two
        can exist at once: names not unique, or a generated one) so dependents move to
        the new one first; else the old one goes first (a unique name forces it)."""
        return "delete_first"

    def at_risk(self, live: Observed) -> str | None:
        """What deleting `live` would lose, in a user's words, for a kind that holds data
        ("the database iq-theory-db: 20 GiB and 7 days of backups"): a refused replace or a
        kept orphan names it. Pure: from what observe or inventory read. None: "its data"."""
        return None

    def missing(self, desired: Desired, live: Observed | None,
                ctx: RunContext) -> str | None:
        """What a write of `desired` over `live` (None: a create) needs from outside the
        stack that AWS does not hold yet (a new task-definition revision's image not pushed
        to ECR), in a user's words: the change is held with them instead of written, and
        nothing that follows it rolls. May read AWS; asked only for creates, updates and
        replaces about to be planned."""
        return None

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        """What the change does in AWS, in this kind's words, when the fields alone do not
        say it (a task definition's update is a new revision). Pure: no AWS call."""
        return None

    def live_tags(self, desired: Desired, live: Observed, ctx: RunContext) -> dict[str, str]:
        """Every tag of the live resource, ownership tags included: what the engine checks
        before it deletes anything. Kinds whose reads do not carry tags override this."""
        if live.tags is None:
            raise NotImplementedError(f"{self.kind} does not read its tags")
        return live.tags
