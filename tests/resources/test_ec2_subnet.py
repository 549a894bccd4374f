"""ec2.Subnet against a moto server: tag identity, batching, drift, deletion out of band."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.aws.tags import retired_id
from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired
from controller.resources.ec2_subnet import SubnetDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = SubnetDriver()
NAME = "iq-theory-private-a"


@pytest.fixture
def vpc_id(aws: AwsEnv) -> str:
    return str(aws.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"])


def desired(vpc: str, name: str = NAME, **spec: Any) -> Desired:
    base = {
        "vpcId": vpc,
        "cidrBlock": "10.0.1.0/24",
        "availabilityZone": "us-east-1a",
        "mapPublicIpOnLaunch": False,
        "tags": {"tier": "private"},
    }
    return Desired("ec2.Subnet", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv, vpc_id: str) -> None:
    want = desired(vpc_id)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["id"].startswith("subnet-") and ":subnet/" in again.attrs["arn"]
    subnet = aws.client("ec2").describe_subnets(SubnetIds=[created.attrs["id"]])["Subnets"][0]
    tags = {t["Key"]: t["Value"] for t in subnet["Tags"]}
    assert tags["gitops:id"] == "ec2.Subnet/" + NAME and tags["gitops:stack"] == TEST_STACK
    assert tags["Name"] == NAME


def test_public_subnet_sets_the_attribute_on_create(aws: AwsEnv, vpc_id: str) -> None:
    want = desired(vpc_id, mapPublicIpOnLaunch=True)
    assert diff_fields(want.spec, DRIVER.create(want, aws.ctx()).fields) == []


def test_prefetch_reads_all_subnets_in_one_call(aws: AwsEnv, vpc_id: str) -> None:
    wants = [desired(vpc_id, f"s-{i}", cidrBlock=f"10.0.{i}.0/24") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("ec2", "DescribeSubnets")] == 1


def test_unknown_vpc_is_a_replace_not_a_twin(aws: AwsEnv, vpc_id: str) -> None:
    """While the VPC is being replaced the old subnet is still found by its tags."""
    DRIVER.create(desired(vpc_id), aws.ctx())
    live = DRIVER.observe(desired(UNKNOWN), aws.ctx())
    assert live is not None
    changes = diff_fields(desired(UNKNOWN).spec, live.fields)
    assert top_level_fields(changes) == ["vpcId"] and "vpcId" in DRIVER.immutable


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str], None]
    path: str


DRIFT = [
    DriftCase("public ip on", "a boolean attribute changed by hand",
              lambda c, s: c.modify_subnet_attribute(SubnetId=s,
                                                     MapPublicIpOnLaunch={"Value": True}),
              "spec.mapPublicIpOnLaunch"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, s: c.create_tags(Resources=[s], Tags=[{"Key": "tier", "Value": "x"}]),
              "spec.tags.tier"),
    DriftCase("tag removed", "a declared tag deleted by hand",
              lambda c, s: c.delete_tags(Resources=[s], Tags=[{"Key": "tier"}]),
              "spec.tags.tier"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, vpc_id: str, case: DriftCase) -> None:
    want = desired(vpc_id)
    subnet_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    case.drift(aws.client("ec2"), subnet_id)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


@pytest.mark.parametrize("field,value", [("cidrBlock", "10.0.9.0/24"),
                                         ("availabilityZone", "us-east-1b")])
def test_immutable_fields_diff_as_replace(aws: AwsEnv, vpc_id: str, field: str,
                                          value: str) -> None:
    live = DRIVER.create(desired(vpc_id), aws.ctx())
    changes = diff_fields(desired(vpc_id, **{field: value}).spec, live.fields)
    assert [c.path for c in changes] == [f"spec.{field}"] and field in DRIVER.immutable


# --- the contract: tags, inventory, adoption by id, create-first replace, a failed batch ---


def test_a_new_block_apart_from_the_old_is_replaced_create_first(aws: AwsEnv,
                                                                  vpc_id: str) -> None:
    """As the engine runs it: retag the old one, create the new, move over, delete the old."""
    old = DRIVER.create(desired(vpc_id), aws.ctx())
    want = desired(vpc_id, cidrBlock="10.0.2.0/24")
    assert DRIVER.replace_order(want, old) == "create_first"
    DRIVER.retag(old, {"gitops:id": retired_id(want.id)}, aws.ctx())
    new = DRIVER.create(want, aws.ctx())
    assert new.attrs["id"] != old.attrs["id"] and diff_fields(want.spec, new.fields) == []
    owned = DRIVER.inventory(aws.ctx())
    assert {key: live.attrs["id"] for key, live in owned.items()} == {
        want.id: new.attrs["id"], retired_id(want.id): old.attrs["id"]}
    DRIVER.delete(owned[retired_id(want.id)], aws.ctx())
    assert set(DRIVER.inventory(aws.ctx())) == {want.id}
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and again.attrs["id"] == new.attrs["id"]


@pytest.mark.parametrize(("change", "order"), [
    ({"cidrBlock": "10.0.1.0/25"}, "delete_first"),  # overlaps the old block
    ({"availabilityZone": "us-east-1b"}, "delete_first"),  # the same block
    ({"cidrBlock": "10.0.2.0/24"}, "create_first"),
    ({"vpcId": UNKNOWN}, "create_first"),  # its VPC is being replaced: another VPC
], ids=["overlapping", "same block", "apart", "another vpc"])
def test_replace_order(aws: AwsEnv, vpc_id: str, change: dict[str, Any], order: str) -> None:
    old = DRIVER.create(desired(vpc_id), aws.ctx())
    assert DRIVER.replace_order(desired(vpc_id, **change), old) == order


