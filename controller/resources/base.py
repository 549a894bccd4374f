"""The contract every AWS kind implements: a spec model, four verbs, a declaration.

The engine owns diffing, ordering, dry-run, isolation and retries; a driver only
knows how to read and write its one kind. Drivers never import the engine.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict

from controller.aws.gateway import AwsGateway
from controller.aws.tags import ownership_tags


class Unknown(str):
    """A value that only exists after apply (the ARN of a resource not created yet).

    A str subclass so it serialises as the text users see, while the engine and
    drivers can still tell it apart from a real value with `is_unknown`.
    """

    __slots__ = ()


UNKNOWN = Unknown("(known after apply)")


def is_unknown(value: Any) -> bool:
    """True if `value` or anything nested inside it is only known after apply."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return False


class ExactMap(dict[str, Any]):
    """A map whose keys are all managed: a key present live but not declared is drift.

    Most nested objects compare only the keys the spec declares (AWS fills in
    defaults); user maps such as `tags` are different, since a tag added by
    hand is a change a user wants to see.
    """


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as a name of one kind, checked at validation, not at apply.

    Names reach tags, ARNs, plans and pull-request comments: a name AWS would
    refuse, or one holding a newline or markup, never gets that far.
    """

    pattern: str
    text: str  # the rule as people read it, e.g. "1-64 letters, digits and +=,.@_-"

    def check(self, name: str) -> str | None:
        """Why `name` is not valid, or None."""
        if re.fullmatch(self.pattern, name, flags=re.ASCII):
            return None
        return f"not a valid name for this kind: {self.text}"


# The default: what an EC2 `Name` tag and our `gitops:id` tag value both accept.
TAG_SAFE_NAME = NameRule(r"[A-Za-z0-9 _.:/=+@-]{1,200}",
                         "1-200 letters, digits, spaces and _.:/=+@-")

# Tag keys AWS reserves (`aws:`) or the controller owns (`gitops:`, its ownership tags).
RESERVED_TAG_PREFIXES = ("aws:", "gitops:")


def _check_tags(tags: dict[str, str]) -> dict[str, str]:
    for key, value in tags.items():
        if key.lower().startswith(RESERVED_TAG_PREFIXES):
            raise ValueError(f"tag key {key!r} is reserved: `aws:` keys are AWS's and "
                             "`gitops:` keys are the controller's ownership tags")
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise ValueError(f"tag {key[:40]!r}: AWS allows keys of 1-128 and values of up to "
                             "256 characters")
    return tags


Tags = Annotated[dict[str, str], AfterValidator(_check_tags)]


class SpecModel(BaseModel):
    """Base of every kind's spec: unknown fields are errors, names are AWS's."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldError(ValueError):
    """A spec validator's error about one field of the model it validates.

    Raised from a model validator (a check that needs several fields: Fargate's
    cpu with its memory), so that the message points at the line of `path`
    (relative to that model, e.g. ("memory",)) rather than at the model's.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        super().__init__(message)


@dataclass(frozen=True)
class Declared:
    """One resource as written and validated, for `Driver.lint`.

    `spec` is the validated spec with values substituted and refs still
    `${ref:Kind/name.attr}` text; `refs` maps a spec path whose whole value is one
    ref to the `Kind/name` it names, so a kind can find what a field points at.
    """

    kind: str
    name: str
    spec: dict[str, Any]
    refs: dict[tuple[str | int, ...], str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"


@dataclass(frozen=True)
class Finding:
    """A problem `Driver.lint` found: `path` is in the document, e.g. ("spec", "cidrBlock")
    or ("name",); the loader turns it into an issue at that line."""

    path: tuple[str | int, ...]
    message: str


class Policy(BaseModel):
    """Per-resource policy (DESIGN.md): protect defaults to the kind's `holds_data`."""

    model_config = ConfigDict(extra="forbid")

    drift: Literal["correct", "report"] = "correct"
    prune: bool = False
    protect: bool | None = None


@dataclass(frozen=True)
class Desired:
    """One resource as git wants it, refs resolved (possibly to UNKNOWN)."""

    kind: str
    name: str
    stack: str
    spec: dict[str, Any]
    policy: Policy = field(default_factory=Policy)

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    def tags(self) -> dict[str, str]:
        """Ownership tags plus the spec's own `tags`, which win on conflict only for user keys."""
        user = {str(k): str(v) for k, v in (self.spec.get("tags") or {}).items()}
        return {**user, **ownership_tags(self.stack, self.id)}


@dataclass
class Observed:
    """The live resource: spec-shaped normalised fields, plus attributes for refs."""

    fields: dict[str, Any]
    attrs: dict[str, Any]
    # Deleted but recoverable (a secret pending deletion): the plan says "restore",
    # `create` brings it back, and its attributes (the ARN) stay what they were.
    deleted: bool = False
    # Every tag AWS holds, ownership tags included, when the read that found the resource
    # carried them; None when only `Driver.live_tags` can tell (one more call).
    tags: dict[str, str] | None = None


T = TypeVar("T")


class RunContext:
    """Per-run state shared by drivers: the AWS gateway and a memo for batched reads.

    The cache lets one `describe_services` call serve up to ten services: the
    first observe of a kind fills it (see `Driver.prefetch`), the rest read it.
    """

    def __init__(self, aws: AwsGateway, stack: str) -> None:
        self.aws = aws
        self.stack = stack
        self.cache: dict[Any, Any] = {}
        self._lock = threading.Lock()
        self._key_locks: dict[Any, threading.Lock] = {}

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def cached(self, key: Any, load: Callable[[], T]) -> T:
        """Load `key` once per run, even when several threads ask at the same time.

        A failed load is remembered too: the resources that share a batched read
        all report its error, without asking a throttled API again in this run.
        """
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self.cache:
                    return _unwrap(self.cache[key])
            try:
                value: Any = load()
            except Exception as err:
                value = _Failed(err)
            with self._lock:
                self.cache[key] = value
            return _unwrap(value)

    def forget(self, key: Any) -> None:
        """Drop a cached read after a write made it stale."""
        with self._lock:
            self.cache.pop(key, None)


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Failed):
        raise value.error
    return value


class Driver(ABC):
    """One AWS kind. Subclasses set the class attributes and implement four verbs."""

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
        """Read the live resource, or None if absent. Never writes."""

    @abstractmethod
    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        """Create the resource with ownership tags; return it as `observe` would."""

    @abstractmethod
    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """Change the live resource in place; `changed` lists the differing top-level fields."""

    @abstractmethod
    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        """Delete (replace or prune only). Deleting what is already gone succeeds."""

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
