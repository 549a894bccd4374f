"""elasticache.CacheSubnetGroup against a moto server: convergence, drift of tags and
subnets, deletion (refused while a cache uses the group), batching, inventory. The
emulator changes and deletes subnet groups as AWS does (controller/motoserver.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.base import RunContext
from controller.resources.elasticache_cachesubnetgroup import CacheSubnetGroupDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = CacheSubnetGroupDriver()
NAME = "iq-theory-cache"
ARN = f"arn:aws:elasticache:us-east-1:111111111111:subnetgroup:{NAME}"


@pytest.fixture
def subnets(aws: AwsEnv) -> list[str]:
    """Three subnets of the emulator's default VPC (one per zone): nothing to make."""
    found = aws.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    return sorted(s["SubnetId"] for s in found)[:3]


def desired(subnet_ids: list[str], name: str = NAME, **spec: Any) -> Desired:
    base = {"cacheSubnetGroupDescription": "IQ Theory cache, private subnets",
            "subnetIds": subnet_ids[:2], "tags": {"app": "iq-theory"}}
    return Desired("elasticache.CacheSubnetGroup", name, TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


class Sent:
    """What the driver asked ModifyCacheSubnetGroup for (the call still goes to AWS)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def record(self, params: dict[str, Any], **_: Any) -> None:
        self.sent.append(dict(params))

    def ctx(self, aws: AwsEnv) -> RunContext:
        return RunContext(aws.gateway([
            ("provide-client-params.elasticache.ModifyCacheSubnetGroup", self.record)]),
            TEST_STACK)


def test_create_then_observe_has_no_diff(aws: AwsEnv, subnets: list[str]) -> None:
    want = desired(subnets)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["arn"] == ARN and created.attrs["name"] == NAME
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    tags = aws.client("elasticache").list_tags_for_resource(ResourceName=ARN)["TagList"]
    as_map = {t["Key"]: t["Value"] for t in tags}
    assert as_map["gitops:id"] == f"elasticache.CacheSubnetGroup/{NAME}"
    assert as_map["gitops:stack"] == TEST_STACK and as_map["app"] == "iq-theory"


def test_create_of_an_existing_group_reads_it(aws: AwsEnv, subnets: list[str]) -> None:
    # Made since the plan read (a retried apply): create answers what is there, whose
    # tags then tell the engine whether it is ours.
    aws.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName=NAME, CacheSubnetGroupDescription="by hand", SubnetIds=subnets[:1])
    live = DRIVER.create(desired(subnets), aws.ctx())
    assert live.fields["cacheSubnetGroupDescription"] == "by hand"


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.add_tags_to_resource(ResourceName=ARN,
                                               Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
    DriftCase("tag removed", "a missing tag is drift too",
              lambda c: c.remove_tags_from_resource(ResourceName=ARN, TagKeys=["app"]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, subnets: list[str], case: DriftCase) -> None:
    want = desired(subnets)
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("elasticache"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_subnets_are_a_set(aws: AwsEnv, subnets: list[str]) -> None:
    # Order and repeats in git are not drift: AWS answers the subnets in its own order.
    want = desired(subnets, subnetIds=[subnets[1], subnets[0], subnets[1]])
    assert want.spec["subnetIds"] == subnets[:2]
    DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_update_writes_only_the_changed_fields(aws: AwsEnv, subnets: list[str]) -> None:
    DRIVER.create(desired(subnets), aws.ctx())
    want = desired(subnets, subnetIds=subnets)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.subnetIds"]
    modify = Sent()
    fixed = DRIVER.update(want, live, top_level_fields(changes), modify.ctx(aws))
    assert modify.sent == [{"CacheSubnetGroupName": NAME, "SubnetIds": subnets}]
    assert diff_fields(want.spec, fixed.fields) == [] and fixed.attrs["arn"] == ARN
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_subnets_changed_by_hand_are_put_back(aws: AwsEnv, subnets: list[str]) -> None:
    want = desired(subnets)
    DRIVER.create(want, aws.ctx())
    aws.client("elasticache").modify_cache_subnet_group(CacheSubnetGroupName=NAME,
                                                        SubnetIds=subnets[2:])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.subnetIds"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_delete_then_delete_again_succeeds(aws: AwsEnv, subnets: list[str]) -> None:
    want = desired(subnets)
    live = DRIVER.create(want, aws.ctx())
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: CacheSubnetGroupNotFoundFault, a success


def test_delete_of_a_group_in_use_fails(aws: AwsEnv, subnets: list[str]) -> None:
    # A cache still in it (its replication group takes minutes to go): AWS refuses, and
    # the refusal is the engine's to report, not a success.
    live = DRIVER.create(desired(subnets), aws.ctx())
    aws.client("elasticache").create_replication_group(
        ReplicationGroupId="cache", ReplicationGroupDescription="d",
        CacheNodeType="cache.t3.micro", CacheSubnetGroupName=NAME)
    with pytest.raises(ClientError, match="CacheSubnetGroupInUse"):
        DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(desired(subnets), aws.ctx()) is not None


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, subnets: list[str]) -> None:
    want = desired(subnets)
    DRIVER.create(want, aws.ctx())
    aws.client("elasticache").delete_cache_subnet_group(CacheSubnetGroupName=NAME)
    assert DRIVER.observe(want, aws.ctx()) is None
    assert DRIVER.inventory(aws.ctx()) == {}


def test_prefetch_makes_one_call_for_all_groups(aws: AwsEnv, subnets: list[str]) -> None:
    wants = [desired(subnets, f"g{i}") for i in range(3)]
    for want in wants:
        aws.client("elasticache").create_cache_subnet_group(
            CacheSubnetGroupName=want.name, CacheSubnetGroupDescription="d",
            SubnetIds=subnets[:2])
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(subnets, "absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(subnets, "absent"), ctx) is None
    assert ctx.aws.calls[("elasticache", "DescribeCacheSubnetGroups")] == 1


def test_inventory_lists_the_stacks_groups(aws: AwsEnv, subnets: list[str]) -> None:
    DRIVER.create(desired(subnets), aws.ctx())
    aws.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName="not-ours", CacheSubnetGroupDescription="d", SubnetIds=subnets[:1])
    found = DRIVER.inventory(aws.ctx())
    assert list(found) == [f"elasticache.CacheSubnetGroup/{NAME}"]
    assert found[f"elasticache.CacheSubnetGroup/{NAME}"].attrs["arn"] == ARN


@pytest.mark.parametrize(("name", "ok"), [
    ("iq-theory-cache", True), ("IQ-Theory", False), ("a_b", False), ("x" * 256, False)])
def test_name_rule_is_lower_case(name: str, ok: bool) -> None:
    # AWS lowers the name it is given: an upper-case name in git would never be found.
    assert (DRIVER.name_rule.check(name) is None) == ok
