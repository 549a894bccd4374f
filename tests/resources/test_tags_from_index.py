"""Kinds whose service reads tags one resource per call (log groups, alarms, queues) take
them from the stack's tagging index when they agree with git: a plan in sync makes no
tag call, and what the index shows as different is confirmed by the resource's own read,
so a lagging index (AWS's lags a tag write by seconds) never makes a false diff."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, ExactMap
from controller.resources.base import Driver
from controller.resources.cloudwatch_metricalarm import MetricAlarmDriver
from controller.resources.logs_loggroup import LogGroupDriver
from controller.resources.sqs_queue import QueueDriver
from controller.resources.tagged import STACK_RESOURCES
from tests.conftest import TEST_STACK, AwsEnv

ALARM_SPEC = {"metricName": "CPUUtilization", "namespace": "AWS/ECS", "statistic": "Average",
              "period": 60, "evaluationPeriods": 2, "threshold": 80,
              "comparisonOperator": "GreaterThanThreshold"}


@dataclass(frozen=True)
class Kind:
    driver: Driver
    name: str
    spec: dict[str, Any]
    tag_call: str  # the per-resource tag read the index saves
    retag: Callable[[AwsEnv, str, dict[str, str]], None]  # set tags by hand, by ARN/URL


def _retag_logs(aws: AwsEnv, arn: str, tags: dict[str, str]) -> None:
    aws.client("logs").tag_resource(resourceArn=arn, tags=tags)


def _retag_alarm(aws: AwsEnv, arn: str, tags: dict[str, str]) -> None:
    aws.client("cloudwatch").tag_resource(
        ResourceARN=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])


def _retag_queue(aws: AwsEnv, arn: str, tags: dict[str, str]) -> None:
    sqs = aws.client("sqs")
    sqs.tag_queue(QueueUrl=sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"],
                  Tags=tags)


KINDS = [
    Kind(LogGroupDriver(), "/ecs/indexed", {"retentionInDays": 30}, "ListTagsForResource",
         _retag_logs),
    Kind(MetricAlarmDriver(), "indexed-cpu", ALARM_SPEC, "ListTagsForResource", _retag_alarm),
    Kind(QueueDriver(), "indexed-jobs", {"visibilityTimeout": 60}, "ListQueueTags",
         _retag_queue),
]


def _desired(kind: Kind, name: str, tags: dict[str, str]) -> Desired:
    spec = kind.driver.normalise({**kind.spec, "tags": tags})
    spec["tags"] = ExactMap(spec["tags"])  # as the engine resolves it
    return Desired(kind.driver.kind, name, TEST_STACK, spec)


@pytest.fixture(params=KINDS, ids=lambda k: k.driver.kind)
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param  # type: ignore[no-any-return]


def test_in_sync_reads_no_tags_one_by_one(aws: AwsEnv, kind: Kind) -> None:
    wants = [_desired(kind, f"{kind.name}-{i}", {"app": "iq-theory"}) for i in range(3)]
    for want in wants:
        kind.driver.create(want, aws.ctx())
    ctx = aws.ctx()
    kind.driver.prefetch(wants, ctx)
    lives = [kind.driver.observe(want, ctx) for want in wants]
    assert all(live is not None and diff_fields(want.spec, live.fields) == []
               for want, live in zip(wants, lives, strict=True))
    assert ctx.aws.calls[("resourcegroupstaggingapi", "GetResources")] == 1
    assert not [op for (_, op) in ctx.aws.calls if op == kind.tag_call]
    assert all(live is not None and live.tags is not None
               and live.tags["gitops:id"] == want.id for want, live in zip(wants, lives,
                                                                           strict=True))


def test_a_tag_changed_by_hand_is_drift(aws: AwsEnv, kind: Kind) -> None:
    want = _desired(kind, kind.name, {"app": "iq-theory"})
    arn = kind.driver.create(want, aws.ctx()).attrs["arn"]
    kind.retag(aws, arn, {"app": "edited"})
    ctx = aws.ctx()
    kind.driver.prefetch([want], ctx)
    live = kind.driver.observe(want, ctx)
    assert live is not None
    assert top_level_fields(diff_fields(want.spec, live.fields)) == ["tags"]
    assert ctx.aws.calls[(live_service(kind), kind.tag_call)] == 1  # confirmed by its own read


def test_a_lagging_index_never_makes_a_false_diff(aws: AwsEnv, kind: Kind) -> None:
    """The index read before a fix (as AWS's lags one) still shows the old tag: the
    resource's own read says it is fixed, and the plan shows nothing."""
    want = _desired(kind, kind.name, {"app": "iq-theory"})
    arn = kind.driver.create(want, aws.ctx()).attrs["arn"]
    kind.retag(aws, arn, {"app": "edited"})
    ctx = aws.ctx()
    STACK_RESOURCES.all(ctx, ctx.stack)  # the index, as it stands before the fix
    kind.retag(aws, arn, {"app": "iq-theory"})
    kind.driver.prefetch([want], ctx)
    live = kind.driver.observe(want, ctx)
    assert live is not None and diff_fields(want.spec, live.fields) == []


def test_a_refused_index_falls_back_to_the_resources_own_read(aws: AwsEnv,
                                                              kind: Kind) -> None:
    want = _desired(kind, kind.name, {"app": "iq-theory"})
    kind.driver.create(want, aws.ctx())
    ctx = aws.ctx()
    with contextlib.suppress(ClientError):  # GetResources refused in this run
        ctx.cached(("tagging.stack", ctx.stack), _denied)
    kind.driver.prefetch([want], ctx)
    live = kind.driver.observe(want, ctx)
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert ctx.aws.calls[(live_service(kind), kind.tag_call)] == 1


def _denied() -> Any:
    raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no tag:GetResources"}},
                      "GetResources")


def live_service(kind: Kind) -> str:
    return {"logs.LogGroup": "logs", "cloudwatch.MetricAlarm": "cloudwatch",
            "sqs.Queue": "sqs"}[kind.driver.kind]
