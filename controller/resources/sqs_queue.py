"""sqs.Queue: a queue's attributes, redrive policy, access policy and tags.

Users write typed camelCase fields (`visibilityTimeout: 60`); SQS speaks a flat
map of PascalCase names to strings, with RedrivePolicy and Policy as JSON text
whose numbers may come back retyped. `normalise` (desired side) and
`fields_from_attributes` (live side) meet in one canonical form: ints are ints,
booleans are booleans, RedrivePolicy is parsed, and Policy goes through the
shared `policy_documents.normalise_policy`, so "5" and 5 never make a diff.

SQS has no batch describe: observe costs one get_queue_attributes per queue. The
URLs come from one list_queues per thousand queues of the account (`prefetch`, when
the stack has several), the tags from the stack's tagging index when they agree
with git (else list_queue_tags: only a difference costs it). The stack's queues are
found through the tagging index and confirmed by that listing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import is_not_found
from controller.aws.tags import user_tags
from controller.model import (
    Declared,
    Desired,
    FieldError,
    Finding,
    NameRule,
    Observed,
    SpecModel,
    Tags,
    is_unknown,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.policy_documents import normalise_policy, policy_json
from controller.resources.shapes import KmsKey, QueueArn
from controller.resources.tagged import agreed_tags, by_id, stack_arns

# spec field -> (SQS attribute, type): the scalars, written as strings.
_SCALARS: dict[str, tuple[str, type]] = {
    "visibilityTimeout": ("VisibilityTimeout", int),
    "messageRetentionPeriod": ("MessageRetentionPeriod", int),
    "maximumMessageSize": ("MaximumMessageSize", int),
    "delaySeconds": ("DelaySeconds", int),
    "receiveMessageWaitTimeSeconds": ("ReceiveMessageWaitTimeSeconds", int),
    "fifoQueue": ("FifoQueue", bool),
    "contentBasedDeduplication": ("ContentBasedDeduplication", bool),
    "kmsMasterKeyId": ("KmsMasterKeyId", str),
}
# fields whose absence is a state AWS can return to: `""` in a spec asks for it, and it
# is written as "" (SQS's way to clear an attribute)
_CLEARABLE = frozenset({"kmsMasterKeyId", "redrivePolicy", "policy"})
FIFO_SUFFIX = ".fifo"
LIST_PAGE = 1000  # list_queues answers at most 1000 URLs per call


class RedrivePolicySpec(SpecModel):
    """Where messages go after `maxReceiveCount` failed receives."""

    deadLetterTargetArn: QueueArn = Field(description="usually ${ref:sqs.Queue/<dlq>.arn}")
    maxReceiveCount: int = Field(ge=1, le=1000)


class QueueSpec(SpecModel):
    """The queue is named by the resource's `name` (FIFO names end in `.fifo`).

    Durations are integer seconds. `""` on kmsMasterKeyId, redrivePolicy or policy means
    "must be absent" (a `null`, as anywhere, means not managed).
    """

    visibilityTimeout: int | None = Field(default=None, ge=0, le=43200)
    messageRetentionPeriod: int | None = Field(default=None, ge=60, le=1209600)
    maximumMessageSize: int | None = Field(default=None, ge=1024, le=1048576)
    delaySeconds: int | None = Field(default=None, ge=0, le=900)
    receiveMessageWaitTimeSeconds: int | None = Field(default=None, ge=0, le=20)
    fifoQueue: bool | None = Field(default=None, description="immutable: a change replaces")
    contentBasedDeduplication: bool | None = Field(default=None, description="FIFO queues only")
    kmsMasterKeyId: KmsKey | None = None
    redrivePolicy: RedrivePolicySpec | Literal[""] | None = Field(
        default=None, description='"" removes it')
    policy: dict[str, Any] | str | None = Field(
        default=None, description='access policy document, as a mapping or JSON text; "" '
                                  "removes it"
    )
    tags: Tags | None = None

    @model_validator(mode="after")
    def _deduplication_is_fifo_only(self) -> QueueSpec:
        # AWS refuses ContentBasedDeduplication on a standard queue.
        if self.contentBasedDeduplication and not self.fifoQueue:
            raise FieldError(("contentBasedDeduplication",), "only FIFO queues deduplicate: "
                             "set fifoQueue: true (with a name ending in .fifo), or drop it")
        return self


class QueueDriver(Driver):
    kind = "sqs.Queue"
    name_rule = NameRule(r"(?=.{1,80}$)[A-Za-z0-9_-]+(\.fifo)?",
                         "1-80 letters, digits, hyphens and underscores (FIFO: ending in .fifo)")
    spec_model = QueueSpec
    attributes = ("arn", "url", "name")
    immutable = frozenset({"fifoQueue"})
    holds_data = True
    references = ("sqs.Queue",)  # its dead-letter queue

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        return [*_fifo_name(doc), *_dead_letter_type(doc, stack)]

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, value in spec.items():
            if field in _CLEARABLE and value == "":
                out[field] = None  # absent: what fields_from_attributes reads then
            elif field in _SCALARS and not is_unknown(value):
                out[field] = _typed(value, _SCALARS[field][1])
            elif field == "redrivePolicy":
                out[field] = _redrive(value)
            elif field == "policy":
                out[field] = normalise_policy(value)
            else:
                out[field] = value
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        if len(desired) > 1:  # one queue is cheaper to ask alone than to list
            QUEUE_URLS.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        sqs = ctx.client("sqs")
        try:
            url = _url(desired.name, ctx)
            live = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get(
                "Attributes", {})
            tags = agreed_tags(ctx, live["QueueArn"], desired)
            if tags is None:
                tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        except errors.ClientError as err:
            if is_not_found(err):
                return None
            raise
        fields = fields_from_attributes(live)
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        return Observed(
            fields=fields, attrs={"arn": live["QueueArn"], "url": url, "name": desired.name},
            tags=tags,
        )

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        fields = [f for f, v in desired.spec.items() if f != "tags" and v is not None]
        attributes = attributes_for(desired.spec, fields)
        # AWS rejects FIFO-only attributes on a standard queue, even set to false.
        for name in ("FifoQueue", "ContentBasedDeduplication"):
            if attributes.get(name) == "false":
                del attributes[name]
        # Same name and attributes returns the existing queue: create is idempotent.
        ctx.client("sqs").create_queue(
            QueueName=desired.name, Attributes=attributes, tags=desired.tags()
        )
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        sqs = ctx.client("sqs")
        url = live.attrs["url"]
        # fifoQueue is immutable: the engine replaces instead of calling update for it.
        writable = [f for f in changed if f not in self.immutable and f != "tags"]
        attributes = attributes_for(desired.spec, writable)
        if attributes:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        if "tags" in changed:
            sync_tags(desired, live.tags or {},
                      write=lambda tags: sqs.tag_queue(QueueUrl=url, Tags=tags),
                      remove=lambda keys: sqs.untag_queue(QueueUrl=url, TagKeys=keys))
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        absent_ok(ctx.client("sqs").delete_queue, QueueUrl=live.attrs["url"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the stack's queues (one call shared by every kind); one
        list_queues per thousand queues confirms them and gives their URLs."""
        urls = QUEUE_URLS.all(ctx)
        found = (_found(arn, tags, urls.get(arn.rsplit(":", 1)[-1]))
                 for arn, tags in stack_arns(ctx, "sqs").items())
        return by_id((live for live in found if live is not None), ctx)


def _url(name: str, ctx: RunContext) -> str:
    """The queue's URL: from the run's one listing of the account's queues when the
    stack has several (the listing lags a create, so a name it lacks is asked alone)."""
    url = QUEUE_URLS.get(ctx, name) if QUEUE_URLS.loaded(ctx) else None
    if url is None:
        url = ctx.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
    return str(url)


def _list_queues(ctx: RunContext, scope: str) -> dict[str, str]:
    """Queue name -> URL, of every queue of the account (deleted ones drop out)."""
    pages = ctx.client("sqs").get_paginator("list_queues").paginate(
        PaginationConfig={"PageSize": LIST_PAGE})
    urls = [url for page in pages for url in page.get("QueueUrls", [])]
    return {url.rsplit("/", 1)[-1]: url for url in urls}


QUEUE_URLS: Listing[str] = Listing("sqs.urls", _list_queues)


def _found(arn: str, tags: dict[str, str], url: str | None) -> Observed | None:
    """A queue the tagging index lists, as the inventory lists it, if it still exists."""
    if url is None:
        return None
    name = arn.rsplit(":", 1)[-1]
    return Observed(fields={}, attrs={"arn": arn, "url": url, "name": name}, tags=tags)


def fields_from_attributes(attrs: dict[str, str]) -> dict[str, Any]:
    """The live side's canonical fields, from SQS's all-strings attribute map. Pure."""
    fields: dict[str, Any] = {}
    for field, (name, kind) in _SCALARS.items():
        raw = attrs.get(name)
        if kind is bool:
            fields[field] = raw == "true"  # absent on standard queues: false
        elif raw is None or raw == "":
            fields[field] = None
        else:
            fields[field] = _typed(raw, kind)
    redrive = attrs.get("RedrivePolicy")
    fields["redrivePolicy"] = _redrive(json.loads(redrive)) if redrive else None
    policy = attrs.get("Policy")
    fields["policy"] = normalise_policy(policy) if policy else None
    return fields


def attributes_for(spec: dict[str, Any], fields: list[str]) -> dict[str, str]:
    """SQS's string attributes for `fields` of a normalised spec; None clears ("")."""
    out: dict[str, str] = {}
    for field in fields:
        value = spec.get(field)
        if field in _SCALARS:
            name = _SCALARS[field][0]
            out[name] = "" if value is None else _as_text(value)
        elif field == "redrivePolicy":
            out["RedrivePolicy"] = "" if value is None else json.dumps(value)
        elif field == "policy":
            out["Policy"] = "" if value is None else policy_json(value)
    return out


def _typed(value: Any, kind: type) -> Any:
    if kind is bool:
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind is int:
        return int(value)
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _redrive(value: Any) -> dict[str, Any]:
    """deadLetterTargetArn as text, maxReceiveCount as int: SQS may echo either as a string."""
    policy = json.loads(value) if isinstance(value, str) else dict(value)
    count = policy.get("maxReceiveCount")
    if count is not None and not is_unknown(count):
        policy["maxReceiveCount"] = int(count)
    return policy


def _fifo_name(doc: Declared) -> list[Finding]:
    """AWS names FIFO queues, and only them, with `.fifo` at the end: it refuses
    `fifoQueue: true` on any other name, and a `.fifo` name without it."""
    named_fifo = doc.name.endswith(FIFO_SUFFIX)
    fifo = doc.spec.get("fifoQueue") is True
    if fifo and not named_fifo:
        return [Finding(("spec", "fifoQueue"), f"a FIFO queue's name ends in .fifo: name it "
                                               f"{doc.name}{FIFO_SUFFIX}, or drop fifoQueue")]
    if named_fifo and not fifo:
        return [Finding(("name",), "a name ending in .fifo is a FIFO queue's: set "
                                   "spec.fifoQueue: true, or drop .fifo from the name")]
    return []


def _dead_letter_type(doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
    """AWS refuses a dead-letter queue of the other type (a FIFO queue's is FIFO, a standard
    queue's standard): known when the redrive target is a ref to a queue of the stack."""
    path = ("redrivePolicy", "deadLetterTargetArn")
    target = stack.get(doc.refs.get(path, ""))
    if target is None or target.kind != doc.kind:
        return []
    if _is_fifo(target) == _is_fifo(doc):
        return []
    kind = "FIFO" if _is_fifo(doc) else "standard"
    return [Finding(("spec", *path), f"the dead-letter queue of a {kind} queue is a {kind} "
                                     f"queue too, and {target.id} is not")]


def _is_fifo(doc: Declared) -> bool:
    return doc.spec.get("fifoQueue") is True or doc.name.endswith(FIFO_SUFFIX)
