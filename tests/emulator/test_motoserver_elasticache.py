"""The emulator's ElastiCache gaps, filled as AWS documents them (controller/motoserver.py):
member clusters and replica counts, settings ModifyReplicationGroup writes, deletion of
replication groups, and changes and deletes of cache subnet groups. Through boto3 over
HTTP, like every other call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsEnv

GROUP, SUBNETS = "rg", "cache-subnets"
TOKEN = "a-token-of-at-least-16-chars"


@dataclass
class Cache:
    ec: Any  # the elasticache client
    subnets: list[str]  # three subnets of one VPC, one per zone
    zones: list[str]

    def create(self, group: str = GROUP, **args: Any) -> dict[str, Any]:
        base = {"ReplicationGroupDescription": "d", "CacheNodeType": "cache.t3.micro",
                "Engine": "redis", "CacheSubnetGroupName": SUBNETS}
        return dict(self.ec.create_replication_group(ReplicationGroupId=group,
                                                     **{**base, **args})["ReplicationGroup"])

    def group(self, group: str = GROUP) -> dict[str, Any]:
        return dict(self.ec.describe_replication_groups(ReplicationGroupId=group)
                    ["ReplicationGroups"][0])

    def members(self) -> dict[str, dict[str, Any]]:
        return {c["CacheClusterId"]: c for c in self.ec.describe_cache_clusters()
                ["CacheClusters"]}


@pytest.fixture
def cache(aws: AwsEnv) -> Cache:
    """A cache subnet group on two of three subnets in three zones."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                                 AvailabilityZone=zone)["Subnet"]["SubnetId"]
               for n, zone in enumerate(zones)]
    ec = aws.client("elasticache")
    ec.create_cache_subnet_group(CacheSubnetGroupName=SUBNETS, CacheSubnetGroupDescription="d",
                                 SubnetIds=subnets[:2], Tags=[{"Key": "app", "Value": "x"}])
    return Cache(ec, subnets, zones)


def _code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


# ---- member clusters ---------------------------------------------------------------------

def test_num_cache_clusters_makes_a_primary_and_replicas(cache: Cache) -> None:
    cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True, MultiAZEnabled=True,
                 EngineVersion="7.1", SecurityGroupIds=["sg-0aaa1111"])
    group = cache.group()
    assert group["MemberClusters"] == ["rg-001", "rg-002"]
    (shard,) = group["NodeGroups"]
    assert [(m["CacheClusterId"], m["CurrentRole"]) for m in shard["NodeGroupMembers"]] == [
        ("rg-001", "primary"), ("rg-002", "replica")]
    # Multi-AZ: the nodes in the subnet group's two zones
    assert {m["PreferredAvailabilityZone"] for m in shard["NodeGroupMembers"]} == set(
        cache.zones[:2])
    assert shard["PrimaryEndpoint"]["Port"] == shard["ReaderEndpoint"]["Port"] == 6379
    assert shard["ReaderEndpoint"]["Address"] != shard["PrimaryEndpoint"]["Address"]


def test_describe_cache_clusters_lists_each_member_with_the_groups_settings(
        cache: Cache) -> None:
    cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True, EngineVersion="7.1",
                 SecurityGroupIds=["sg-0aaa1111"], TransitEncryptionEnabled=True,
                 AtRestEncryptionEnabled=True, AuthToken=TOKEN)
    members = cache.members()
    assert sorted(members) == ["rg-001", "rg-002"]
    for member in members.values():
        assert (member["ReplicationGroupId"], member["CacheNodeType"], member["Engine"],
                member["EngineVersion"], member["CacheSubnetGroupName"]) == (
            GROUP, "cache.t3.micro", "redis", "7.1.0", SUBNETS)
        assert member["SecurityGroups"] == [{"SecurityGroupId": "sg-0aaa1111",
                                             "Status": "active"}]
        assert member["CacheParameterGroup"]["CacheParameterGroupName"] == "default.redis7"
        assert (member["AuthTokenEnabled"], member["TransitEncryptionEnabled"],
                member["AtRestEncryptionEnabled"], member["CacheClusterStatus"]) == (
            True, True, True, "available")
    (member,) = cache.ec.describe_cache_clusters(CacheClusterId="rg-002")["CacheClusters"]
    assert member["ReplicationGroupId"] == GROUP


def test_replicas_per_node_group_counts_the_replicas(cache: Cache) -> None:
    cache.create(ReplicasPerNodeGroup=1)
    assert cache.group()["MemberClusters"] == ["rg-001", "rg-002"]


def test_a_group_without_a_count_has_one_node(cache: Cache) -> None:
    cache.create()
    assert cache.group()["MemberClusters"] == ["rg-001"] and list(cache.members()) == [
        "rg-001"]


def test_replica_count_increases_and_decreases(cache: Cache) -> None:
    cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True)
    grown = cache.ec.increase_replica_count(ReplicationGroupId=GROUP, NewReplicaCount=3,
                                            ApplyImmediately=True)["ReplicationGroup"]
    assert grown["MemberClusters"] == ["rg-001", "rg-002", "rg-003", "rg-004"]
    assert sorted(cache.members()) == grown["MemberClusters"]
    cache.ec.decrease_replica_count(ReplicationGroupId=GROUP, NewReplicaCount=1,
                                    ReplicasToRemove=["rg-002", "rg-004"],
                                    ApplyImmediately=True)
    group = cache.group()
    assert group["MemberClusters"] == ["rg-001", "rg-003"]
    assert [m["CurrentRole"] for m in group["NodeGroups"][0]["NodeGroupMembers"]] == [
        "primary", "replica"]
    assert sorted(cache.members()) == ["rg-001", "rg-003"]


def test_failover_keeps_a_replica(cache: Cache) -> None:
    cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True)
    with pytest.raises(ClientError):
        cache.ec.decrease_replica_count(ReplicationGroupId=GROUP, NewReplicaCount=0,
                                        ApplyImmediately=True)
    assert cache.group()["MemberClusters"] == ["rg-001", "rg-002"]


def test_failover_needs_a_replica_and_multi_az_needs_failover(cache: Cache) -> None:
    cache.create()
    for args in ({"AutomaticFailoverEnabled": True}, {"MultiAZEnabled": True}):
        with pytest.raises(ClientError) as err:
            cache.ec.modify_replication_group(ReplicationGroupId=GROUP, ApplyImmediately=True,
                                              **args)
        assert _code(err) == "InvalidParameterCombination"
    cache.ec.increase_replica_count(ReplicationGroupId=GROUP, NewReplicaCount=1,
                                    ApplyImmediately=True)
    cache.ec.modify_replication_group(ReplicationGroupId=GROUP, ApplyImmediately=True,
                                      AutomaticFailoverEnabled=True, MultiAZEnabled=True)
    group = cache.group()
    assert (group["AutomaticFailover"], group["MultiAZ"]) == ("enabled", "enabled")


def test_replica_count_of_an_unknown_group_is_not_found(cache: Cache) -> None:
    with pytest.raises(ClientError) as err:
        cache.ec.increase_replica_count(ReplicationGroupId="none", NewReplicaCount=2,
                                        ApplyImmediately=True)
    assert _code(err) == "ReplicationGroupNotFoundFault"


# ---- settings ------------------------------------------------------------------------------

def test_create_keeps_encryption_failover_and_tags(cache: Cache) -> None:
    made = cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True,
                        MultiAZEnabled=True, TransitEncryptionEnabled=True,
                        AtRestEncryptionEnabled=True, AuthToken=TOKEN,
                        SnapshotRetentionLimit=7, SnapshotWindow="03:00-04:00",
                        Tags=[{"Key": "app", "Value": "iq"}])
    group = cache.group()
    assert (group["AutomaticFailover"], group["MultiAZ"], group["AtRestEncryptionEnabled"],
            group["TransitEncryptionEnabled"], group["TransitEncryptionMode"],
            group["AuthTokenEnabled"], group["SnapshotRetentionLimit"],
            group["SnapshotWindow"]) == ("enabled", "enabled", True, True, "required", True,
                                         7, "03:00-04:00")
    tags = cache.ec.list_tags_for_resource(ResourceName=made["ARN"])["TagList"]
    assert tags == [{"Key": "app", "Value": "iq"}]


def test_modify_writes_what_moto_dropped(cache: Cache) -> None:
    cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True, EngineVersion="6.2",
                 SecurityGroupIds=["sg-0aaa1111"], SnapshotWindow="03:00-04:00")
    cache.ec.modify_replication_group(
        ReplicationGroupId=GROUP, EngineVersion="7.1", SecurityGroupIds=["sg-0bbb2222"],
        SnapshotWindow="01:00-02:00", PreferredMaintenanceWindow="mon:05:00-mon:06:00",
        ApplyImmediately=True)
    assert cache.group()["SnapshotWindow"] == "01:00-02:00"
    for member in cache.members().values():
        assert (member["EngineVersion"], member["PreferredMaintenanceWindow"]) == (
            "7.1.0", "mon:05:00-mon:06:00")
        assert [g["SecurityGroupId"] for g in member["SecurityGroups"]] == ["sg-0bbb2222"]


def test_a_rotated_auth_token_is_dated(cache: Cache) -> None:
    made = cache.create(TransitEncryptionEnabled=True, AuthToken=TOKEN)
    cache.ec.modify_replication_group(ReplicationGroupId=GROUP, AuthToken=TOKEN + "-2",
                                      AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True)
    group = cache.group()
    assert group["AuthTokenEnabled"] is True
    assert group["AuthTokenLastModifiedDate"] > made["AuthTokenLastModifiedDate"]


def test_an_auth_token_needs_encryption_in_transit(cache: Cache) -> None:
    cache.create()
    with pytest.raises(ClientError) as err:
        cache.ec.modify_replication_group(ReplicationGroupId=GROUP, AuthToken=TOKEN,
                                          ApplyImmediately=True)
    assert _code(err) == "InvalidParameterValue"


def test_an_unknown_subnet_group_is_not_found(cache: Cache) -> None:
    with pytest.raises(ClientError) as err:
        cache.create(CacheSubnetGroupName="none")
    assert _code(err) == "CacheSubnetGroupNotFoundFault"


# ---- deletion ------------------------------------------------------------------------------

def test_a_deleted_group_reads_deleting_once_then_is_gone(cache: Cache) -> None:
    """AWS: `deleting` for minutes, then ReplicationGroupNotFoundFault. Here the first
    describe after the delete answers `deleting`, the next one not found."""
    made = cache.create(NumCacheClusters=2, AutomaticFailoverEnabled=True,
                        Tags=[{"Key": "app", "Value": "iq"}])
    gone = cache.ec.delete_replication_group(ReplicationGroupId=GROUP,
                                             FinalSnapshotIdentifier="rg-final")
    assert gone["ReplicationGroup"]["Status"] == "deleting"
    assert {c["CacheClusterStatus"] for c in cache.members().values()} == {"deleting"}
    listed = cache.ec.describe_replication_groups()["ReplicationGroups"]
    assert [(g["ReplicationGroupId"], g["Status"]) for g in listed] == [(GROUP, "deleting")]
    with pytest.raises(ClientError) as err:
        cache.group()
    assert _code(err) == "ReplicationGroupNotFoundFault"
    assert cache.members() == {}
    snapshots = cache.ec.describe_snapshots(SnapshotName="rg-final")["Snapshots"]
    assert snapshots[0]["ReplicationGroupId"] == GROUP
    assert cache.create(Tags=[{"Key": "new", "Value": "1"}])["Status"] == "available"
    assert cache.ec.list_tags_for_resource(ResourceName=made["ARN"])["TagList"] == [
        {"Key": "new", "Value": "1"}]  # the old group's tags went with it


def test_a_group_being_deleted_takes_no_writes(cache: Cache) -> None:
    cache.create()
    cache.ec.delete_replication_group(ReplicationGroupId=GROUP)
    for call in (lambda: cache.ec.delete_replication_group(ReplicationGroupId=GROUP),
                 lambda: cache.ec.modify_replication_group(
                     ReplicationGroupId=GROUP, SnapshotRetentionLimit=1,
                     ApplyImmediately=True)):
        with pytest.raises(ClientError) as err:
            call()
        assert _code(err) == "InvalidReplicationGroupState"


# ---- cache subnet groups -------------------------------------------------------------------

def test_a_subnet_group_is_changed_in_place(cache: Cache) -> None:
    arn = cache.ec.describe_cache_subnet_groups(CacheSubnetGroupName=SUBNETS)[
        "CacheSubnetGroups"][0]["ARN"]
    cache.ec.modify_cache_subnet_group(CacheSubnetGroupName=SUBNETS,
                                       CacheSubnetGroupDescription="changed",
                                       SubnetIds=cache.subnets[1:])
    (group,) = cache.ec.describe_cache_subnet_groups(CacheSubnetGroupName=SUBNETS)[
        "CacheSubnetGroups"]
    assert (group["ARN"], group["CacheSubnetGroupDescription"]) == (arn, "changed")
    assert {(s["SubnetIdentifier"], s["SubnetAvailabilityZone"]["Name"])
            for s in group["Subnets"]} == set(zip(cache.subnets[1:], cache.zones[1:],
                                                  strict=True))
    assert cache.ec.list_tags_for_resource(ResourceName=arn)["TagList"] == [
        {"Key": "app", "Value": "x"}]


def test_changing_an_unknown_subnet_group_is_not_found(cache: Cache) -> None:
    with pytest.raises(ClientError) as err:
        cache.ec.modify_cache_subnet_group(CacheSubnetGroupName="none",
                                           SubnetIds=cache.subnets)
    assert _code(err) == "CacheSubnetGroupNotFoundFault"


def test_a_subnet_group_in_use_is_not_deleted_until_its_group_is_gone(cache: Cache) -> None:
    cache.create()
    with pytest.raises(ClientError) as err:
        cache.ec.delete_cache_subnet_group(CacheSubnetGroupName=SUBNETS)
    assert _code(err) == "CacheSubnetGroupInUse"
    cache.ec.delete_replication_group(ReplicationGroupId=GROUP)
    with pytest.raises(ClientError) as err:  # still deleting
        cache.ec.delete_cache_subnet_group(CacheSubnetGroupName=SUBNETS)
    assert _code(err) == "CacheSubnetGroupInUse"
    cache.ec.describe_replication_groups()  # its last `deleting`: then it is gone
    cache.ec.delete_cache_subnet_group(CacheSubnetGroupName=SUBNETS)
    assert cache.ec.describe_cache_subnet_groups()["CacheSubnetGroups"] == []
    with pytest.raises(ClientError) as err:
        cache.ec.delete_cache_subnet_group(CacheSubnetGroupName=SUBNETS)
    assert _code(err) == "CacheSubnetGroupNotFoundFault"
