"""The kind-agnostic envelope: what every layer says about a resource, whatever its kind.

A resource as git wants it (`Desired`), as AWS has it (`Observed`), how ready it
is (`Readiness`), its `Policy`, values only known after apply (`Unknown`), a folder
of the repository read for a spec (`Folder`), a hash shown short (`Digest`), and
the few field types every kind's spec shares (`Tags`, `NameRule`). The spec
loader and the engine speak these; only `resources/` knows a kind's AWS calls,
and reaches the rest of the controller through `Kind` (what validation needs)
and the driver contract in `resources/base.py`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict

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


class Folder(str):
    """A folder of the repository as a spec value: the path as written, and its files
    (posix path inside the folder -> bytes) as the loader read them.

    A str so that plans, JSON, logs and hashes of a spec show the path, never the bytes;
    the files travel with it from the loader to the driver that packages them (a
    function's code), through ref resolution, which keeps it as the same object. Only
    the loader makes one with files, through the stack's confined, bounded reads
    (`Driver.folders` names the spec fields it reads).
    """

    files: Mapping[str, bytes]

    def __new__(cls, path: str, files: Mapping[str, bytes] | None = None) -> Folder:
        made = super().__new__(cls, path)
        made.files = dict(files or {})  # copy and pickle pass only the path, then the files
        return made

    @property
    def fingerprint(self) -> str:
        """A SHA-256 of the path and every file (names and bytes, in order): what a
        comparison of specs as text needs, since the str alone is the path."""
        sha = hashlib.sha256(self.encode())
        for name in sorted(self.files):
            data = self.files[name]
            sha.update(f"\0{name}\0{len(data)}\0".encode())
            sha.update(data)
        return sha.hexdigest()


class Digest(str):
    """A content hash (a code package's SHA-256): compared and written whole, shown short.

    Plans show its first characters (`q1w2e3r4...`): enough to tell two versions apart,
    and nothing of what was hashed. JSON keeps it whole: it is what AWS reports.
    """

    __slots__ = ()
    SHOWN = 8

    @property
    def short(self) -> str:
        return f"{self[:self.SHOWN]}..." if len(self) > self.SHOWN else str(self)


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


ReadyState = Literal["ready", "progressing", "failed"]


@dataclass(frozen=True)
class RolledBack:
    """AWS undid what git asks for (an ECS circuit breaker rolled a revision back).

    `what` is the thing rolled back, as people read it; `evidence` names the AWS
    records that show it (deployment ids), so a hold released by a change in git is
    not taken again on the same old evidence.
    """

    what: str
    reason: str
    evidence: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Readiness:
    """How far AWS is with a resource, in the kind's own words.

    A write that AWS finishes later (a database creating, a rollout) is
    `progressing`: the run goes on, and what needs it waits with this reason.
    `phase` is the kind's own state word where a metric exports it (an ECS
    rollout's in_progress, completed, failed, rolled_back).
    """

    state: ReadyState = "ready"
    reason: str = ""
    phase: str | None = None
    rolled_back: RolledBack | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"


READY = Readiness()


class Kind(Protocol):
    """What validation needs of a kind (a driver is one): its model and its rules."""

    @property
    def kind(self) -> str: ...

    @property
    def spec_model(self) -> type[BaseModel]: ...

    @property
    def attributes(self) -> tuple[str, ...]: ...

    @property
    def name_rule(self) -> NameRule: ...

    @property
    def identity(self) -> str: ...

    @property
    def folders(self) -> tuple[str, ...]: ...

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]: ...


Kinds = Mapping[str, Kind]
