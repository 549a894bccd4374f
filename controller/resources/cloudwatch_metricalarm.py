"""cloudwatch.MetricAlarm: a CloudWatch alarm on one metric, found by its name (unique per
account and region), e.g. the ALB's 5xx count notifying an SNS topic.

Spec fields are PutMetricAlarm's request names in lower camel case. PutMetricAlarm
replaces the whole alarm: an update sends every field git declares, and for the rest
the live alarm's values (AWS's defaults, or what someone set and git does not manage),
so that writing one field never resets another. Tags are the exception: PutMetricAlarm
takes them on create only (AWS ignores them on an existing alarm), so updates use
TagResource / UntagResource.

Reads: the declared alarms by name, 100 per DescribeAlarms call; their tags from the
stack's tagging index when they agree with git, else with ListTagsForResource (CloudWatch
reads one alarm's tags per call: only a difference costs it); the stack's alarms
for the inventory from the shared tagging index, confirmed by DescribeAlarms.

An alarm in ALARM or INSUFFICIENT_DATA is ready: its state is what it watches, not how
far AWS is with it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, FieldError, NameRule, Observed, SpecModel, Tags, is_unknown
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.tagged import agreed_tags, by_id, stack_arns

KIND = "cloudwatch.MetricAlarm"
DESCRIBE_LIMIT = 100  # DescribeAlarms takes at most 100 AlarmNames
ABSENT = ("ResourceNotFound", "ResourceNotFoundException")
ALARM_PREFIX = "alarm:"  # an alarm's ARN after arn:aws:cloudwatch:<region>:<account>:

Alarm = dict[str, Any]  # one MetricAlarms item of DescribeAlarms

# spec field -> PutMetricAlarm / DescribeAlarms name (the scalars and lists)
_NAMES = {
    "alarmDescription": "AlarmDescription",
    "actionsEnabled": "ActionsEnabled",
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "period": "Period",
    "unit": "Unit",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "evaluateLowSampleCountPercentile": "EvaluateLowSampleCountPercentile",
}
_ACTIONS = ("alarmActions", "okActions", "insufficientDataActions")  # sets of ARNs
# What DescribeAlarms returns that PutMetricAlarm takes back: the base of an update.
_PUTTABLE = (*_NAMES.values(), "Dimensions", "Metrics", "ThresholdMetricId")
# AWS's value of a field it does not report (datapointsToAlarm: all evaluation periods)
_DEFAULTS: dict[str, Any] = {
    "alarmDescription": "", "actionsEnabled": True, "alarmActions": [], "okActions": [],
    "insufficientDataActions": [], "treatMissingData": "missing",
    "evaluateLowSampleCountPercentile": "evaluate",
}

Comparison = Literal[
    "GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
    "LessThanOrEqualToThreshold"]


class Dimension(SpecModel):
    name: str = Field(min_length=1, max_length=255)
    value: str = Field(min_length=1, max_length=1024)


class MetricAlarmSpec(SpecModel):
    """The alarm is named by the resource's `name`. One of statistic / extendedStatistic.
    Actions are sets of ARNs, usually [${ref:sns.Topic/NAME.arn}]."""

    metricName: str = Field(min_length=1, max_length=255)
    namespace: str = Field(min_length=1, max_length=255, description="e.g. AWS/ApplicationELB")
    statistic: Literal["SampleCount", "Average", "Sum", "Minimum", "Maximum"] | None = None
    extendedStatistic: str | None = Field(default=None, pattern=r"^(p|tm|wm|tc|ts)\d",
                                          description="a percentile such as p95")
    dimensions: list[Dimension] | None = Field(default=None, max_length=30,
                                               description="a set, by name")
    period: int = Field(ge=10, description="seconds: 10, 30 or a multiple of 60")
    evaluationPeriods: int = Field(ge=1)
    datapointsToAlarm: int | None = Field(default=None, ge=1,
                                          description="M of N; AWS's default: all N")
    threshold: float
    comparisonOperator: Comparison
    treatMissingData: Literal["breaching", "notBreaching", "ignore", "missing"] | None = None
    evaluateLowSampleCountPercentile: Literal["evaluate", "ignore"] | None = None
    unit: str | None = None
    actionsEnabled: bool | None = None
    alarmActions: list[str] | None = Field(default=None, max_length=5)
    okActions: list[str] | None = Field(default=None, max_length=5)
    insufficientDataActions: list[str] | None = Field(default=None, max_length=5)
    alarmDescription: str | None = Field(default=None, max_length=1024)
    tags: Tags | None = None

    @model_validator(mode="after")
    def _check(self) -> MetricAlarmSpec:
        if (self.statistic is None) == (self.extendedStatistic is None):
            raise FieldError(("statistic",), "write one of statistic (Average, Sum...) or "
                                             "extendedStatistic (p95...)")
        if self.period not in (10, 30) and self.period % 60:
            raise FieldError(("period",), "CloudWatch takes 10, 30 or a multiple of 60 seconds")
        if self.datapointsToAlarm is not None and self.datapointsToAlarm > self.evaluationPeriods:
            raise FieldError(("datapointsToAlarm",), "at most evaluationPeriods (M of N)")
        if self.evaluateLowSampleCountPercentile and not self.extendedStatistic:
            raise FieldError(("evaluateLowSampleCountPercentile",),
                             "applies to percentiles (extendedStatistic) only")
        return self


def _describe(ctx: RunContext, names: list[str]) -> dict[str, Alarm]:
    pages = ctx.client("cloudwatch").get_paginator("describe_alarms").paginate(
        AlarmNames=names, AlarmTypes=["MetricAlarm"])
    return {a["AlarmName"]: a for page in pages for a in page.get("MetricAlarms", [])}


ALARMS: ByNames[Alarm] = ByNames("cloudwatch.alarms", _describe, DESCRIBE_LIMIT)


class MetricAlarmDriver(Driver):
    kind = KIND
    spec_model = MetricAlarmSpec
    name_rule = NameRule(r"[A-Za-z0-9 _.:/=+@-]{1,200}",
                         "1-200 letters, digits, spaces and _.:/=+@-")
    attributes = ("arn", "name")
    references = ("sns.Topic", "elbv2.LoadBalancer", "elbv2.TargetGroup", "ecs.Cluster",
                  "ecs.Service", "sqs.Queue", "rds.DBInstance", "elasticache.ReplicationGroup",
                  "lambda.Function", "cloudfront.Distribution")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if isinstance(out.get("threshold"), int) and not isinstance(out["threshold"], bool):
            out["threshold"] = float(out["threshold"])  # AWS answers a double
        if isinstance(out.get("dimensions"), list):
            out["dimensions"] = _dimensions(out["dimensions"])
        for field in _ACTIONS:
            if isinstance(out.get(field), list):
                out[field] = _arn_set(out[field])
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        ALARMS.prime(ctx, [d.name for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        alarm = ALARMS.get(ctx, desired.name)
        if alarm is None:
            return None
        tags = agreed_tags(ctx, alarm["AlarmArn"], desired)
        if tags is None:
            answer = absent_ok(ctx.client("cloudwatch").list_tags_for_resource,
                               ResourceARN=alarm["AlarmArn"], absent=ABSENT)
            if answer is None:  # deleted since it was described
                return None
            tags = from_key_value_list(answer.get("Tags"))
        fields = fields_of(alarm)
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        return Observed(fields=fields, attrs=_attrs(alarm), tags=tags)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        """PutMetricAlarm on a live name overwrites that alarm: read afresh first and leave
        a live one to the engine (adopt or refuse)."""
        ALARMS.forget(ctx, desired.name)
        existing = self.observe(desired, ctx)
        if existing is not None:
            return existing
        cloudwatch = ctx.client("cloudwatch")
        cloudwatch.put_metric_alarm(**request({}, desired),
                                    Tags=as_key_value_list(desired.tags()))
        created = self._reread(desired, ctx)
        # A new alarm has exactly git's tags in AWS. The emulator keeps a deleted alarm's
        # tags and gives them to the next alarm of its name: drop what git did not write.
        stale = sorted(set(created.tags or {}) - set(desired.tags()))
        if stale:
            cloudwatch.untag_resource(ResourceARN=created.attrs["arn"], TagKeys=stale)
            created = self._reread(desired, ctx)
        return created

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        cloudwatch, arn = ctx.client("cloudwatch"), live.attrs["arn"]
        if [f for f in changed if f != "tags"]:
            # The whole alarm: the live one (this run's read) under git's declared fields.
            current = ALARMS.get(ctx, desired.name) or {}
            cloudwatch.put_metric_alarm(**request(current, desired))
        if "tags" in changed:
            sync_tags(desired, live.tags or {},
                      write=lambda tags: cloudwatch.tag_resource(
                          ResourceARN=arn, Tags=as_key_value_list(tags)),
                      remove=lambda keys: cloudwatch.untag_resource(ResourceARN=arn,
                                                                    TagKeys=keys))
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        absent_ok(ctx.client("cloudwatch").delete_alarms, AlarmNames=[live.attrs["name"]],
                  absent=ABSENT)
        ALARMS.forget(ctx, live.attrs["name"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's alarms from the tagging index (one listing shared by every kind),
        confirmed by DescribeAlarms (the declared ones were read by prefetch): an index
        may lag a delete, and the emulator keeps a deleted alarm's tags."""
        listed = {arn.split(":" + ALARM_PREFIX, 1)[1]: tags
                  for arn, tags in stack_arns(ctx, "cloudwatch", ALARM_PREFIX).items()}
        ALARMS.prime(ctx, listed)
        found = (Observed(fields={}, attrs=_attrs(alarm), tags=tags)
                 for name, tags in listed.items() if (alarm := ALARMS.get(ctx, name)))
        return by_id(found, ctx)

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        if action == "update" and [f for f in changed if f != "tags"]:
            return ("PutMetricAlarm rewrites the alarm whole (fields git does not declare keep "
                    "their live values); its state stays until the next evaluation")
        return None

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        ALARMS.forget(ctx, desired.name)
        return reread(self, desired, ctx)


def request(current: Alarm, desired: Desired) -> dict[str, Any]:
    """PutMetricAlarm's arguments: `current`'s configuration (empty on create) under every
    field the spec declares. Pure."""
    spec = desired.spec
    base = {k: v for k, v in current.items() if k in _PUTTABLE and v not in (None, [])}
    if "statistic" in spec or "extendedStatistic" in spec:
        base.pop("Statistic", None)  # the two exclude each other
        base.pop("ExtendedStatistic", None)
    if "metricName" in spec:
        base.pop("Metrics", None)  # metric math: another kind of alarm
        base.pop("ThresholdMetricId", None)
    for field, name in _NAMES.items():
        if spec.get(field) is not None:
            base[name] = spec[field]
    if spec.get("dimensions") is not None:
        base["Dimensions"] = [{"Name": d["name"], "Value": d["value"]}
                              for d in spec["dimensions"]]
    base["AlarmName"] = desired.name
    return base


def fields_of(alarm: Alarm) -> dict[str, Any]:
    """The live side's canonical fields (every spec field but tags), AWS's absences made
    explicit. Pure."""
    fields: dict[str, Any] = {}
    for field, name in _NAMES.items():
        value = alarm.get(name)
        fields[field] = _DEFAULTS.get(field) if value is None else value
    if fields["datapointsToAlarm"] is None:
        fields["datapointsToAlarm"] = alarm.get("EvaluationPeriods")
    if isinstance(fields["threshold"], int | float):
        fields["threshold"] = float(fields["threshold"])
    for field in _ACTIONS:
        fields[field] = _arn_set(fields[field] or [])
    fields["dimensions"] = _dimensions([{"name": d["Name"], "value": d["Value"]}
                                        for d in alarm.get("Dimensions") or []])
    return fields


def _attrs(alarm: Alarm) -> dict[str, Any]:
    return {"arn": alarm["AlarmArn"], "name": alarm["AlarmName"],
            "state": alarm.get("StateValue")}


def _dimensions(dimensions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A set keyed by name: CloudWatch matches dimensions whatever their order."""
    return sorted((dict(d) for d in dimensions), key=lambda d: str(d.get("name")))


def _arn_set(arns: list[Any]) -> list[Any]:
    """Sorted and unique; ARNs known only after apply go last."""
    known = sorted({a for a in arns if not is_unknown(a)})
    return known + [a for a in arns if is_unknown(a)]
