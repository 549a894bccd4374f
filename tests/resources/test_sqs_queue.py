"""sqs.Queue against a moto server: convergence, drift of every field kind, deletion out of band,
ownership (tags, inventory, adoption)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.aws.tags import ownership_tags
from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired
from controller.resources.sqs_queue import QueueDriver, fields_from_attributes
from tests.conftest import TEST_STACK, AwsEnv
from tests.faults import is_throttling, throttled_ctx

DRIVER = QueueDriver()
NAME = "iq-theory-jobs"
DLQ = "iq-theory-jobs-dlq"
OTHER_DLQ = "iq-theory-jobs-dlq-2"
ACCOUNT_ARN = "arn:aws:sqs:us-east-1:111111111111:"
STATEMENT: dict[str, Any] = {
    "Effect": "Allow",
    "Principal": {"Service": "events.amazonaws.com"},
    "Action": "sqs:SendMessage",
    "Resource": ACCOUNT_ARN + NAME,
}


def policy_with(**changes: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{**STATEMENT, **changes}]}


POLICY = policy_with()


def desired(**spec: Any) -> Desired:
    base = {
        "visibilityTimeout": 60,
        "messageRetentionPeriod": 345600,
        "receiveMessageWaitTimeSeconds": 20,
        "delaySeconds": 0,
        "maximumMessageSize": 262144,
        "redrivePolicy": {"deadLetterTargetArn": ACCOUNT_ARN + DLQ, "maxReceiveCount": 5},
        "tags": {"app": "iq-theory"},
    }
    return Desired("sqs.Queue", NAME, TEST_STACK, DRIVER.normalise({**base, **spec}))


@pytest.fixture
def sqs(aws: AwsEnv) -> Any:
    """An out-of-band client, with the two dead-letter queues the redrive cases point at."""
    client = aws.client("sqs")
    client.create_queue(QueueName=DLQ)
    client.create_queue(QueueName=OTHER_DLQ)
    return client


def test_create_then_observe_has_no_diff(aws: AwsEnv, sqs: Any) -> None:
    want = desired(policy=json.dumps(POLICY))
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert created.attrs["arn"] == ACCOUNT_ARN + NAME and created.attrs["name"] == NAME
    assert created.attrs["url"].endswith("/" + NAME)
    tags = sqs.list_queue_tags(QueueUrl=created.attrs["url"])["Tags"]
    assert tags["gitops:id"] == "sqs.Queue/" + NAME and tags["gitops:stack"] == TEST_STACK
    DRIVER.create(want, aws.ctx())  # same name, same attributes: idempotent


def test_fifo_queue_converges(aws: AwsEnv) -> None:
    want = Desired("sqs.Queue", "iq-theory-jobs.fifo", TEST_STACK,
                   DRIVER.normalise({"fifoQueue": True, "contentBasedDeduplication": True}))
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []


def test_standard_queue_declaring_fifo_false_converges(aws: AwsEnv) -> None:
    """AWS refuses FifoQueue=false on create; declaring it must still converge."""
    spec = {"fifoQueue": False, "contentBasedDeduplication": False}
    want = Desired("sqs.Queue", NAME, TEST_STACK, DRIVER.normalise(spec))
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []


def _set(attrs: dict[str, str]) -> Callable[[Any], None]:
    def drift(client: Any) -> None:
        url = client.get_queue_url(QueueName=NAME)["QueueUrl"]
        client.set_queue_attributes(QueueUrl=url, Attributes=attrs)
    return drift


def _redrive(target: str, count: int | str) -> dict[str, str]:
    return {"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": ACCOUNT_ARN + target, "maxReceiveCount": count})}


def _tag(client: Any) -> None:
    client.tag_queue(QueueUrl=client.get_queue_url(QueueName=NAME)["QueueUrl"], Tags={"app": "x"})


def _untag(client: Any) -> None:
    client.untag_queue(QueueUrl=client.get_queue_url(QueueName=NAME)["QueueUrl"], TagKeys=["app"])


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    paths: list[str]
    # Only the policy cases declare a policy: moto clears Policy on every
    # set_queue_attributes that lacks it (see test_update_keeps_the_policy).
    spec: dict[str, Any] = field(default_factory=dict)


DRIFT = [
    DriftCase("visibility timeout", "an int attribute SQS returns as text",
              _set({"VisibilityTimeout": "30"}), ["spec.visibilityTimeout"]),
    DriftCase("retention", "another int attribute",
              _set({"MessageRetentionPeriod": "60"}), ["spec.messageRetentionPeriod"]),
    DriftCase("long polling", "receive wait time off",
              _set({"ReceiveMessageWaitTimeSeconds": "0"}), ["spec.receiveMessageWaitTimeSeconds"]),
    DriftCase("delay", "delivery delay added by hand",
              _set({"DelaySeconds": "15"}), ["spec.delaySeconds"]),
    DriftCase("max message size", "size limit changed",
              _set({"MaximumMessageSize": "1024"}), ["spec.maximumMessageSize"]),
    DriftCase("redrive count", "a number inside the RedrivePolicy JSON",
              _set(_redrive(DLQ, 10)), ["spec.redrivePolicy.maxReceiveCount"]),
    DriftCase("redrive count as text", "retyped but different: still a diff",
              _set(_redrive(DLQ, "9")), ["spec.redrivePolicy.maxReceiveCount"]),
    DriftCase("redrive target", "the dead-letter queue swapped",
              _set(_redrive(OTHER_DLQ, 5)), ["spec.redrivePolicy.deadLetterTargetArn"]),
    DriftCase("redrive removed", "the whole nested object dropped",
              _set({"RedrivePolicy": ""}), ["spec.redrivePolicy"]),
    DriftCase("policy opened", "a principal widened in the access policy",
              _set({"Policy": json.dumps(policy_with(Principal="*"))}),
              ["spec.policy.Statement[0].Principal"], {"policy": POLICY}),
    DriftCase("policy removed", "the access policy deleted",
              _set({"Policy": ""}), ["spec.policy"], {"policy": POLICY}),
    DriftCase("tag changed", "a map entry changed by hand", _tag, ["spec.tags.app"]),
    DriftCase("tag removed", "a declared map entry deleted by hand", _untag, ["spec.tags.app"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, sqs: Any, case: DriftCase) -> None:
    want = desired(**case.spec)
    DRIVER.create(want, aws.ctx())
    case.drift(sqs)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_kms_key_drift_is_corrected(aws: AwsEnv, sqs: Any) -> None:
    """A string attribute, and one that may be cleared: null means "no SSE-KMS"."""
    want = desired(kmsMasterKeyId="alias/iq-theory")
    DRIVER.create(want, aws.ctx())
    _set({"KmsMasterKeyId": "alias/other"})(sqs)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    assert [c.path for c in diff_fields(want.spec, live.fields)] == ["spec.kmsMasterKeyId"]
    fixed = DRIVER.update(want, live, ["kmsMasterKeyId"], aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_content_based_deduplication_drift(aws: AwsEnv) -> None:
    name = "iq-theory-jobs.fifo"
    want = Desired("sqs.Queue", name, TEST_STACK,
                   DRIVER.normalise({"fifoQueue": True, "contentBasedDeduplication": True}))
    DRIVER.create(want, aws.ctx())
    client = aws.client("sqs")
    url = client.get_queue_url(QueueName=name)["QueueUrl"]
    client.set_queue_attributes(QueueUrl=url, Attributes={"ContentBasedDeduplication": "false"})
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.contentBasedDeduplication"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


@pytest.mark.xfail(strict=True, reason="moto 5.2.5 sets Policy to None on every "
                   "set_queue_attributes without a Policy key; AWS leaves it alone")
def test_update_keeps_the_policy(aws: AwsEnv, sqs: Any) -> None:
    """The driver writes only the changed attributes, as AWS allows."""
    want = desired(policy=POLICY)
    DRIVER.create(want, aws.ctx())
    _set({"VisibilityTimeout": "30"})(sqs)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    fixed = DRIVER.update(want, live, ["visibilityTimeout"], aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_delete(aws: AwsEnv, sqs: Any) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is None


# --- ownership: tags, inventory, adoption, delete without desired state ----------------------


def test_stale_user_tag_is_removed_when_git_manages_tags(aws: AwsEnv, sqs: Any) -> None:
    want = desired()
    url = DRIVER.create(want, aws.ctx()).attrs["url"]
    sqs.tag_queue(QueueUrl=url, Tags={"extra": "1"})
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    fixed = DRIVER.update(want, live, ["tags"], aws.ctx())
    assert fixed.tags == {"app": "iq-theory", **ownership_tags(TEST_STACK, want.id)}


def test_a_throttled_listing_fails_the_inventory_and_is_asked_once(
        aws: AwsEnv, sqs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQS has no batched read of queues: its one listing (of the URLs) is what is shared.
    DRIVER.create(desired(), aws.ctx())
    ctx, throttle = throttled_ctx(aws, monkeypatch, "sqs", "ListQueues")
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            DRIVER.inventory(ctx)
        assert is_throttling(caught.value)
    assert throttle.sent == 1


# --- pure normalisation -------------------------------------------------------------

def test_redrive_count_as_text_or_number_is_no_diff() -> None:
    target = ACCOUNT_ARN + DLQ
    want = DRIVER.normalise({"redrivePolicy": {"deadLetterTargetArn": target,
                                               "maxReceiveCount": 5}})
    live = fields_from_attributes({"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": target, "maxReceiveCount": "5"})})
    assert diff_fields(want, live) == []


def test_string_attributes_compare_as_typed_values() -> None:
    want = DRIVER.normalise({"visibilityTimeout": 60, "fifoQueue": True})
    live = fields_from_attributes({"VisibilityTimeout": "60", "FifoQueue": "true"})
    assert diff_fields(want, live) == []


def test_policy_as_text_or_mapping_is_the_same() -> None:
    as_text = DRIVER.normalise({"policy": json.dumps(POLICY)})
    one_item_list = policy_with(Action=["sqs:SendMessage"])
    assert as_text == DRIVER.normalise({"policy": one_item_list})
    assert diff_fields(as_text, fields_from_attributes({"Policy": json.dumps(POLICY)})) == []


def test_absent_attributes_read_as_their_meaning() -> None:
    """A standard queue omits FifoQueue and RedrivePolicy: false and none, not missing."""
    live = fields_from_attributes({"VisibilityTimeout": "30"})
    assert live["fifoQueue"] is False and live["contentBasedDeduplication"] is False
    assert live["redrivePolicy"] is None and live["policy"] is None


def test_empty_means_absent_and_unknown_refs_survive() -> None:
    spec = DRIVER.normalise({
        "redrivePolicy": {"deadLetterTargetArn": UNKNOWN, "maxReceiveCount": 5},
        "policy": "",
        "kmsMasterKeyId": "",
    })
    assert spec == {
        "redrivePolicy": {"deadLetterTargetArn": UNKNOWN, "maxReceiveCount": 5},
        "policy": None,
        "kmsMasterKeyId": None,
    }
    assert spec["redrivePolicy"]["deadLetterTargetArn"] is UNKNOWN
