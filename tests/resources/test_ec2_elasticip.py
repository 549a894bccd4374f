"""ec2.ElasticIp against a moto server: allocation with tags, attributes, drift, release."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.aws.tags import retired_id
from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.ec2_elasticip import ElasticIpDriver, ElasticIpSpec
from tests.conftest import DEV_ACCOUNT, TEST_STACK, AwsEnv

DRIVER = ElasticIpDriver()
NAME = "iq-theory-nat-a"


def desired(name: str = NAME, **spec: Any) -> Desired:
    base: dict[str, Any] = {"tags": {"app": "iq-theory"}, **spec}
    return Desired("ec2.ElasticIp", name, TEST_STACK, DRIVER.normalise(base))


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    """`domain` is not written: the default is compared on both sides, not shown as drift."""
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == [] and want.spec["domain"] == "vpc"
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    allocation = again.attrs["id"]
    assert allocation.startswith("eipalloc-") and again.attrs["publicIp"]
    assert again.attrs["arn"] == f"arn:aws:ec2:us-east-1:{DEV_ACCOUNT}:elastic-ip/{allocation}"
    address = aws.client("ec2").describe_addresses(AllocationIds=[allocation])["Addresses"][0]
    tags = {t["Key"]: t["Value"] for t in address["Tags"]}
    assert tags["gitops:id"] == "ec2.ElasticIp/" + NAME and tags["Name"] == NAME


def test_create_twice_adopts_its_own_address(aws: AwsEnv) -> None:
    """A retried create (the first answer lost) finds its address rather than a twin."""
    first = DRIVER.create(desired(), aws.ctx())
    assert DRIVER.create(desired(), aws.ctx()).attrs["id"] == first.attrs["id"]
    assert len(aws.client("ec2").describe_addresses()["Addresses"]) == 1


def test_only_the_vpc_domain_is_accepted() -> None:
    with pytest.raises(ValidationError):
        ElasticIpSpec.model_validate({"domain": "standard"})  # EC2-Classic, retired


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str], None]
    path: str


DRIFT = [
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, a: c.create_tags(Resources=[a], Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
    DriftCase("tag removed", "a declared tag deleted by hand",
              lambda c, a: c.delete_tags(Resources=[a], Tags=[{"Key": "app"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    allocation = DRIVER.create(want, aws.ctx()).attrs["id"]
    case.drift(aws.client("ec2"), allocation)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_released_out_of_band_reads_absent_and_delete_is_idempotent(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(), aws.ctx())
    aws.client("ec2").release_address(AllocationId=live.attrs["id"])
    assert DRIVER.observe(desired(), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: done
    assert DRIVER.find(live.attrs["id"], desired(), aws.ctx()) is None


def test_prefetch_reads_all_addresses_in_one_call(aws: AwsEnv) -> None:
    wants = [desired(f"eip-{i}") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    assert ctx.aws.calls[("ec2", "DescribeAddresses")] == 1
    assert ctx.aws.calls[("sts", "GetCallerIdentity")] == 1  # the ARNs' account, once a run


def test_a_replace_allocates_the_new_address_first(aws: AwsEnv) -> None:
    """As the engine runs it: retag the old one, allocate the new, release the old."""
    old = DRIVER.create(desired(), aws.ctx())
    want = desired()
    assert DRIVER.replace_order(want, old) == "create_first"
    DRIVER.retag(old, {"gitops:id": retired_id(want.id)}, aws.ctx())
    new = DRIVER.create(want, aws.ctx())
    assert new.attrs["id"] != old.attrs["id"]
    owned = DRIVER.inventory(aws.ctx())
    assert set(owned) == {want.id, retired_id(want.id)}
    DRIVER.delete(owned[retired_id(want.id)], aws.ctx())
    assert set(DRIVER.inventory(aws.ctx())) == {want.id}
