"""elasticache.ReplicationGroup against a moto server: convergence, drift, the auth token
written (never read), rotation, the replica count, batching, deletion out of band,
readiness, what a delete would lose. The emulator lists a group's member clusters and
keeps a deleted group `deleting` for one describe, as AWS does for minutes
(controller/motoserver.py); `Sent` only records what the driver asked for.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.base import RunContext
from controller.resources.elasticache_replicationgroup import (
    GROUPS,
    TOKEN_SECRET_KEY,
    ReplicationGroupDriver,
    ReplicationGroupSpec,
    StillDeleting,
    StillModifying,
)
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = ReplicationGroupDriver()
NAME = "iq-theory-cache"
ARN = f"arn:aws:elasticache:us-east-1:111111111111:replicationgroup:{NAME}"
SECRET = "iq-theory/redis-auth"
SGS = ["sg-0aaa1111", "sg-0bbb2222"]
SUBNET_GROUP = "iq-theory-cache"


@dataclass
class Sent:
    """What the driver's writes asked of ElastiCache, in order (the calls still go to AWS)."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.append((model.name, dict(params)))

    def ctx(self, aws: AwsEnv) -> RunContext:
        return RunContext(aws.gateway([
            (f"provide-client-params.elasticache.{op}", self.record)
            for op in ("CreateReplicationGroup", "ModifyReplicationGroup",
                       "DeleteReplicationGroup", "IncreaseReplicaCount",
                       "DecreaseReplicaCount")]), TEST_STACK)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [params for op, params in self.sent if op == operation]


@pytest.fixture
def sent() -> Sent:
    return Sent()


@pytest.fixture(autouse=True)
def subnet_group(aws: AwsEnv) -> str:
    """The cache subnet group the groups name (AWS refuses a group naming none)."""
    found = aws.client("ec2").describe_subnets(
        Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    aws.client("elasticache").create_cache_subnet_group(
        CacheSubnetGroupName=SUBNET_GROUP, CacheSubnetGroupDescription="private",
        SubnetIds=sorted(s["SubnetId"] for s in found)[:2])
    return SUBNET_GROUP


@pytest.fixture
def secret(aws: AwsEnv) -> str:
    """The token's secret as secretsmanager.Secret makes it: declared, with no value."""
    return str(aws.client("secretsmanager").create_secret(Name=SECRET)["ARN"])


def desired(name: str = NAME, **spec: Any) -> Desired:
    base = {
        "replicationGroupDescription": "IQ Theory cache", "engine": "redis",
        "engineVersion": "7.1", "cacheNodeType": "cache.t3.micro", "numCacheClusters": 2,
        "automaticFailoverEnabled": True, "multiAZEnabled": True,
        "atRestEncryptionEnabled": True, "transitEncryptionEnabled": True,
        "authTokenSecret": SECRET, "cacheSubnetGroupName": SUBNET_GROUP,
        "securityGroupIds": list(reversed(SGS)), "port": 6379,
        "snapshotRetentionLimit": 7, "snapshotWindow": "03:00-04:00",
        "tags": {"app": "iq-theory"}}
    return Desired("elasticache.ReplicationGroup", name, TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


def secret_value(aws: AwsEnv, secret_id: str) -> str:
    """The test reads the secret to check it; the driver never does."""
    return str(aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])


def test_create_then_observe_has_no_diff(aws: AwsEnv, sent: Sent, secret: str) -> None:
    want = desired()
    ctx = sent.ctx(aws)
    assert DRIVER.observe(want, ctx) is None
    created = DRIVER.create(want, ctx)
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, sent.ctx(aws)).fields) == []  # type: ignore[union-attr]
    assert created.attrs["arn"] == ARN and created.attrs["port"] == 6379
    assert created.attrs["primaryEndpointAddress"]
    tags = {t["Key"]: t["Value"] for t in aws.client("elasticache").list_tags_for_resource(
        ResourceName=ARN)["TagList"]}
    assert tags["gitops:id"] == f"elasticache.ReplicationGroup/{NAME}"
    assert tags[TOKEN_SECRET_KEY] == SECRET and tags["app"] == "iq-theory"
    assert list(DRIVER.inventory(sent.ctx(aws))) == [f"elasticache.ReplicationGroup/{NAME}"]


def test_token_is_written_to_the_secret_never_read(aws: AwsEnv, sent: Sent,
                                                   secret: str) -> None:
    ctx = sent.ctx(aws)
    live = DRIVER.create(desired(), ctx)
    token = secret_value(aws, secret)
    assert re.fullmatch(r"[A-Za-z0-9]{64}", token)  # AWS's rules, and safe in a URL
    assert sent.calls("CreateReplicationGroup")[0]["AuthToken"] == token
    assert ("secretsmanager", "GetSecretValue") not in ctx.aws.calls
    assert token not in repr(live)
    note = DRIVER.plan_note("create", desired(), None, [])
    assert note is not None and SECRET in note and token not in note


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    paths: list[str]
    sent: frozenset[str] = frozenset()  # what the corrective ModifyReplicationGroup writes


def _modify(**kwargs: Any) -> Callable[[Any], None]:
    return lambda ec: ec.modify_replication_group(
        ReplicationGroupId=NAME, ApplyImmediately=True, **kwargs)


DRIFT = [
    DriftCase("failover off", "failover and Multi-AZ switched off together by hand",
              _modify(AutomaticFailoverEnabled=False, MultiAZEnabled=False),
              ["spec.automaticFailoverEnabled", "spec.multiAZEnabled"],
              frozenset({"AutomaticFailoverEnabled", "MultiAZEnabled"})),
    DriftCase("snapshot retention", "a number of the group", _modify(SnapshotRetentionLimit=1),
              ["spec.snapshotRetentionLimit"], frozenset({"SnapshotRetentionLimit"})),
    DriftCase("snapshot window", "a window of the group",
              _modify(SnapshotWindow="05:00-06:00"), ["spec.snapshotWindow"],
              frozenset({"SnapshotWindow"})),
    DriftCase("node type", "scaled by hand: scaled back in place",
              _modify(CacheNodeType="cache.t3.small"), ["spec.cacheNodeType"],
              frozenset({"CacheNodeType"})),
    DriftCase("description", "a text of the group", _modify(ReplicationGroupDescription="x"),
              ["spec.replicationGroupDescription"], frozenset({"ReplicationGroupDescription"})),
    DriftCase("security groups", "the member clusters' set, changed by hand",
              _modify(SecurityGroupIds=["sg-0ccc3333"]), ["spec.securityGroupIds"],
              frozenset({"SecurityGroupIds"})),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda ec: ec.add_tags_to_resource(ResourceName=ARN,
                                                    Tags=[{"Key": "app", "Value": "x"}]),
              ["spec.tags.app"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, sent: Sent, secret: str,
                                     case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, sent.ctx(aws))
    token = secret_value(aws, secret)
    case.drift(aws.client("elasticache"))
    live = DRIVER.observe(want, sent.ctx(aws))
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), sent.ctx(aws))
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, sent.ctx(aws)).fields) == []  # type: ignore[union-attr]
    # only the changed fields were written, and the token was left alone
    writes = [set(m) - {"ReplicationGroupId", "ApplyImmediately"}
              for m in sent.calls("ModifyReplicationGroup")]
    assert writes == ([case.sent] if case.sent else [])
    assert secret_value(aws, secret) == token


def test_another_secret_rotates_the_token(aws: AwsEnv, sent: Sent, secret: str) -> None:
    DRIVER.create(desired(), sent.ctx(aws))
    old = secret_value(aws, secret)
    aws.client("secretsmanager").create_secret(Name="iq-theory/redis-auth-2")
    want = desired(authTokenSecret="iq-theory/redis-auth-2")
    live = DRIVER.observe(want, sent.ctx(aws))
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.authTokenSecret"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), sent.ctx(aws))
    assert diff_fields(want.spec, fixed.fields) == []
    new = secret_value(aws, "iq-theory/redis-auth-2")
    assert new != old and secret_value(aws, secret) == old
    rotate = sent.calls("ModifyReplicationGroup")[-1]
    assert rotate["AuthToken"] == new and rotate["AuthTokenUpdateStrategy"] == "ROTATE"
    assert fixed.tags is not None and fixed.tags[TOKEN_SECRET_KEY] == "iq-theory/redis-auth-2"


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, sent: Sent, secret: str) -> None:
    # AWS keeps a deleted group `deleting` for minutes: absent for the plan already.
    live = DRIVER.create(desired(), sent.ctx(aws))
    aws.client("elasticache").delete_replication_group(ReplicationGroupId=NAME)
    ctx = sent.ctx(aws)
    assert DRIVER.observe(desired(), ctx) is None
    assert GROUPS.get(ctx, NAME)["Status"] == "deleting"  # type: ignore[index]
    assert DRIVER.inventory(sent.ctx(aws)) == {}
    DRIVER.delete(live, sent.ctx(aws))  # gone by now: a success


def test_delete_of_a_group_being_deleted_succeeds(aws: AwsEnv, sent: Sent,
                                                  secret: str) -> None:
    # AWS refuses a second delete (InvalidReplicationGroupState) while the first runs.
    live = DRIVER.create(desired(), sent.ctx(aws))
    aws.client("elasticache").delete_replication_group(ReplicationGroupId=NAME)
    DRIVER.delete(live, sent.ctx(aws))
    assert len(sent.calls("DeleteReplicationGroup")) == 1


def test_a_name_still_being_deleted_is_made_by_a_later_run(aws: AwsEnv, sent: Sent,
                                                           secret: str) -> None:
    DRIVER.create(desired(), sent.ctx(aws))
    token = secret_value(aws, secret)
    aws.client("elasticache").delete_replication_group(ReplicationGroupId=NAME)
    with pytest.raises(StillDeleting):
        DRIVER.create(desired(), sent.ctx(aws))
    assert secret_value(aws, secret) == token  # no token written for a group not made
    made = DRIVER.create(desired(), sent.ctx(aws))  # AWS has freed the name
    assert diff_fields(desired().spec, made.fields) == []


def test_delete_takes_a_final_snapshot(aws: AwsEnv, sent: Sent, secret: str) -> None:
    live = DRIVER.create(desired(), sent.ctx(aws))
    DRIVER.delete(live, sent.ctx(aws))
    final = sent.calls("DeleteReplicationGroup")[0]["FinalSnapshotIdentifier"]
    assert final.startswith(f"{NAME}-final-")
    snapshots = aws.client("elasticache").describe_snapshots(SnapshotName=final)["Snapshots"]
    assert snapshots[0]["ReplicationGroupId"] == NAME
    assert DRIVER.observe(desired(), sent.ctx(aws)) is None


def test_prefetch_makes_one_call_for_all_groups(aws: AwsEnv, sent: Sent,
                                                secret: str) -> None:
    wants = [desired(f"cache-{i}", authTokenSecret=None) for i in range(3)]
    for want in wants:
        aws.client("elasticache").create_replication_group(
            ReplicationGroupId=want.name, ReplicationGroupDescription="d",
            CacheNodeType="cache.t3.micro")
    ctx = sent.ctx(aws)
    DRIVER.prefetch([*wants, desired("absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired("absent"), ctx) is None
    assert ctx.aws.calls[("elasticache", "DescribeReplicationGroups")] == 1
    assert ctx.aws.calls[("elasticache", "DescribeCacheClusters")] == 1
    # ElastiCache has no batch tag read: one per group
    assert ctx.aws.calls[("elasticache", "ListTagsForResource")] == 3


def test_two_nodes_are_a_primary_and_a_replica(aws: AwsEnv, sent: Sent,
                                               secret: str) -> None:
    live = DRIVER.create(desired(), sent.ctx(aws))
    assert live.fields["numCacheClusters"] == 2 and live.attrs["nodes"] == 2
    assert live.attrs["readerEndpointAddress"]
    members = aws.client("elasticache").describe_cache_clusters()["CacheClusters"]
    assert sorted(m["CacheClusterId"] for m in members) == [f"{NAME}-001", f"{NAME}-002"]


@pytest.mark.parametrize(("count", "call", "replicas"), [
    (3, "IncreaseReplicaCount", 2), (1, "DecreaseReplicaCount", 0)])
def test_the_node_count_changes_in_place(aws: AwsEnv, sent: Sent, secret: str, count: int,
                                         call: str, replicas: int) -> None:
    DRIVER.create(desired(), sent.ctx(aws))
    # one node leaves no replica to fail over to: failover and Multi-AZ go with it
    edits: dict[str, Any] = {} if count > 1 else {"automaticFailoverEnabled": False,
                                                  "multiAZEnabled": False}
    want = desired(numCacheClusters=count, **edits)
    live = DRIVER.observe(want, sent.ctx(aws))
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    fixed = DRIVER.update(want, live, top_level_fields(changes), sent.ctx(aws))
    assert diff_fields(want.spec, fixed.fields) == []
    assert [c["NewReplicaCount"] for c in sent.calls(call)] == [replicas]
    assert fixed.attrs["nodes"] == count


def test_a_growing_group_gets_its_replica_before_failover(aws: AwsEnv, sent: Sent,
                                                         secret: str) -> None:
    # AWS refuses automatic failover (and so Multi-AZ) to a group with no replica yet.
    single: dict[str, Any] = {"numCacheClusters": 1, "automaticFailoverEnabled": False,
                              "multiAZEnabled": False}
    DRIVER.create(desired(**single), sent.ctx(aws))
    want = desired()
    live = DRIVER.observe(want, sent.ctx(aws))
    assert live is not None
    fixed = DRIVER.update(want, live, top_level_fields(diff_fields(want.spec, live.fields)),
                          sent.ctx(aws))
    assert diff_fields(want.spec, fixed.fields) == []
    assert [op for op, _ in sent.sent[1:]] == ["IncreaseReplicaCount", "ModifyReplicationGroup"]


def test_a_group_still_modifying_leaves_the_rest_to_the_next_run(
        aws: AwsEnv, sent: Sent, secret: str) -> None:
    # AWS's writes take minutes (status modifying); the emulator's are instant, so the
    # second call meets AWS's answer for a group still busy with the first.
    DRIVER.create(desired(), sent.ctx(aws))
    want = desired(numCacheClusters=3, snapshotRetentionLimit=1)
    live = DRIVER.observe(want, sent.ctx(aws))
    assert live is not None

    def busy(**_: Any) -> tuple[Any, dict[str, Any]]:
        return SimpleNamespace(status_code=400), {"Error": {
            "Code": "InvalidReplicationGroupState", "Message": "not available"}}

    ctx = RunContext(aws.gateway([
        ("before-call.elasticache.ModifyReplicationGroup", busy)]), TEST_STACK)
    with pytest.raises(StillModifying, match="replica count"):
        DRIVER.update(want, live, top_level_fields(diff_fields(want.spec, live.fields)), ctx)
    live = DRIVER.observe(want, sent.ctx(aws))
    assert live is not None
    assert [c.path for c in diff_fields(want.spec, live.fields)] == [
        "spec.snapshotRetentionLimit"]  # the replica was added; the setting is left


@pytest.mark.parametrize(("status", "state"), [
    ("available", "ready"), ("creating", "progressing"), ("modifying", "progressing"),
    ("snapshotting", "progressing"), ("create-failed", "failed")])
def test_readiness_is_the_groups_status(status: str, state: str) -> None:
    live = Observed(fields={}, attrs={"arn": ARN, "name": NAME, "status": status})
    readiness = DRIVER.readiness(desired(), live)
    assert readiness.state == state
    assert readiness.ready or status in readiness.reason


def test_at_risk_names_what_a_delete_loses() -> None:
    live = Observed(fields={}, attrs={"name": NAME, "engine": "redis", "nodes": 2,
                                      "cacheNodeType": "cache.t3.micro",
                                      "snapshotRetentionLimit": 7})
    assert DRIVER.at_risk(live) == ("the Redis replication group iq-theory-cache "
                                    "(cache.t3.micro, 2 nodes): every key in it and its "
                                    "7 days of automatic snapshots")


@pytest.mark.parametrize(("spec", "field_name"), [
    ({"authTokenSecret": SECRET}, "transitEncryptionEnabled"),
    ({"automaticFailoverEnabled": True, "numCacheClusters": 1}, "numCacheClusters"),
    ({"multiAZEnabled": True, "numCacheClusters": 2}, "automaticFailoverEnabled")])
def test_spec_refuses_what_aws_refuses(spec: dict[str, Any], field_name: str) -> None:
    with pytest.raises(ValidationError, match=field_name):
        ReplicationGroupSpec.model_validate({"replicationGroupDescription": "d",
                                             "cacheNodeType": "cache.t3.micro", **spec})


@pytest.mark.parametrize(("name", "ok"), [
    ("iq-theory-cache", True), ("Iq-theory", False), ("1cache", False), ("a--b", False),
    ("cache-", False), ("a" * 41, False)])
def test_name_rule(name: str, ok: bool) -> None:
    assert (DRIVER.name_rule.check(name) is None) == ok
