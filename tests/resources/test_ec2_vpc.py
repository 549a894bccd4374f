"""ec2.Vpc against a moto server: tag identity, batching, drift, deletion out of band."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.ec2_vpc import VpcDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = VpcDriver()
NAME = "iq-theory-vpc"


def desired(**spec: Any) -> Desired:
    base = {
        "cidrBlock": "10.0.0.0/16",
        "enableDnsSupport": True,
        "enableDnsHostnames": True,
        "tags": {"app": "iq-theory"},
    }
    return Desired("ec2.Vpc", NAME, TEST_STACK, DRIVER.normalise({**base, **spec}))


def vpc_tags(aws: AwsEnv, vpc_id: str) -> dict[str, str]:
    vpc = aws.client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    return {t["Key"]: t["Value"] for t in vpc["Tags"]}


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["id"].startswith("vpc-") and again.attrs["cidrBlock"] == "10.0.0.0/16"
    assert again.attrs["arn"].endswith(":vpc/" + again.attrs["id"])
    tags = vpc_tags(aws, created.attrs["id"])
    assert tags["gitops:id"] == "ec2.Vpc/" + NAME and tags["gitops:stack"] == TEST_STACK
    assert tags["Name"] == NAME


def test_identity_is_the_tags_not_the_name(aws: AwsEnv) -> None:
    """EC2 names are not unique: a hand-made VPC with the same Name is not ours."""
    aws.client("ec2").create_vpc(
        CidrBlock="10.0.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": NAME}]}],
    )
    assert DRIVER.observe(desired(), aws.ctx()) is None
    DRIVER.create(desired(), aws.ctx())
    assert DRIVER.observe(desired(), aws.ctx("other-stack")) is None


def test_create_twice_adopts_instead_of_making_a_twin(aws: AwsEnv) -> None:
    first = DRIVER.create(desired(), aws.ctx())
    second = DRIVER.create(desired(), aws.ctx())
    assert first.attrs["id"] == second.attrs["id"]


def test_prefetch_reads_all_vpcs_in_one_call(aws: AwsEnv) -> None:
    wants = [Desired("ec2.Vpc", f"vpc-{i}", TEST_STACK, {"cidrBlock": f"10.{i}.0.0/16"})
             for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("ec2", "DescribeVpcs")] == 1


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str], None]
    path: str


DRIFT = [
    DriftCase("dns support off", "a boolean attribute outside describe_vpcs",
              lambda c, v: c.modify_vpc_attribute(VpcId=v, EnableDnsSupport={"Value": False}),
              "spec.enableDnsSupport"),
    DriftCase("dns hostnames off", "the other attribute, read by its own call",
              lambda c, v: c.modify_vpc_attribute(VpcId=v, EnableDnsHostnames={"Value": False}),
              "spec.enableDnsHostnames"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, v: c.create_tags(Resources=[v], Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
    DriftCase("tag removed", "a declared tag deleted by hand",
              lambda c, v: c.delete_tags(Resources=[v], Tags=[{"Key": "app"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    vpc_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    case.drift(aws.client("ec2"), vpc_id)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert vpc_tags(aws, vpc_id)["Name"] == NAME  # tag sync keeps the console name


def test_cidr_change_is_a_replace(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(), aws.ctx())
    changes = diff_fields(desired(cidrBlock="10.9.0.0/16").spec, live.fields)
    assert [c.path for c in changes] == ["spec.cidrBlock"]
    assert set(top_level_fields(changes)) <= DRIVER.immutable


# --- the contract: tags, inventory, adoption by id, replace order, a failed batch ---------


def test_a_vpc_is_replaced_create_first(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(), aws.ctx())
    assert DRIVER.replace_order(desired(cidrBlock="10.0.0.0/16"), live) == "create_first"
    assert DRIVER.replace_order(desired(cidrBlock="10.1.0.0/16"), live) == "create_first"


