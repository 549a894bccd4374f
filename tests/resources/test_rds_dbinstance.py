"""rds.DBInstance against a moto server: convergence, drift, deletion (final snapshot),
batching; and, without AWS, what moto cannot show: queued changes, AWS's own upgrades,
readiness words, plan notes.

moto's RDS is instant (always `available`, ApplyImmediately=False applied at once, no
PendingModifiedValues), so the waiting and the maintenance-window cases feed
`read_fields` / `readiness` describe answers shaped as AWS's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.emulator import MotoServer
from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, ExactMap, Observed
from controller.resources.rds_dbinstance import (
    DBInstanceDriver,
    DBInstanceSpec,
    engine_version_matches,
    read_fields,
)
from controller.resources.rds_dbinstance import _attrs as _attrs_of
from tests.conftest import DEV_ACCOUNT, TEST_STACK, AwsEnv, _pointed_at, moto_for

DRIVER = DBInstanceDriver()
NAME = "iq-theory-db"
ARN = f"arn:aws:rds:us-east-1:111111111111:db:{NAME}"
SUBNET_GROUP = "iq-theory-db"
PARAMETER_GROUP = "iq-theory-pg15"


@dataclass
class Network:
    subnet_group: str
    parameter_group: str
    security_group: str
    other_group: str


def make_network(aws: AwsEnv) -> Network:
    """What the instance references, made by hand: a subnet group over two zones, a
    parameter group, two security groups (the second for drift)."""
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"us-east-1{zone}")["Subnet"]["SubnetId"]
               for i, zone in ((1, "a"), (2, "b"))]
    groups = [ec2.create_security_group(VpcId=vpc, GroupName=n, Description=n)["GroupId"]
              for n in ("db", "other")]
    rds.create_db_subnet_group(DBSubnetGroupName=SUBNET_GROUP, SubnetIds=subnets,
                               DBSubnetGroupDescription="iq-theory database subnets")
    rds.create_db_parameter_group(DBParameterGroupName=PARAMETER_GROUP,
                                  DBParameterGroupFamily="postgres15", Description="pg15")
    return Network(SUBNET_GROUP, PARAMETER_GROUP, groups[0], groups[1])


@pytest.fixture(scope="module")
def _made() -> tuple[MotoServer, Network]:
    """A server of this module's own with the network and the instance made once: the
    tests share it (each leaves it converged, or uses an instance of its own name), where a
    reset and a network per test cost about two seconds each. Other tests' resets never
    reach it."""
    server = moto_for(DEV_ACCOUNT, "rds-dbinstance")
    server.reset()
    with pytest.MonkeyPatch.context() as env:
        aws = _pointed_at(server, env)
        network = make_network(aws)
        DRIVER.create(desired(network), aws.ctx())
    return server, network


@pytest.fixture
def made(_made: tuple[MotoServer, Network],
         monkeypatch: pytest.MonkeyPatch) -> tuple[AwsEnv, Network]:
    """The shared server, with the instance converged to `desired(net)`."""
    return _pointed_at(_made[0], monkeypatch), _made[1]


def spec(net: Network | None = None, **edits: Any) -> dict[str, Any]:
    """desired/base's instance as prod has it. The windows touch at 04:00, as AWS allows;
    the emulator (controller/motoserver.py) accepts that too. Performance Insights has its
    own test (test_performance_insights_round_trips)."""
    base: dict[str, Any] = {
        "engine": "postgres", "engineVersion": "15.4", "dbInstanceClass": "db.t3.small",
        "allocatedStorage": 20, "maxAllocatedStorage": 100, "storageEncrypted": True,
        "dbName": "iqtheory", "masterUsername": "iqtheory", "multiAZ": True,
        "backupRetentionPeriod": 7, "preferredBackupWindow": "03:00-04:00",
        "preferredMaintenanceWindow": "Sun:04:00-Sun:05:00", "deletionProtection": False,
        "publiclyAccessible": False, "finalDBSnapshotIdentifier": "iq-theory-final-snapshot",
        "tags": {"app": "iq-theory", "env": "prod"},
    }
    if net is not None:
        base.update(dbSubnetGroupName=net.subnet_group,
                    dbParameterGroupName=net.parameter_group,
                    vpcSecurityGroupIds=[net.security_group])
    return {**base, **edits}


def desired(net: Network | None = None, name: str = NAME, **edits: Any) -> Desired:
    checked = DBInstanceSpec.model_validate(spec(net, **edits)).model_dump(exclude_unset=True)
    return Desired("rds.DBInstance", name, TEST_STACK, DRIVER.normalise(checked))


def converged(want: Desired, aws: AwsEnv) -> bool:
    live = DRIVER.observe(want, aws.ctx())
    return live is not None and diff_fields(want.spec, live.fields) == []


def test_create_then_observe_has_no_diff(made: tuple[AwsEnv, Network]) -> None:
    aws, net = made
    want = desired(net, name="iq-theory-created")
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert converged(want, aws)
    attrs = created.attrs
    assert attrs["arn"] == ARN.replace(NAME, want.name) and attrs["name"] == want.name
    assert attrs["port"] == 5432 and attrs["endpointAddress"].startswith(f"{want.name}.")
    # the password RDS keeps: its secret's ARN for the task definition, never a value
    assert attrs["masterUserSecretArn"].startswith("arn:aws:secretsmanager:")
    assert created.tags is not None and created.tags["gitops:id"] == want.id
    assert created.tags["gitops:stack"] == TEST_STACK


def test_a_retried_create_finds_its_own_instance(made: tuple[AwsEnv, Network]) -> None:
    # the first create's answer lost: the second meets DBInstanceAlreadyExists
    aws, net = made
    again = DRIVER.create(desired(net), aws.ctx())
    assert again.attrs["arn"] == ARN


def test_a_create_never_takes_someone_elses_instance(made: tuple[AwsEnv, Network]) -> None:
    aws, net = made
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier="someone-else", Engine="postgres", DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="u", ManageMasterUserPassword=True)
    with pytest.raises(ClientError, match="DBInstanceAlreadyExists"):
        DRIVER.create(desired(net, name="someone-else"), aws.ctx())


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, Network], None]
    path: str


def _modify(**args: Any) -> Callable[[Any, Network], None]:
    return lambda rds, net: rds.modify_db_instance(DBInstanceIdentifier=NAME,
                                                   ApplyImmediately=True, **args)


DRIFT = [
    DriftCase("instance class", "resized by hand", _modify(DBInstanceClass="db.t3.large"),
              "spec.dbInstanceClass"),
    DriftCase("backup retention", "a number", _modify(BackupRetentionPeriod=1),
              "spec.backupRetentionPeriod"),
    DriftCase("deletion protection", "a boolean turned on by hand",
              _modify(DeletionProtection=True), "spec.deletionProtection"),
    DriftCase("maintenance window", "a window moved by hand (AWS answers lower case)",
              _modify(PreferredMaintenanceWindow="mon:04:00-mon:05:00"),
              "spec.preferredMaintenanceWindow"),
    DriftCase("security groups", "a set of groups",
              lambda rds, net: rds.modify_db_instance(
                  DBInstanceIdentifier=NAME, ApplyImmediately=True,
                  VpcSecurityGroupIds=[net.security_group, net.other_group]),
              "spec.vpcSecurityGroupIds"),
    DriftCase("multi-az", "the standby removed by hand", _modify(MultiAZ=False),
              "spec.multiAZ"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda rds, net: rds.add_tags_to_resource(
                  ResourceName=ARN, Tags=[{"Key": "app", "Value": "x"}]), "spec.tags.app"),
    DriftCase("tag added", "tags are a user map: an extra tag is drift",
              lambda rds, net: rds.add_tags_to_resource(
                  ResourceName=ARN, Tags=[{"Key": "owner", "Value": "me"}]),
              "spec.tags.owner"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(made: tuple[AwsEnv, Network], case: DriftCase) -> None:
    aws, net = made
    want = desired(net)
    assert converged(want, aws)
    case.drift(aws.client("rds"), net)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    want_exact = Desired(want.kind, want.name, want.stack,
                         {**want.spec, "tags": ExactMap(want.spec["tags"])})  # as the engine
    changes = diff_fields(want_exact.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want_exact, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want_exact.spec, fixed.fields) == []
    assert converged(want_exact, aws)


def test_deleted_out_of_band_reads_absent(made: tuple[AwsEnv, Network]) -> None:
    aws, net = made
    want = desired(net, name="iq-theory-gone")
    DRIVER.create(want, aws.ctx())
    aws.client("rds").delete_db_instance(DBInstanceIdentifier=want.name, SkipFinalSnapshot=True)
    assert DRIVER.observe(want, aws.ctx()) is None


def _manual_snapshots(aws: AwsEnv, name: str) -> list[str]:
    return [s["DBSnapshotIdentifier"] for s in aws.client("rds").describe_db_snapshots(
        DBInstanceIdentifier=name, SnapshotType="manual")["DBSnapshots"]]


def test_delete_takes_the_final_snapshot_git_names(made: tuple[AwsEnv, Network]) -> None:
    aws, net = made
    want = desired(net, name="iq-theory-deleted")
    DRIVER.create(want, aws.ctx())
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    DRIVER.delete(live, aws.ctx())
    assert _manual_snapshots(aws, want.name) == ["iq-theory-final-snapshot"]
    DRIVER.delete(live, aws.ctx())  # already gone: succeeds
    assert DRIVER.observe(want, aws.ctx()) is None


def test_an_orphan_gets_a_final_snapshot_too(made: tuple[AwsEnv, Network]) -> None:
    # git no longer declares it: the inventory's Observed has no snapshot name
    aws, net = made
    want = desired(net, name="iq-theory-orphan")
    DRIVER.create(want, aws.ctx())
    orphan = DRIVER.inventory(aws.ctx())[want.id]
    assert DRIVER.at_risk(orphan) == ("the database iq-theory-orphan (PostgreSQL 15.4, 20 GiB, "
                                      "7 days of automated backups)")
    DRIVER.delete(orphan, aws.ctx())
    assert [s[:len(want.name) + 7] for s in _manual_snapshots(aws, want.name)] == [
        f"{want.name}-final-"]


def test_deletion_protection_refuses_the_delete(made: tuple[AwsEnv, Network]) -> None:
    aws, net = made
    want = desired(net, name="iq-theory-protected", deletionProtection=True)
    live = DRIVER.create(want, aws.ctx())
    with pytest.raises(ClientError):
        DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is not None
    note = DRIVER.plan_note("replace", want, live, ["storageEncrypted"])
    assert note is not None and "deletion protection is on" in note


def test_one_listing_serves_observe_and_inventory(made: tuple[AwsEnv, Network]) -> None:
    aws, _ = made
    rds = aws.client("rds")
    wants = [desired(name=f"db{i}") for i in range(3)]
    for want in wants:
        rds.create_db_instance(DBInstanceIdentifier=want.name, Engine="postgres",
                               DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                               MasterUsername="u", ManageMasterUserPassword=True,
                               Tags=[{"Key": k, "Value": v} for k, v in want.tags().items()])
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(name="absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(name="absent"), ctx) is None
    assert {w.id for w in wants} <= set(DRIVER.inventory(ctx))
    assert ctx.aws.calls[("rds", "DescribeDBInstances")] == 1


def test_performance_insights_round_trips(made: tuple[AwsEnv, Network]) -> None:
    aws, net = made
    want = desired(net, name="iq-theory-insights", enablePerformanceInsights=True)
    DRIVER.create(want, aws.ctx())
    assert converged(want, aws)


# --- without AWS: describe answers shaped as AWS's -----------------------------------------

ITEM: dict[str, Any] = {
    "DBInstanceIdentifier": NAME, "DBInstanceArn": ARN, "DBInstanceStatus": "available",
    "Engine": "postgres", "EngineVersion": "15.4", "DBInstanceClass": "db.t3.micro",
    "AllocatedStorage": 20, "MultiAZ": False, "BackupRetentionPeriod": 7,
    "PreferredMaintenanceWindow": "sun:04:00-sun:05:00", "DeletionProtection": False,
    "KmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/1234abcd", "PendingModifiedValues": {},
    "DBParameterGroups": [{"DBParameterGroupName": "default.postgres15",
                           "ParameterApplyStatus": "in-sync"}],
    "Endpoint": {"Address": f"{NAME}.x.us-east-1.rds.amazonaws.com", "Port": 5432},
    "MasterUserSecret": {"SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:rds!db-1"},
}


def _item(**edits: Any) -> dict[str, Any]:
    return {**ITEM, **edits}


@pytest.mark.parametrize(("want", "have", "same"), [
    ("15", "15.4", True), ("15", "15.7", True), ("15.4", "15.4", True),
    ("15.4", "15.7", True),    # AWS's automatic minor upgrade: RDS cannot go back
    ("15.7", "15.4", False),   # git asks for a newer minor: an update
    ("16", "15.4", False), ("15.4", "16.1", False),  # majors are never the same
    ("8.0.35", "8.0.36", True), ("8.0.36", "8.0.35", False), ("5.7", "8.0.36", False),
])
def test_engine_version_names_the_live_one(want: str, have: str, same: bool) -> None:
    assert engine_version_matches(want, have) is same


def test_a_queued_change_is_not_asked_again() -> None:
    # apply with applyImmediately false: AWS queues the class for the maintenance window
    want = desired(dbInstanceClass="db.t3.small", multiAZ=False)
    item = _item(PendingModifiedValues={"DBInstanceClass": "db.t3.small"})
    fields = read_fields(item, want.spec)
    assert fields["dbInstanceClass"] == "db.t3.small"
    assert "spec.dbInstanceClass" not in [c.path for c in diff_fields(want.spec, fields)]
    live = Observed(fields, _attrs_of(item))
    assert DRIVER.readiness(want, live).reason == ("queued for sun:04:00-sun:05:00: "
                                                   "dbInstanceClass db.t3.small")
    # git now wants it at once: the queue shows, so the update's ApplyImmediately takes it
    now = desired(dbInstanceClass="db.t3.small", applyImmediately=True)
    assert read_fields(item, now.spec)["dbInstanceClass"] == "db.t3.micro"


def test_git_undoing_a_queued_change_withdraws_it_at_once() -> None:
    # db.t3.small queued for the window by hand; git still says db.t3.micro
    want = desired(dbInstanceClass="db.t3.micro", multiAZ=False)
    item = _item(PendingModifiedValues={"DBInstanceClass": "db.t3.small"})
    live = Observed(read_fields(item, want.spec), _attrs_of(item))
    assert "dbInstanceClass" in top_level_fields(diff_fields(want.spec, live.fields))
    note = DRIVER.plan_note("update", want, live, ["dbInstanceClass"])
    assert note == ("dbInstanceClass: withdraws the change queued for the maintenance window "
                    "(back to the current value, at once)")


def test_what_aws_does_alone_is_not_drift() -> None:
    want = desired(kmsKeyId="1234abcd")
    grown = _item(AllocatedStorage=25, EngineVersion="15.7")  # autoscaling, minor upgrade
    fields = read_fields(grown, want.spec)
    assert fields["allocatedStorage"] == 20 and fields["engineVersion"] == "15.4"
    assert fields["kmsKeyId"] == "1234abcd"  # a key id names the ARN RDS reports
    assert read_fields(_item(AllocatedStorage=15), want.spec)["allocatedStorage"] == 15


@pytest.mark.parametrize(("status", "state"), [
    ("available", "ready"), ("creating", "progressing"), ("modifying", "progressing"),
    ("backing-up", "progressing"), ("rebooting", "progressing"), ("upgrading", "progressing"),
    ("failed", "failed"), ("incompatible-parameters", "failed"),
    ("incompatible-network", "failed"), ("storage-full", "failed")])
def test_readiness_is_the_instances_status(status: str, state: str) -> None:
    live = Observed({}, _attrs_of(_item(DBInstanceStatus=status)))
    readiness = DRIVER.readiness(None, live)
    assert readiness.state == state
    assert readiness.ready or status in readiness.reason
    assert not DRIVER.ready_before_use  # a database never holds the rest of the stack


def test_a_new_parameter_group_waits_for_a_reboot() -> None:
    item = _item(DBParameterGroups=[{"DBParameterGroupName": PARAMETER_GROUP,
                                     "ParameterApplyStatus": "pending-reboot"}])
    readiness = DRIVER.readiness(None, Observed({}, _attrs_of(item)))
    assert readiness.ready and "pending-reboot" in readiness.reason


@pytest.mark.parametrize(("edits", "changed", "says"), [
    ({}, ["dbInstanceClass"],
     "dbInstanceClass applies in the maintenance window sun:04:00-sun:05:00 "
     "(applyImmediately: false)"),
    ({"applyImmediately": True}, ["dbInstanceClass", "multiAZ"],
     "dbInstanceClass, multiAZ applies now (applyImmediately): dbInstanceClass makes the "
     "instance unavailable for minutes"),
    ({}, ["dbParameterGroupName"], "take effect at the next reboot"),
    ({}, ["port"], "restarts now"),
    ({"engineVersion": "16.3"}, ["engineVersion"], "major version upgrade 15.4 to 16.3"),
    ({}, ["deletionProtection"], None),  # applied at once, nothing to say
])
def test_plan_says_when_a_change_lands(edits: dict[str, Any], changed: list[str],
                                       says: str | None) -> None:
    live = Observed(read_fields(ITEM, desired().spec), _attrs_of(ITEM))
    note = DRIVER.plan_note("update", desired(**edits), live, changed)
    assert (note is None) if says is None else (note is not None and says in note)
