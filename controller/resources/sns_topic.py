"""sns.Topic: an SNS topic, its attributes and tags, found by its name (unique per account
and region: the ARN is `arn:aws:sns:<region>:<account>:<name>`).

SNS has no batch describe: a run lists the account's topics once (`ListTopics`, 100 per
call) to learn which names exist, then reads each declared topic's attributes
(`GetTopicAttributes`) and tags (`ListTagsForResource`). The tags read is shared with
`sns.Subscription`, whose ownership markers live on its topic (see sns_subscription.py):
one read per topic and run serves both kinds.

SNS speaks a flat map of PascalCase attributes as strings, policies as JSON text;
`normalise` (desired side) and `_fields` (live side) meet in one typed form. AWS's
defaults (no display name, PassThrough tracing, signature version 1) are made explicit
on the live side, so a spec that does not write them never sees them, and one that
does compares like with like.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
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
from controller.resources.batch import ByNames, Listing
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.policy_documents import normalise_policy, policy_json
from controller.resources.shapes import KmsKey
from controller.resources.tagged import by_id, stack_arns

KIND = "sns.Topic"
# SNS's not-found codes for topics and for tag calls on a topic that is gone.
ABSENT = ("NotFound", "ResourceNotFound")
FIFO_SUFFIX = ".fifo"

# spec field -> (SNS attribute, type, AWS's value when the attribute is absent)
_SCALARS: dict[str, tuple[str, type, Any]] = {
    "displayName": ("DisplayName", str, ""),
    "kmsMasterKeyId": ("KmsMasterKeyId", str, None),
    "fifoTopic": ("FifoTopic", bool, False),
    "contentBasedDeduplication": ("ContentBasedDeduplication", bool, False),
    "signatureVersion": ("SignatureVersion", str, "1"),
    "tracingConfig": ("TracingConfig", str, "PassThrough"),
}
_DOCUMENTS = {"policy": "Policy", "deliveryPolicy": "DeliveryPolicy"}


class TopicSpec(SpecModel):
    """The topic is named by the resource's `name` (a FIFO topic's ends in `.fifo`).
    `kmsMasterKeyId: ""` means "no encryption" (SNS's way to turn it off in place)."""

    displayName: str | None = Field(default=None, max_length=100,
                                    description="the sender name of SMS and email messages")
    policy: dict[str, Any] | str | None = Field(
        default=None, description="access policy, as a mapping or JSON text; AWS's default "
                                  "lets the account's principals publish")
    deliveryPolicy: dict[str, Any] | str | None = Field(
        default=None, description="HTTP/S delivery retries, as a mapping or JSON text")
    kmsMasterKeyId: KmsKey | None = Field(
        default=None, description='KMS key for encryption at rest; "" for none. CloudWatch '
                                  "alarms can publish only with a key whose policy lets "
                                  "cloudwatch.amazonaws.com use it (not alias/aws/sns)")
    fifoTopic: bool | None = Field(default=None, description="immutable: a change replaces")
    contentBasedDeduplication: bool | None = Field(default=None, description="FIFO only")
    signatureVersion: Literal["1", "2"] | None = Field(
        default=None, description="1: SHA1 (AWS's default), 2: SHA256")
    tracingConfig: Literal["PassThrough", "Active"] | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _deduplication_is_fifo_only(self) -> TopicSpec:
        if self.contentBasedDeduplication and not self.fifoTopic:
            raise FieldError(("contentBasedDeduplication",), "only FIFO topics deduplicate: "
                             "set fifoTopic: true (with a name ending in .fifo), or drop it")
        return self


def _list_topics(ctx: RunContext, scope: str) -> dict[str, str]:
    """Topic name -> ARN, of every topic of the account (100 per call)."""
    pages = ctx.client("sns").get_paginator("list_topics").paginate()
    arns = [t["TopicArn"] for page in pages for t in page.get("Topics", [])]
    return {arn.rsplit(":", 1)[-1]: arn for arn in arns}


def _read_tags(ctx: RunContext, arns: list[str]) -> dict[str, dict[str, str]]:
    """Every tag of each topic (SNS reads one topic's tags per call); a topic gone since
    it was listed is left out."""
    found: dict[str, dict[str, str]] = {}
    for arn in arns:
        answer = absent_ok(ctx.client("sns").list_tags_for_resource, ResourceArn=arn,
                           absent=ABSENT)
        if answer is not None:
            found[arn] = from_key_value_list(answer.get("Tags"))
    return found


# Which topics exist: one listing per run, shared by observe, create and the inventory.
TOPICS: Listing[str] = Listing("sns.topics", _list_topics)
# A topic's tags by ARN, once per run: the topic's observe and its subscriptions' read them.
TOPIC_TAGS: ByNames[dict[str, str]] = ByNames("sns.topic-tags", _read_tags, 1)


class TopicDriver(Driver):
    kind = KIND
    name_rule = NameRule(r"(?=.{1,256}$)[A-Za-z0-9_-]+(\.fifo)?",
                         "1-256 letters, digits, hyphens and underscores (FIFO: ending in .fifo)")
    spec_model = TopicSpec
    attributes = ("arn", "name")
    immutable = frozenset({"fifoTopic"})

    def lint(self, doc: Declared, stack: Mapping[str, Declared]) -> list[Finding]:
        """AWS names FIFO topics, and only them, with `.fifo` at the end: a FIFO topic is
        another name, so fifoTopic never changes on one topic (immutable, no replace)."""
        named_fifo = doc.name.endswith(FIFO_SUFFIX)
        fifo = doc.spec.get("fifoTopic") is True
        if fifo and not named_fifo:
            return [Finding(("spec", "fifoTopic"), "a FIFO topic's name ends in .fifo: name it "
                                                   f"{doc.name}{FIFO_SUFFIX}, or drop fifoTopic")]
        if named_fifo and not fifo:
            return [Finding(("name",), "a name ending in .fifo is a FIFO topic's: set "
                                       "spec.fifoTopic: true, or drop .fifo from the name")]
        return []

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, value in spec.items():
            if field == "kmsMasterKeyId" and value == "":
                out[field] = None  # no key: what _fields reads then
            elif field in _DOCUMENTS:
                out[field] = _document(field, value)
            else:
                out[field] = value
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One ListTopics for the run; then the declared topics' tags (one call each).
        topics = TOPICS.all(ctx)
        TOPIC_TAGS.prime(ctx, [topics[d.name] for d in desired if d.name in topics])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        arn = TOPICS.get(ctx, desired.name)
        if arn is None:
            return None
        answer = absent_ok(ctx.client("sns").get_topic_attributes, TopicArn=arn, absent=ABSENT)
        tags = TOPIC_TAGS.get(ctx, arn)
        if answer is None or tags is None:  # deleted since it was listed
            return None
        fields = _fields(answer.get("Attributes") or {})
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        return Observed(fields=fields, attrs=_attrs(arn), tags=tags)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        attributes = _attributes(desired.spec, [f for f, v in desired.spec.items()
                                                if f != "tags" and v is not None])
        # AWS rejects FIFO-only attributes on a standard topic, even set to false.
        for name in ("FifoTopic", "ContentBasedDeduplication"):
            if attributes.get(name) == "false":
                del attributes[name]
        # CreateTopic on an existing name answers its ARN (or refuses other tags): it never
        # replaces a live topic.
        ctx.client("sns").create_topic(Name=desired.name, Attributes=attributes,
                                       Tags=as_key_value_list(desired.tags()))
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        sns, arn = ctx.client("sns"), live.attrs["arn"]
        # SetTopicAttributes takes one attribute per call; fifoTopic is immutable (replace).
        writable = [f for f in changed if f != "tags" and f not in self.immutable]
        for name, value in _attributes(desired.spec, writable).items():
            sns.set_topic_attributes(TopicArn=arn, AttributeName=name, AttributeValue=value)
        if "tags" in changed:
            sync_tags(desired, live.tags or {},
                      write=lambda tags: sns.tag_resource(ResourceArn=arn,
                                                          Tags=as_key_value_list(tags)),
                      remove=lambda keys: sns.untag_resource(ResourceArn=arn, TagKeys=keys))
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """DeleteTopic also deletes the topic's subscriptions (AWS does it asynchronously)."""
        absent_ok(ctx.client("sns").delete_topic, TopicArn=live.attrs["arn"], absent=ABSENT)
        TOPICS.forget(ctx)
        TOPIC_TAGS.forget(ctx, live.attrs["arn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's topics from the tagging index (one listing shared by every kind),
        confirmed by this run's ListTopics: the index may lag a delete."""
        return by_id((Observed(fields={}, attrs=_attrs(arn), tags=tags)
                      for arn, tags in stack_topics(ctx).items()), ctx)

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        TOPICS.forget(ctx)
        arn = TOPICS.get(ctx, desired.name)
        if arn is not None:
            TOPIC_TAGS.forget(ctx, arn)
        return reread(self, desired, ctx)


def stack_topics(ctx: RunContext) -> dict[str, dict[str, str]]:
    """ARN -> tags (from the tagging index) of the run's stack's topics that still exist.
    Subscriptions share the `sns` service in ARNs but carry no tags: only topics are
    listed (a topic's resource part has no `:`)."""
    live = set(TOPICS.all(ctx).values())
    return {arn: tags for arn, tags in stack_arns(ctx, "sns").items()
            if ":" not in arn.split(":", 5)[5] and arn in live}


def _attrs(arn: str) -> dict[str, str]:
    return {"arn": arn, "name": arn.rsplit(":", 1)[-1]}


def _document(field: str, value: Any) -> Any:
    """A JSON document in one canonical form: parsed, a policy's statements sorted."""
    if field == "policy":
        return normalise_policy(value)
    if isinstance(value, str) and not is_unknown(value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _fields(attributes: dict[str, str]) -> dict[str, Any]:
    """The live side's canonical fields from SNS's string attributes, AWS's absences made
    explicit (no display name is "", no key None). Pure."""
    fields: dict[str, Any] = {}
    for field, (name, kind, default) in _SCALARS.items():
        raw = attributes.get(name)
        if raw is None or raw == "":
            fields[field] = default
        else:
            fields[field] = raw == "true" if kind is bool else raw
    for field, name in _DOCUMENTS.items():
        raw = attributes.get(name)
        fields[field] = _document(field, raw) if raw else None
    return fields


def _attributes(spec: dict[str, Any], fields: list[str]) -> dict[str, str]:
    """SNS's string attributes for `fields` of a normalised spec; None clears ("")."""
    out: dict[str, str] = {}
    for field in fields:
        value = spec.get(field)
        if field in _SCALARS:
            text = "" if value is None else value
            out[_SCALARS[field][0]] = str(text).lower() if isinstance(text, bool) else str(text)
        elif field == "policy":
            out["Policy"] = "" if value is None else policy_json(value)
        elif field == "deliveryPolicy":
            out["DeliveryPolicy"] = "" if value is None else json.dumps(value)
    return out
