"""sns.Subscription: one endpoint (an email address, a queue, a URL...) subscribed to a
topic, and its delivery attributes.

Identity is "name"-like, but not by the resource's `name`: AWS knows a subscription by
(topic, protocol, endpoint), which it keeps unique (a second Subscribe of the same three
answers the same subscription). The resource's `name` is git's handle for it.

AWS cannot tag a subscription (SNS tags topics only), so its ownership is written on its
topic: a tag `gitops:sub:<hash of protocol and endpoint>` whose value is
`<stack>/<name>`. The tags the engine judges a subscription by are made from it: the
marker's stack and `sns.Subscription/<name>` as its gitops:id. Without a marker it is
adopted (apply writes the marker), unless its topic is another stack's: then it is that
stack's and refused. The inventory is the marked subscriptions on the stack's own topics
(a subscription of this stack on another stack's topic is not pruned).

A subscription to an email (or HTTP/S) endpoint waits for a person to confirm it: AWS
lists it as `PendingConfirmation`, without its ARN, for up to 48 hours, then drops it if
nobody confirmed. That is readiness (progressing), never drift: its attributes cannot be
read until it is confirmed, so they read as git's (they were sent with Subscribe). AWS
refuses to delete a pending subscription: `delete` removes the ownership marker and
leaves it to expire.

Reads: one `ListSubscriptionsByTopic` per topic and run (100 per call), shared by observe
and the inventory; the topic's tags (shared with sns.Topic); and, for a confirmed
subscription whose spec declares attributes, its `GetSubscriptionAttributes`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from controller.aws.tags import (
    ID_KEY,
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    STACK_KEY,
    as_key_value_list,
)
from controller.model import (
    Desired,
    FieldError,
    NameRule,
    Observed,
    Readiness,
    SpecModel,
    is_unknown,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import absent_ok, reread
from controller.resources.shapes import ArnRule, QueueArn, has_ref
from controller.resources.sns_topic import ABSENT, TOPIC_TAGS, stack_topics

KIND = "sns.Subscription"
MARKER_PREFIX = "gitops:sub:"
# What ListSubscriptionsByTopic says in place of the ARN of an unconfirmed subscription.
PENDING = frozenset({"PendingConfirmation", "pending confirmation"})
# Protocols whose messages can go out raw (without SNS's JSON envelope).
RAW_CAPABLE = frozenset({"sqs", "http", "https", "firehose"})
# spec field -> SNS attribute, for the attributes git may manage
_ATTRIBUTES = {
    "rawMessageDelivery": "RawMessageDelivery",
    "filterPolicy": "FilterPolicy",
    "filterPolicyScope": "FilterPolicyScope",
    "redrivePolicy": "RedrivePolicy",
}
_JSON = frozenset({"filterPolicy", "redrivePolicy"})
# AWS's value of an attribute it does not report
_DEFAULTS: dict[str, Any] = {"rawMessageDelivery": False, "filterPolicy": None,
                             "filterPolicyScope": "MessageAttributes", "redrivePolicy": None}

TopicArn = Annotated[str, AfterValidator(ArnRule(
    "an SNS topic ARN", "arn:aws:sns:us-east-1:123456789012:NAME", {"sns": ()},
    ref="${ref:sns.Topic/NAME.arn}"))]

Entry = dict[str, Any]  # one item of ListSubscriptionsByTopic


class RedrivePolicySpec(SpecModel):
    """Where messages SNS could not deliver go (an SQS queue)."""

    deadLetterTargetArn: QueueArn


class SubscriptionSpec(SpecModel):
    """(topicArn, protocol, endpoint) is the subscription: changing one replaces it.
    `""` on filterPolicy or redrivePolicy means "must be absent"."""

    topicArn: TopicArn = Field(description="usually ${ref:sns.Topic/NAME.arn} (immutable)")
    protocol: Literal["email", "email-json", "http", "https", "sqs", "lambda", "firehose",
                      "sms", "application"] = Field(description="immutable")
    endpoint: str = Field(min_length=1, description="the address, URL or ARN (immutable); "
                                                    "email and HTTP/S wait for confirmation")
    rawMessageDelivery: bool | None = Field(default=None, description="sqs, http/s, firehose")
    filterPolicy: dict[str, Any] | Literal[""] | None = Field(
        default=None, description='which messages reach the endpoint; "" removes it')
    filterPolicyScope: Literal["MessageAttributes", "MessageBody"] | None = None
    redrivePolicy: RedrivePolicySpec | Literal[""] | None = Field(
        default=None, description='a dead-letter queue for undeliverable messages; "" removes')

    @model_validator(mode="after")
    def _check(self) -> SubscriptionSpec:
        if self.rawMessageDelivery and self.protocol not in RAW_CAPABLE:
            raise FieldError(("rawMessageDelivery",), "raw delivery is for sqs, http, https "
                             f"and firehose endpoints, not {self.protocol}")
        if not has_ref(self.endpoint):
            problem = _endpoint_problem(self.protocol, self.endpoint)
            if problem:
                raise FieldError(("endpoint",), problem)
        return self


def _endpoint_problem(protocol: str, endpoint: str) -> str | None:
    """What AWS would refuse about the endpoint of this protocol, or None."""
    if protocol in ("email", "email-json") and "@" not in endpoint:
        return "an email endpoint is an address such as ops@example.com"
    if protocol in ("http", "https") and not endpoint.startswith(f"{protocol}://"):
        return f"an {protocol} endpoint is a URL starting with {protocol}://"
    if protocol in ("sqs", "lambda", "firehose", "application") and \
            not endpoint.startswith("arn:"):
        return f"an {protocol} endpoint is an ARN"
    return None


def _list(ctx: RunContext, topics: list[str]) -> dict[str, dict[str, Entry]]:
    """Each topic's subscriptions by `_key(protocol, endpoint)`; a topic that is gone is
    left out (absent)."""
    found: dict[str, dict[str, Entry]] = {}
    for topic in topics:
        entries = absent_ok(_subscriptions, ctx, topic, absent=ABSENT)
        if entries is not None:
            found[topic] = {_key(s["Protocol"], s["Endpoint"]): s for s in entries}
    return found


def _subscriptions(ctx: RunContext, topic: str) -> list[Entry]:
    pages = ctx.client("sns").get_paginator("list_subscriptions_by_topic").paginate(
        TopicArn=topic)
    return [s for page in pages for s in page.get("Subscriptions", [])]


# A topic's subscriptions, by topic ARN: one read per topic and run (observe, inventory).
ON_TOPIC: ByNames[dict[str, Entry]] = ByNames("sns.subscriptions", _list, 1)


class PendingConfirmation(Exception):
    """AWS changes nothing of a subscription nobody has confirmed yet (it has no ARN)."""


class SubscriptionDriver(Driver):
    kind = KIND
    # The marker's value is `<stack>/<name>` (at most 256 characters, the characters SNS
    # takes in a tag value): names are shorter than the default rule's.
    name_rule = NameRule(r"[A-Za-z0-9 _.:/@=+-]{1,180}",
                         "1-180 letters, digits, spaces and _.:/=+@-")
    spec_model = SubscriptionSpec
    attributes = ("arn",)
    immutable = frozenset({"topicArn", "protocol", "endpoint"})
    references = ("sns.Topic", "sqs.Queue")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, value in spec.items():
            if field in _JSON:
                out[field] = None if value == "" else _parsed(value)
            else:
                out[field] = value
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One listing per topic; a topic not made yet has no ARN: nothing to read.
        topics = sorted({t for d in desired if (t := _topic(d)) is not None})
        ON_TOPIC.prime(ctx, topics)
        TOPIC_TAGS.prime(ctx, topics)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        """The subscription of git's (protocol, endpoint); else the one this resource's
        marker names on the topic, so that a new endpoint in git reads as a replace of the
        old subscription rather than a second one beside it."""
        topic = _topic(desired)
        if topic is None:
            return None
        topic_tags = TOPIC_TAGS.get(ctx, topic) or {}
        listed = ON_TOPIC.get(ctx, topic) or {}
        entry = listed.get(_key(desired.spec["protocol"], desired.spec["endpoint"])) or next(
            (e for e in listed.values()
             if topic_tags.get(marker_key(e["Protocol"], e["Endpoint"]))
             == f"{desired.stack}/{desired.name}"), None)
        if entry is None:
            return None
        declared = [f for f in _ATTRIBUTES if f in desired.spec]
        attributes: dict[str, str] = {}
        if declared and not _pending(entry):
            answer = absent_ok(ctx.client("sns").get_subscription_attributes,
                               SubscriptionArn=entry["SubscriptionArn"], absent=ABSENT)
            if answer is None:  # unsubscribed since it was listed
                return None
            attributes = answer.get("Attributes") or {}
        fields = _fields(entry, attributes, desired.spec)
        return Observed(fields=fields, attrs=_attrs(entry),
                        tags=ownership(topic_tags, entry, ctx.stack))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        """The marker first, so the subscription is never one nobody owns; Subscribe of a
        live triple answers the same subscription (no second confirmation email for a
        confirmed one), so a repeated create is harmless."""
        spec, topic = desired.spec, desired.spec["topicArn"]
        _mark(ctx, topic, spec["protocol"], spec["endpoint"], desired)
        declared = [f for f in _ATTRIBUTES if spec.get(f) is not None]
        args: dict[str, Any] = {"TopicArn": topic, "Protocol": spec["protocol"],
                                "Endpoint": spec["endpoint"], "ReturnSubscriptionArn": True}
        if declared:
            args["Attributes"] = _attributes(spec, declared)
        ctx.client("sns").subscribe(**args)
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """SetSubscriptionAttributes, one attribute per call; `tags` writes the marker."""
        writable = [f for f in changed if f in _ATTRIBUTES]
        if writable and not live.attrs.get("arn"):
            raise PendingConfirmation(
                f"{desired.id} is pending confirmation: AWS changes its attributes only "
                "once the endpoint's owner has confirmed it")
        for name, value in _attributes(desired.spec, writable).items():
            ctx.client("sns").set_subscription_attributes(
                SubscriptionArn=live.attrs["arn"], AttributeName=name, AttributeValue=value)
        if "tags" in changed:
            attrs = live.attrs
            _mark(ctx, attrs["topicArn"], attrs["protocol"], attrs["endpoint"], desired)
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Unsubscribe, then drop the marker. A pending subscription cannot be deleted (AWS
        drops it 48 hours after it was made, if nobody confirms it): only the marker goes."""
        attrs = live.attrs
        if attrs.get("arn"):
            absent_ok(ctx.client("sns").unsubscribe, SubscriptionArn=attrs["arn"],
                      absent=ABSENT)
        absent_ok(ctx.client("sns").untag_resource, ResourceArn=attrs["topicArn"],
                  TagKeys=[marker_key(attrs["protocol"], attrs["endpoint"])], absent=ABSENT)
        ON_TOPIC.forget(ctx, attrs["topicArn"])
        TOPIC_TAGS.forget(ctx, attrs["topicArn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The marked subscriptions of the stack's topics (each topic's listing and tags are
        read once per run, shared with observe)."""
        topics = sorted(stack_topics(ctx))
        ON_TOPIC.prime(ctx, topics)
        TOPIC_TAGS.prime(ctx, topics)
        owned: dict[str, Observed] = {}
        for topic in topics:
            topic_tags = TOPIC_TAGS.get(ctx, topic) or {}
            for entry in (ON_TOPIC.get(ctx, topic) or {}).values():
                tags = ownership(topic_tags, entry, ctx.stack)
                if tags.get(STACK_KEY) == ctx.stack and tags.get(ID_KEY):
                    owned.setdefault(tags[ID_KEY], Observed(fields={}, attrs=_attrs(entry),
                                                            tags=tags))
        return owned

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        if live.attrs.get("pending"):
            return Readiness("progressing", "PendingConfirmation: the endpoint's owner has "
                                            "not confirmed the subscription yet")
        return Readiness()

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        ON_TOPIC.forget(ctx, desired.spec["topicArn"])
        TOPIC_TAGS.forget(ctx, desired.spec["topicArn"])
        return reread(self, desired, ctx)


def marker_key(protocol: str, endpoint: str) -> str:
    """The topic's tag that says who owns the subscription: hashed, so an email address
    is not copied into a tag (and any endpoint fits SNS's tag key rules)."""
    digest = hashlib.sha256(f"{protocol}\n{endpoint}".encode()).hexdigest()[:24]
    return MARKER_PREFIX + digest


def ownership(topic_tags: dict[str, str], entry: Entry, stack: str) -> dict[str, str]:
    """The tags a subscription is judged by: its marker's stack and id; none (adopt) without
    a marker, unless the topic is another stack's (then it is theirs: refused)."""
    marker = topic_tags.get(marker_key(entry["Protocol"], entry["Endpoint"]))
    if marker and "/" in marker:
        owner, name = marker.split("/", 1)
        return {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_KEY: owner, ID_KEY: f"{KIND}/{name}"}
    topic_owner = topic_tags.get(STACK_KEY)
    if topic_owner and topic_owner != stack:
        return {STACK_KEY: topic_owner}
    return {}


def _mark(ctx: RunContext, topic: str, protocol: str, endpoint: str, desired: Desired) -> None:
    ctx.client("sns").tag_resource(ResourceArn=topic, Tags=as_key_value_list(
        {marker_key(protocol, endpoint): f"{desired.stack}/{desired.name}"}))


def _topic(desired: Desired) -> str | None:
    topic = desired.spec.get("topicArn")
    return topic if isinstance(topic, str) and not is_unknown(topic) else None


def _key(protocol: str, endpoint: str) -> str:
    return f"{protocol}\n{endpoint}"


def _pending(entry: Entry) -> bool:
    return entry.get("SubscriptionArn") in PENDING


def _attrs(entry: Entry) -> dict[str, Any]:
    pending = _pending(entry)
    return {"arn": None if pending else entry["SubscriptionArn"], "topicArn": entry["TopicArn"],
            "protocol": entry["Protocol"], "endpoint": entry["Endpoint"], "pending": pending}


def _parsed(value: Any) -> Any:
    if isinstance(value, str) and not is_unknown(value):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _fields(entry: Entry, attributes: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    """The declared fields as AWS has them. A pending subscription's attributes cannot be
    read: they read as git's (Subscribe sent them), so waiting for a person is no drift."""
    fields: dict[str, Any] = {"topicArn": entry["TopicArn"], "protocol": entry["Protocol"],
                              "endpoint": entry["Endpoint"]}
    for field, name in _ATTRIBUTES.items():
        if field not in spec:
            continue
        if _pending(entry):
            fields[field] = spec[field]
            continue
        raw = attributes.get(name)
        if raw is None or raw == "":
            fields[field] = _DEFAULTS[field]
        elif field == "rawMessageDelivery":
            fields[field] = raw == "true"
        elif field in _JSON:
            fields[field] = _parsed(raw)
        else:
            fields[field] = raw
    return fields


def _attributes(spec: dict[str, Any], fields: list[str]) -> dict[str, str]:
    """SNS's string attributes for `fields` of a normalised spec; None clears ("")."""
    out: dict[str, str] = {}
    for field in fields:
        value = spec.get(field)
        if value is None:
            out[_ATTRIBUTES[field]] = ""
        elif isinstance(value, bool):
            out[_ATTRIBUTES[field]] = "true" if value else "false"
        elif field in _JSON:
            out[_ATTRIBUTES[field]] = json.dumps(value, separators=(",", ":"))
        else:
            out[_ATTRIBUTES[field]] = str(value)
    return out
