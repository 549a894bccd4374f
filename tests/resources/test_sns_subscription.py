"""sns.Subscription against a moto server: identity by (topic, protocol, endpoint),
ownership through the topic's marker, drift of its attributes, confirmation pending as
readiness, deletion out of band, one listing per topic."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.aws.tags import ID_KEY, STACK_KEY
from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, Observed
from controller.resources.base import RunContext
from controller.resources.sns_subscription import SubscriptionDriver, marker_key
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = SubscriptionDriver()
ACCOUNT = "arn:aws:sns:us-east-1:111111111111:"
TOPIC = ACCOUNT + "iq-theory-alarms"
QUEUE = "arn:aws:sqs:us-east-1:111111111111:iq-theory-alarm-events"
EMAIL = "ops@iq-theory.example"
FILTER = {"severity": ["high", "critical"]}


def email(name: str = "iq-theory-alarms-email", endpoint: str = EMAIL, **spec: Any) -> Desired:
    base = {"topicArn": TOPIC, "protocol": "email", "endpoint": endpoint}
    return Desired("sns.Subscription", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def queue(**spec: Any) -> Desired:
    base = {"topicArn": TOPIC, "protocol": "sqs", "endpoint": QUEUE,
            "rawMessageDelivery": True, "filterPolicy": FILTER}
    return Desired("sns.Subscription", "iq-theory-alarm-events", TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


@pytest.fixture
def sns(aws: AwsEnv) -> Any:
    """An out-of-band client, with the stack's topic (tagged as sns.Topic makes it)."""
    client = aws.client("sns")
    client.create_topic(Name="iq-theory-alarms", Tags=[
        {"Key": STACK_KEY, "Value": TEST_STACK}, {"Key": ID_KEY, "Value": "sns.Topic/x"}])
    return client


def _arn(sns: Any, endpoint: str) -> str:
    subs = sns.list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]
    return str(next(s["SubscriptionArn"] for s in subs if s["Endpoint"] == endpoint))


def _topic_tags(sns: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=TOPIC)["Tags"]}


def test_create_then_observe_has_no_diff(aws: AwsEnv, sns: Any) -> None:
    want = queue(filterPolicyScope="MessageAttributes")
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert created.attrs["arn"] == _arn(sns, QUEUE) and created.attrs["pending"] is False
    # AWS cannot tag a subscription: the topic carries who owns it, the endpoint hashed
    marker = _topic_tags(sns)[marker_key("sqs", QUEUE)]
    assert marker == f"{TEST_STACK}/iq-theory-alarm-events" and QUEUE not in marker
    assert created.tags == {"gitops:managed-by": "iq-gitops-controller", STACK_KEY: TEST_STACK,
                            ID_KEY: "sns.Subscription/iq-theory-alarm-events"}
    assert DRIVER.readiness(want, created).ready
    DRIVER.create(want, aws.ctx())  # Subscribe of a live triple answers the same one
    assert len(sns.list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]) == 1


def _set(name: str, value: str) -> Callable[[Any], None]:
    return lambda sns: sns.set_subscription_attributes(
        SubscriptionArn=_arn(sns, QUEUE), AttributeName=name, AttributeValue=value)


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("raw delivery off", "a boolean attribute SNS answers as text",
              _set("RawMessageDelivery", "false"), "spec.rawMessageDelivery"),
    DriftCase("filter widened", "a JSON attribute, compared parsed",
              _set("FilterPolicy", json.dumps({"severity": ["high", "critical", "low"]})),
              "spec.filterPolicy.severity"),
    DriftCase("redrive target", "a nested JSON object changed",
              _set("RedrivePolicy", json.dumps({"deadLetterTargetArn": QUEUE + "-other"})),
              "spec.redrivePolicy.deadLetterTargetArn"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, sns: Any, case: DriftCase) -> None:
    want = queue(redrivePolicy={"deadLetterTargetArn": QUEUE + "-dlq"})
    DRIVER.create(want, aws.ctx())
    case.drift(sns)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_undeclared_attributes_are_not_read(aws: AwsEnv, sns: Any) -> None:
    """An email subscription declaring no attributes costs no GetSubscriptionAttributes,
    and a filter someone adds is not git's to judge."""
    want = email()
    DRIVER.create(want, aws.ctx())
    sns.set_subscription_attributes(SubscriptionArn=_arn(sns, EMAIL),
                                    AttributeName="FilterPolicy", AttributeValue='{"a": ["b"]}')
    ctx = aws.ctx()
    live = DRIVER.observe(want, ctx)
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert ctx.aws.calls[("sns", "GetSubscriptionAttributes")] == 0


class Pending:
    """AWS's answer for an email nobody confirmed yet: ListSubscriptionsByTopic shows
    `PendingConfirmation` where the ARN goes. moto confirms every subscription at once, so
    this after-call hook rewrites its answer as AWS's would read."""

    def hooks(self) -> list[tuple[str, Any]]:
        return [("after-call.sns.ListSubscriptionsByTopic", self)]

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        for sub in parsed.get("Subscriptions", []):
            if sub["Protocol"] == "email":
                sub["SubscriptionArn"] = "PendingConfirmation"

    def ctx(self, aws: AwsEnv) -> RunContext:
        return RunContext(aws.gateway(self.hooks()), TEST_STACK)


def test_pending_confirmation_is_progress_not_drift(aws: AwsEnv, sns: Any) -> None:
    # an email declaring an attribute (a filter): it cannot be read while pending
    want = email(filterPolicy=FILTER)
    DRIVER.create(want, aws.ctx())
    ctx = Pending().ctx(aws)
    live = DRIVER.observe(want, ctx)
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.attrs["arn"] is None and live.attrs["pending"] is True
    assert ctx.aws.calls[("sns", "GetSubscriptionAttributes")] == 0
    readiness = DRIVER.readiness(want, live)
    assert readiness.state == "progressing" and "PendingConfirmation" in readiness.reason
    assert live.tags is not None and live.tags[ID_KEY] == "sns.Subscription/" + want.name
    # AWS cannot delete it (it drops it 48 hours on, unconfirmed): only the marker goes
    DRIVER.delete(live, ctx)
    assert ctx.aws.calls[("sns", "Unsubscribe")] == 0
    assert marker_key("email", EMAIL) not in _topic_tags(sns)


def test_unsubscribed_by_hand_reads_absent(aws: AwsEnv, sns: Any) -> None:
    want = queue()
    live = DRIVER.create(want, aws.ctx())
    sns.unsubscribe(SubscriptionArn=live.attrs["arn"])
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # deleting what is gone succeeds
    assert marker_key("sqs", QUEUE) not in _topic_tags(sns)
    DRIVER.delete(live, aws.ctx())


def test_unmarked_subscription_is_adopted_and_marked(aws: AwsEnv, sns: Any) -> None:
    sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint=EMAIL)  # made by hand
    want = email()
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.tags == {}  # no ownership: the engine adopts it
    assert DRIVER.inventory(aws.ctx()) == {}
    adopted = DRIVER.update(want, live, ["tags"], aws.ctx())
    assert adopted.tags is not None and adopted.tags[STACK_KEY] == TEST_STACK
    assert set(DRIVER.inventory(aws.ctx())) == {"sns.Subscription/iq-theory-alarms-email"}


def test_on_another_stacks_topic_it_is_theirs(aws: AwsEnv, sns: Any) -> None:
    sns.tag_resource(ResourceArn=TOPIC, Tags=[{"Key": STACK_KEY, "Value": "other"}])
    sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint=EMAIL)
    live = DRIVER.observe(email(), aws.ctx())
    assert live is not None and live.tags == {STACK_KEY: "other"}  # refused, never adopted


def test_inventory_is_the_marked_subscriptions_of_the_stacks_topics(aws: AwsEnv,
                                                                    sns: Any) -> None:
    DRIVER.create(email(), aws.ctx())
    DRIVER.create(queue(), aws.ctx())
    sns.subscribe(TopicArn=TOPIC, Protocol="email", Endpoint="someone@example.com")
    owned = DRIVER.inventory(aws.ctx())
    assert set(owned) == {"sns.Subscription/iq-theory-alarms-email",
                          "sns.Subscription/iq-theory-alarm-events"}
    orphan = owned["sns.Subscription/iq-theory-alarm-events"]
    DRIVER.delete(orphan, aws.ctx())  # the inventory's Observed is enough to delete
    assert set(DRIVER.inventory(aws.ctx())) == {"sns.Subscription/iq-theory-alarms-email"}


def test_prefetch_lists_each_topic_once(aws: AwsEnv, sns: Any) -> None:
    wants = [email(f"e{i}", f"ops{i}@iq-theory.example") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, email("absent", "nobody@iq-theory.example")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(email("absent", "nobody@iq-theory.example"), ctx) is None
    DRIVER.inventory(ctx)  # served by the same reads
    assert ctx.aws.calls[("sns", "ListSubscriptionsByTopic")] == 1
    assert ctx.aws.calls[("sns", "ListTagsForResource")] == 1


def test_topic_not_made_yet_reads_absent(aws: AwsEnv) -> None:
    want = email(topicArn=UNKNOWN)
    assert DRIVER.observe(want, aws.ctx()) is None


def test_a_new_endpoint_in_git_reads_as_the_old_subscription_to_replace(
        aws: AwsEnv, sns: Any) -> None:
    DRIVER.create(email(), aws.ctx())
    assert DRIVER.immutable == {"topicArn", "protocol", "endpoint"}
    # another address is another subscription: the resource's marker finds the old one,
    # whose endpoint differs from git's (an immutable field: the engine replaces it)
    live = DRIVER.observe(email(endpoint="new@iq-theory.example"), aws.ctx())
    assert live is not None and live.fields["endpoint"] == EMAIL
    # another resource's subscription is not taken for this one
    assert DRIVER.observe(email(name="other", endpoint="new@iq-theory.example"),
                          aws.ctx()) is None


@pytest.mark.parametrize(("spec", "message"), [
    ({"protocol": "email", "endpoint": "ops", "topicArn": TOPIC}, "email endpoint"),
    ({"protocol": "email", "endpoint": EMAIL, "topicArn": TOPIC, "rawMessageDelivery": True},
     "raw delivery"),
    ({"protocol": "sqs", "endpoint": "iq-theory-jobs", "topicArn": TOPIC}, "is an ARN"),
    ({"protocol": "email", "endpoint": EMAIL, "topicArn": QUEUE}, "SNS topic ARN"),
])
def test_spec_checks(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DRIVER.spec_model.model_validate(spec)
    # a ref is only known after apply: accepted as written
    DRIVER.spec_model.model_validate({"protocol": "email", "endpoint": "${values.x}@x",
                                      "topicArn": "${ref:sns.Topic/iq-theory-alarms.arn}"})


def test_readiness_of_a_confirmed_subscription_is_ready() -> None:
    live = Observed(fields={}, attrs={"arn": TOPIC + ":1", "pending": False})
    assert DRIVER.readiness(None, live).ready
