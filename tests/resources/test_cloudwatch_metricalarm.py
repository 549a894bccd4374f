"""cloudwatch.MetricAlarm against a moto server: convergence, drift of each field kind,
whole-alarm updates that keep what git does not declare, AWS's defaults, deletion out
of band, one DescribeAlarms for many alarms, and the emulator's lingering tags."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, ExactMap
from controller.resources.cloudwatch_metricalarm import MetricAlarmDriver, fields_of, request
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = MetricAlarmDriver()
NAME = "iq-theory-api-cpu-high"
ARN = f"arn:aws:cloudwatch:us-east-1:111111111111:alarm:{NAME}"
TOPIC = "arn:aws:sns:us-east-1:111111111111:iq-theory-alarms"
OTHER_TOPIC = "arn:aws:sns:us-east-1:111111111111:someone-elses"


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "metricName": "CPUUtilization", "namespace": "AWS/ECS", "statistic": "Average",
        "dimensions": [{"name": "ServiceName", "value": "iq-theory-api"},
                       {"name": "ClusterName", "value": "iq-theory-cluster"}],
        "period": 300, "evaluationPeriods": 3, "datapointsToAlarm": 3, "threshold": 85,
        "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "missing",
        "alarmActions": [TOPIC], "okActions": [TOPIC],
        "alarmDescription": "api CPU above 85% for 15 minutes", "tags": {"app": "iq-theory"}}
    return {k: v for k, v in {**base, **changes}.items() if v is not None}


def desired(name: str = NAME, **changes: Any) -> Desired:
    normalised = DRIVER.normalise(spec(**changes))
    if isinstance(normalised.get("tags"), dict):
        normalised["tags"] = ExactMap(normalised["tags"])  # as the engine resolves it
    return Desired("cloudwatch.MetricAlarm", name, TEST_STACK, normalised)


def _tags(aws: AwsEnv) -> dict[str, str]:
    tags = aws.client("cloudwatch").list_tags_for_resource(ResourceARN=ARN)["Tags"]
    return {t["Key"]: t["Value"] for t in tags}


def _alarm(aws: AwsEnv) -> dict[str, Any]:
    return dict(aws.client("cloudwatch").describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0])


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["arn"] == ARN and created.attrs["name"] == NAME
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    tags = _tags(aws)
    assert tags["gitops:id"] == "cloudwatch.MetricAlarm/" + NAME
    assert tags["gitops:stack"] == TEST_STACK and tags["app"] == "iq-theory"


def test_create_never_overwrites_a_live_alarm(aws: AwsEnv) -> None:
    # PutMetricAlarm on an existing name replaces it: the driver reads first and leaves a
    # live one to the engine (adopt or refuse).
    aws.client("cloudwatch").put_metric_alarm(**request({}, desired(threshold=50)))
    live = DRIVER.create(desired(), aws.ctx())
    assert live.fields["threshold"] == 50.0 and _alarm(aws)["Threshold"] == 50.0
    assert live.tags == {}


def _put_by_hand(**changes: Any) -> Callable[[Any], None]:
    """PutMetricAlarm as the console does it: the whole alarm, some fields changed."""
    def drift(cloudwatch: Any) -> None:
        alarm = cloudwatch.describe_alarms(AlarmNames=[NAME])["MetricAlarms"][0]
        keep = ("AlarmName", "AlarmDescription", "OKActions", "AlarmActions", "MetricName",
                "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period",
                "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
                "TreatMissingData")
        args = {k: alarm[k] for k in keep if alarm.get(k) is not None}
        for key, value in changes.items():
            if value is None:
                args.pop(key, None)
            else:
                args[key] = value
        cloudwatch.put_metric_alarm(**args)
    return drift


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    paths: list[str]


DRIFT = [
    DriftCase("threshold", "a number AWS answers as a double", _put_by_hand(Threshold=99.0),
              ["spec.threshold"]),
    DriftCase("dimension value", "a member of a set of dimensions, matched by name",
              _put_by_hand(Dimensions=[{"Name": "ClusterName", "Value": "iq-theory-cluster"},
                                       {"Name": "ServiceName", "Value": "other"}]),
              ["spec.dimensions[1].value"]),
    DriftCase("actions removed", "a set of ARNs emptied", _put_by_hand(AlarmActions=[]),
              ["spec.alarmActions"]),
    DriftCase("action added", "an ARN added to a set", _put_by_hand(OKActions=[OTHER_TOPIC, TOPIC]),
              ["spec.okActions"]),
    DriftCase("percentile instead", "statistic and extendedStatistic exclude each other",
              _put_by_hand(Statistic=None, ExtendedStatistic="p99"), ["spec.statistic"]),
    DriftCase("datapoints dropped", "absent M of N is all N: 5 of 5 differs from 3",
              _put_by_hand(DatapointsToAlarm=None, EvaluationPeriods=5),
              ["spec.evaluationPeriods", "spec.datapointsToAlarm"]),
    DriftCase("missing data", "absent treatMissingData is AWS's 'missing'",
              _put_by_hand(TreatMissingData="breaching"), ["spec.treatMissingData"]),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.tag_resource(ResourceARN=ARN, Tags=[{"Key": "app", "Value": "x"}]),
              ["spec.tags.app"]),
    DriftCase("tag added", "tags are a user map: an extra tag is drift",
              lambda c: c.tag_resource(ResourceARN=ARN, Tags=[{"Key": "owner", "Value": "me"}]),
              ["spec.tags.owner"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("cloudwatch"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert _tags(aws)["gitops:id"] == "cloudwatch.MetricAlarm/" + NAME


def test_update_keeps_what_git_does_not_declare(aws: AwsEnv) -> None:
    """PutMetricAlarm replaces the whole alarm: fields git does not write keep their live
    values (AWS's defaults, or a hand-set one), never reset by an update of another."""
    want = desired(treatMissingData=None, alarmDescription=None)
    DRIVER.create(want, aws.ctx())
    _put_by_hand(TreatMissingData="notBreaching", AlarmDescription="set by hand",
                 Threshold=10.0, InsufficientDataActions=[TOPIC])(aws.client("cloudwatch"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    assert top_level_fields(diff_fields(want.spec, live.fields)) == ["threshold"]
    DRIVER.update(want, live, ["threshold"], aws.ctx())
    alarm = _alarm(aws)
    assert alarm["Threshold"] == 85.0
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmDescription"] == "set by hand"
    assert alarm["InsufficientDataActions"] == [TOPIC]


def test_order_and_number_forms_are_no_diff(aws: AwsEnv) -> None:
    """Dimensions and actions are sets; 85 and 85.0 are one threshold; M of N left out on
    the live side is N."""
    DRIVER.create(desired(datapointsToAlarm=None), aws.ctx())
    want = desired(dimensions=list(reversed(spec()["dimensions"])), threshold=85.0,
                   alarmActions=[TOPIC, TOPIC], datapointsToAlarm=3)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []


def test_deleted_out_of_band_reads_absent(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    aws.client("cloudwatch").delete_alarms(AlarmNames=[NAME])
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # deleting what is gone succeeds


def test_recreated_alarm_has_only_gits_tags(aws: AwsEnv) -> None:
    """moto keeps a deleted alarm's tags and gives them to the next alarm of its name (AWS
    deletes them with the alarm): create removes what git did not write."""
    DRIVER.create(desired(tags={"app": "iq-theory", "old": "1"}), aws.ctx())
    aws.client("cloudwatch").delete_alarms(AlarmNames=[NAME])
    want = desired()
    created = DRIVER.create(want, aws.ctx())
    assert _tags(aws) == want.tags() == created.tags
    assert diff_fields(want.spec, created.fields) == []


def test_inventory_confirms_the_index(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    DRIVER.create(desired("iq-theory-api-memory-high"), aws.ctx())
    aws.client("cloudwatch").delete_alarms(AlarmNames=["iq-theory-api-memory-high"])
    assert set(DRIVER.inventory(aws.ctx())) == {"cloudwatch.MetricAlarm/" + NAME}


def test_prefetch_makes_one_call_for_all_alarms(aws: AwsEnv) -> None:
    wants = [desired(f"a{i}") for i in range(3)]
    for want in wants:
        aws.client("cloudwatch").put_metric_alarm(**request({}, want))
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired("absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired("absent"), ctx) is None
    assert ctx.aws.calls[("cloudwatch", "DescribeAlarms")] == 1


def test_unknown_topic_arn_sorts_last_and_a_percentile_converges(aws: AwsEnv) -> None:
    assert desired(alarmActions=[UNKNOWN, TOPIC]).spec["alarmActions"] == [TOPIC, UNKNOWN]
    want = desired(statistic=None, extendedStatistic="p95",
                   evaluateLowSampleCountPercentile="ignore", metricName="TargetResponseTime",
                   namespace="AWS/ApplicationELB", threshold=1.5,
                   dimensions=[{"name": "LoadBalancer", "value": "app/iq-theory-alb/abc"}])
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []


def test_live_defaults() -> None:
    fields = fields_of({"AlarmName": NAME, "AlarmArn": ARN, "EvaluationPeriods": 4,
                        "Threshold": 1, "Metrics": []})
    assert fields["datapointsToAlarm"] == 4 and fields["threshold"] == 1.0
    assert fields["treatMissingData"] == "missing" and fields["alarmDescription"] == ""
    assert fields["okActions"] == [] and fields["actionsEnabled"] is True
    assert fields["dimensions"] == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"extendedStatistic": "p95"}, "one of statistic"),
    ({"statistic": None}, "one of statistic"),
    ({"period": 45}, "10, 30 or a multiple of 60"),
    ({"datapointsToAlarm": 4}, "at most evaluationPeriods"),
    ({"evaluateLowSampleCountPercentile": "ignore"}, "percentiles"),
])
def test_spec_checks(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DRIVER.spec_model.model_validate(spec(**changes))
