"""rds.DBParameterGroup against a moto server: convergence, drift, only declared parameters
compared, apply methods and the static-parameter note, one listing per run, deletion out of
band, the spec's rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.base import RunContext
from controller.resources.rds_dbparametergroup import DBParameterGroupDriver, DBParameterGroupSpec
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = DBParameterGroupDriver()
NAME = "iq-theory-db"
ARN = f"arn:aws:rds:us-east-1:111111111111:pg:{NAME}"
FORCE_SSL = {"parameterName": "rds.force_ssl", "parameterValue": "1"}


def desired(name: str = NAME, **spec: Any) -> Desired:
    base = {"dbParameterGroupFamily": "postgres15", "description": "IQ Theory PostgreSQL",
            "parameters": [FORCE_SSL], "tags": {"app": "iq-theory"}}
    checked = DBParameterGroupSpec.model_validate({**base, **spec})
    as_spec = checked.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    return Desired("rds.DBParameterGroup", name, TEST_STACK, DRIVER.normalise(as_spec))


def _user_parameters(aws: AwsEnv) -> dict[str, str]:
    answer = aws.client("rds").describe_db_parameters(DBParameterGroupName=NAME, Source="user")
    return {p["ParameterName"]: p.get("ParameterValue") for p in answer["Parameters"]}


def _tags(aws: AwsEnv) -> dict[str, str]:
    tags = aws.client("rds").list_tags_for_resource(ResourceName=ARN)["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["arn"] == ARN and created.attrs["family"] == "postgres15"
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert _user_parameters(aws) == {"rds.force_ssl": "1"}
    assert _tags(aws)["gitops:id"] == f"rds.DBParameterGroup/{NAME}"


def test_a_name_with_capitals_is_found_under_aws_lower_case_name(aws: AwsEnv) -> None:
    want = desired(name="IQ-Theory-DB")
    DRIVER.create(want, aws.ctx())
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.attrs["name"] == NAME
    assert diff_fields(want.spec, live.fields) == []


def _set(value: str, name: str = "rds.force_ssl") -> Callable[[Any], None]:
    return lambda rds: rds.modify_db_parameter_group(
        DBParameterGroupName=NAME, Parameters=[
            {"ParameterName": name, "ParameterValue": value, "ApplyMethod": "immediate"}])


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    paths: list[str]


DRIFT = [
    DriftCase("parameter changed", "a declared parameter set by hand",
              _set("0"), ["spec.parameters[0].parameterValue"]),
    DriftCase("undeclared parameter", "only declared parameters are compared",
              _set("1000", "log_min_duration_statement"), []),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda r: r.add_tags_to_resource(ResourceName=ARN,
                                               Tags=[{"Key": "app", "Value": "x"}]),
              ["spec.tags.app"]),
    DriftCase("tag removed", "a missing tag is drift too",
              lambda r: r.remove_tags_from_resource(ResourceName=ARN, TagKeys=["app"]),
              ["spec.tags.app"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("rds"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    if not changes:
        return
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_a_new_parameter_in_git_is_written_and_others_stay(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    _set("1000", "log_min_duration_statement")(aws.client("rds"))
    want = desired(parameters=[FORCE_SSL, {"parameterName": "log_connections",
                                           "parameterValue": 1}])  # a YAML number is text
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.parameters[0].parameterValue"]  # sorted by name
    DRIVER.update(want, live, ["parameters"], aws.ctx())
    assert _user_parameters(aws) == {"rds.force_ssl": "1", "log_connections": "1",
                                     "log_min_duration_statement": "1000"}


def _capture(aws: AwsEnv) -> tuple[RunContext, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    hook = ("provide-client-params.rds.ModifyDBParameterGroup",
            lambda params, **_: sent.append(dict(params)))
    return RunContext(aws.gateway(hooks=[hook]), TEST_STACK), sent


def test_a_static_parameter_is_written_pending_reboot_and_the_plan_says_so(aws: AwsEnv) -> None:
    # moto answers no ApplyType (only user-set parameters, without it): the live
    # observation is given AWS's word for shared_preload_libraries, which is static.
    DRIVER.create(desired(), aws.ctx())
    preload = {"parameterName": "shared_preload_libraries",
               "parameterValue": "pg_stat_statements", "applyMethod": "immediate"}
    want = desired(parameters=[FORCE_SSL, preload])
    ctx, sent = _capture(aws)
    live = DRIVER.observe(want, ctx)
    assert live is not None
    live.attrs["applyTypes"] = {"rds.force_ssl": "dynamic", "shared_preload_libraries": "static"}
    changed = top_level_fields(diff_fields(want.spec, live.fields))
    note = DRIVER.plan_note("update", want, live, changed)
    assert note is not None and "shared_preload_libraries" in note and "reboot" in note
    assert "rds.force_ssl" not in note
    DRIVER.update(want, live, changed, ctx)
    assert sent[0]["Parameters"] == [{"ParameterName": "shared_preload_libraries",
                                      "ParameterValue": "pg_stat_statements",
                                      "ApplyMethod": "pending-reboot"}]


def test_a_dynamic_change_has_no_note_and_is_immediate(aws: AwsEnv) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    _set("0")(aws.client("rds"))
    ctx, sent = _capture(aws)
    live = DRIVER.observe(want, ctx)
    assert live is not None
    live.attrs["applyTypes"] = {"rds.force_ssl": "dynamic"}  # AWS's word; moto has none
    assert DRIVER.plan_note("update", want, live, ["parameters"]) is None
    DRIVER.update(want, live, ["parameters"], ctx)
    assert sent[0]["Parameters"][0]["ApplyMethod"] == "immediate"


def test_parameters_are_written_twenty_per_call(aws: AwsEnv) -> None:
    many = [{"parameterName": f"p{i:02d}", "parameterValue": str(i)} for i in range(45)]
    ctx, sent = _capture(aws)
    DRIVER.create(desired(parameters=many), ctx)
    assert [len(call["Parameters"]) for call in sent] == [20, 20, 5]


def test_one_listing_serves_every_group_and_the_inventory(aws: AwsEnv) -> None:
    wants = [desired(name=f"g{i}") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(name="absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(name="absent"), ctx) is None
    assert set(DRIVER.inventory(ctx)) == {f"rds.DBParameterGroup/g{i}" for i in range(3)}
    assert ctx.aws.calls[("rds", "DescribeDBParameterGroups")] == 1
    # no tags nor parameters in the listing: one of each per group
    assert ctx.aws.calls[("rds", "ListTagsForResource")] == 3
    assert ctx.aws.calls[("rds", "DescribeDBParameters")] == 3


def test_deleted_out_of_band_reads_absent_and_delete_succeeds(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    aws.client("rds").delete_db_parameter_group(DBParameterGroupName=NAME)
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: succeeds
    assert DRIVER.inventory(aws.ctx()) == {}


def test_family_and_description_are_immutable() -> None:
    # AWS has no call to change either: a change replaces the group
    assert DRIVER.immutable == {"dbParameterGroupFamily", "description"}
    live = Observed(fields={}, attrs={"name": NAME, "arn": ARN})
    assert DRIVER.replace_order(desired(), live) == "delete_first"  # the name is unique


@pytest.mark.parametrize(("parameters", "why"), [
    ([FORCE_SSL, FORCE_SSL], "a parameter declared twice"),
    ([{"parameterName": "rds.force_ssl", "parameterValue": True}], "a boolean is ambiguous"),
    ([{**FORCE_SSL, "applyMethod": "later"}], "AWS's two apply methods only"),
])
def test_spec_rules(parameters: list[dict[str, Any]], why: str) -> None:
    with pytest.raises(ValidationError):
        desired(parameters=parameters)


def test_name_rule_is_aws() -> None:
    assert DRIVER.name_rule.check("iq-theory-db") is None
    for bad in ("1st", "two--hyphens", "trailing-", "dots.no"):
        assert DRIVER.name_rule.check(bad) is not None, bad
