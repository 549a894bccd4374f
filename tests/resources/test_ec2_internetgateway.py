"""ec2.InternetGateway against a moto server: created attached, moved in place, detached
before delete, drift (detached by hand) corrected."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.ec2_internetgateway import InternetGatewayDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = InternetGatewayDriver()
NAME = "iq-theory-igw"


@pytest.fixture
def vpcs(aws: AwsEnv) -> list[str]:
    """Two VPCs made out of band: the gateway's, and one to move it to."""
    ec2 = aws.client("ec2")
    return [str(ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"]) for i in range(2)]


def desired(vpc: str, name: str = NAME, **spec: Any) -> Desired:
    base = {"vpcId": vpc, "tags": {"app": "iq-theory"}, **spec}
    return Desired("ec2.InternetGateway", name, TEST_STACK, DRIVER.normalise(base))


def attachments(aws: AwsEnv, gateway_id: str) -> list[str]:
    gateways = aws.client("ec2").describe_internet_gateways(
        InternetGatewayIds=[gateway_id])["InternetGateways"]
    return [a["VpcId"] for a in gateways[0]["Attachments"]]


def test_create_attaches_and_observe_has_no_diff(aws: AwsEnv, vpcs: list[str]) -> None:
    want = desired(vpcs[0])
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["id"].startswith("igw-") and ":internet-gateway/igw-" in again.attrs["arn"]
    assert attachments(aws, again.attrs["id"]) == [vpcs[0]]
    assert DRIVER.readiness(want, again).ready


def test_a_new_vpc_moves_the_gateway_in_place(aws: AwsEnv, vpcs: list[str]) -> None:
    """vpcId is not immutable: detach from the old VPC, attach to the new, same gateway."""
    live = DRIVER.create(desired(vpcs[0]), aws.ctx())
    want = desired(vpcs[1])
    changes = diff_fields(want.spec, live.fields)
    assert top_level_fields(changes) == ["vpcId"] and "vpcId" not in DRIVER.immutable
    moved = DRIVER.update(want, live, ["vpcId"], aws.ctx())
    assert moved.attrs["id"] == live.attrs["id"] and diff_fields(want.spec, moved.fields) == []
    assert attachments(aws, live.attrs["id"]) == [vpcs[1]]


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str, str], None]
    path: str


DRIFT = [
    DriftCase("detached", "the attachment removed by hand reads as no VPC",
              lambda c, g, v: c.detach_internet_gateway(InternetGatewayId=g, VpcId=v),
              "spec.vpcId"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, g, v: c.create_tags(Resources=[g], Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, vpcs: list[str], case: DriftCase) -> None:
    want = desired(vpcs[0])
    gateway_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    case.drift(aws.client("ec2"), gateway_id, vpcs[0])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_delete_detaches_first_and_is_idempotent(aws: AwsEnv, vpcs: list[str]) -> None:
    """The inventory's entry is enough (no desired state): it detaches what is attached."""
    DRIVER.create(desired(vpcs[0]), aws.ctx())
    owned = DRIVER.inventory(aws.ctx())
    live = owned[f"ec2.InternetGateway/{NAME}"]
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(desired(vpcs[0]), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: done
    assert DRIVER.find(live.attrs["id"], desired(vpcs[0]), aws.ctx()) is None


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, vpcs: list[str]) -> None:
    gateway_id = DRIVER.create(desired(vpcs[0]), aws.ctx()).attrs["id"]
    ec2 = aws.client("ec2")
    ec2.detach_internet_gateway(InternetGatewayId=gateway_id, VpcId=vpcs[0])
    ec2.delete_internet_gateway(InternetGatewayId=gateway_id)
    assert DRIVER.observe(desired(vpcs[0]), aws.ctx()) is None


def test_prefetch_reads_all_gateways_in_one_call(aws: AwsEnv, vpcs: list[str]) -> None:
    wants = [desired(vpc, f"igw-{i}") for i, vpc in enumerate(vpcs)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("ec2", "DescribeInternetGateways")] == 1


@pytest.mark.parametrize(("states", "state"), [
    (["available"], "ready"),  # AWS's word for an attached gateway
    ([], "ready"),
    (["attaching"], "progressing"),
    (["detaching"], "progressing"),
])
def test_readiness_is_the_attachment_state(states: list[str], state: str) -> None:
    """moto attaches at once: the states are given as observe would have read them."""
    readiness = DRIVER.readiness(None, Observed(fields={}, attrs={"attachments": states}))
    assert readiness.state == state
    assert readiness.ready or states[0] in readiness.reason
