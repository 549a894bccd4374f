"""rds.DBSubnetGroup against a moto server: convergence, drift, the lower-cased name, one
listing per run, deletion out of band, readiness, lint."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Declared, Desired, Observed
from controller.resources.rds_dbsubnetgroup import DBSubnetGroupDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = DBSubnetGroupDriver()
NAME = "iq-theory-db"
ARN = f"arn:aws:rds:us-east-1:111111111111:subgrp:{NAME}"


def _subnets(aws: AwsEnv, count: int = 3) -> list[str]:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    return [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                              AvailabilityZone=zones[i % 3])["Subnet"]["SubnetId"]
            for i in range(count)]


def desired(subnets: list[str], name: str = NAME, **spec: Any) -> Desired:
    base = {"dbSubnetGroupDescription": "IQ Theory database", "subnetIds": subnets[:2],
            "tags": {"app": "iq-theory"}}
    return Desired("rds.DBSubnetGroup", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def _tags(aws: AwsEnv, arn: str = ARN) -> dict[str, str]:
    tags = aws.client("rds").list_tags_for_resource(ResourceName=arn)["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    subnets = _subnets(aws)
    want = desired(list(reversed(subnets[:2])))  # a set: order is free
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["arn"] == ARN and created.attrs["name"] == NAME
    assert created.attrs["vpcId"].startswith("vpc-")
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    tags = _tags(aws)
    assert tags["gitops:id"] == f"rds.DBSubnetGroup/{NAME}" and tags["app"] == "iq-theory"
    assert DRIVER.readiness(want, created).ready


def test_a_name_with_capitals_is_found_under_aws_lower_case_name(aws: AwsEnv) -> None:
    # RDS stores "IQ-Theory-DB" as "iq-theory-db": the group is found, never re-created.
    want = desired(_subnets(aws), name="IQ-Theory-DB")
    DRIVER.create(want, aws.ctx())
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.attrs["name"] == NAME
    assert diff_fields(want.spec, live.fields) == []
    assert set(DRIVER.inventory(aws.ctx())) == {"rds.DBSubnetGroup/IQ-Theory-DB"}


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, list[str]], None]
    path: str


def _modify(rds: Any, subnets: list[str], **edits: Any) -> None:
    args = {"DBSubnetGroupName": NAME, "SubnetIds": subnets[:2], **edits}
    rds.modify_db_subnet_group(**args)


DRIFT = [
    DriftCase("tag changed", "a map entry changed by hand",
              lambda r, s: r.add_tags_to_resource(ResourceName=ARN,
                                                  Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
    DriftCase("tag removed", "a missing tag is drift too",
              lambda r, s: r.remove_tags_from_resource(ResourceName=ARN, TagKeys=["app"]),
              "spec.tags.app"),
    DriftCase("subnet swapped", "subnets compare as a set",
              lambda r, s: _modify(r, s, SubnetIds=[s[0], s[2]]), "spec.subnetIds"),
    DriftCase("description", "changeable in place, so drift",
              lambda r, s: _modify(r, s, DBSubnetGroupDescription="by hand"),
              "spec.dbSubnetGroupDescription"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: getattr(c, "name", None))
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    subnets = _subnets(aws)
    want = desired(subnets)
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("rds"), subnets)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_stale_user_tag_is_removed_and_ownership_tags_stay(aws: AwsEnv) -> None:
    want = desired(_subnets(aws))
    DRIVER.create(want, aws.ctx())
    aws.client("rds").add_tags_to_resource(ResourceName=ARN, Tags=[{"Key": "extra", "Value": "1"}])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.tags is not None and live.tags["extra"] == "1"
    DRIVER.update(want, live, ["tags"], aws.ctx())
    tags = _tags(aws)
    assert "extra" not in tags and tags["gitops:stack"] == TEST_STACK


def test_one_listing_serves_every_group_and_the_inventory(aws: AwsEnv) -> None:
    subnets = _subnets(aws)
    wants = [desired(subnets, name=f"g{i}") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(subnets, name="absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(subnets, name="absent"), ctx) is None
    assert set(DRIVER.inventory(ctx)) == {f"rds.DBSubnetGroup/g{i}" for i in range(3)}
    assert ctx.aws.calls[("rds", "DescribeDBSubnetGroups")] == 1
    # no tags in the describe: one ListTagsForResource per group, shared with the inventory
    assert ctx.aws.calls[("rds", "ListTagsForResource")] == 3


def test_deleted_out_of_band_reads_absent_and_delete_succeeds(aws: AwsEnv) -> None:
    want = desired(_subnets(aws))
    live = DRIVER.create(want, aws.ctx())
    aws.client("rds").delete_db_subnet_group(DBSubnetGroupName=NAME)
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: succeeds


def test_inventory_keeps_only_this_stacks_groups(aws: AwsEnv) -> None:
    subnets = _subnets(aws)
    DRIVER.create(desired(subnets), aws.ctx())
    aws.client("rds").create_db_subnet_group(
        DBSubnetGroupName="someone-elses", DBSubnetGroupDescription="x", SubnetIds=subnets[:2])
    owned = DRIVER.inventory(aws.ctx())
    assert list(owned) == [f"rds.DBSubnetGroup/{NAME}"]
    DRIVER.delete(owned[f"rds.DBSubnetGroup/{NAME}"], aws.ctx())
    assert DRIVER.inventory(aws.ctx()) == {}


@pytest.mark.parametrize(("status", "state"), [
    ("Complete", "ready"), ("Incomplete", "failed"), ("Invalid", "failed")])
def test_readiness_is_the_groups_status(status: str, state: str) -> None:
    live = Observed(fields={}, attrs={"name": NAME, "arn": ARN, "status": status})
    readiness = DRIVER.readiness(None, live)
    assert readiness.state == state
    assert readiness.ready or status in readiness.reason


def _subnet_doc(name: str, zone: str) -> Declared:
    return Declared("ec2.Subnet", name, {"availabilityZone": zone, "cidrBlock": "10.0.1.0/24"})


@pytest.mark.parametrize(("zones", "findings"), [
    (("us-east-1a", "us-east-1b"), 0), (("us-east-1a", "us-east-1a"), 1)])
def test_lint_wants_two_zones(zones: tuple[str, str], findings: int) -> None:
    subnets = [_subnet_doc(f"s{i}", zone) for i, zone in enumerate(zones)]
    doc = Declared("rds.DBSubnetGroup", NAME,
                   {"dbSubnetGroupDescription": "d",
                    "subnetIds": [f"${{ref:{s.id}.id}}" for s in subnets]},
                   refs={("subnetIds", i): s.id for i, s in enumerate(subnets)})
    assert len(DRIVER.lint(doc, {s.id: s for s in subnets})) == findings


def test_name_rule_is_aws() -> None:
    assert DRIVER.name_rule.check("iq-theory-db") is None
    assert DRIVER.name_rule.check("Default") is not None
    assert DRIVER.name_rule.check("no/slash") is not None
