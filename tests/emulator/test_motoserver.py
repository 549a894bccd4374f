"""The emulator's filled gaps behave as AWS documents them (controller/motoserver.py),
through boto3 over HTTP like every other call: what the drivers rely on, nothing more."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from controller.emulator import free_port
from tests.conftest import AwsEnv
from tests.daemonproc import wait_for
from tests.stacks import REPO

CLUSTER, SERVICE = "c", "s"
TARGET = {"ServiceNamespace": "ecs", "ResourceId": f"service/{CLUSTER}/{SERVICE}",
          "ScalableDimension": "ecs:service:DesiredCount"}


@pytest.fixture
def aas(aws: AwsEnv) -> Any:
    ecs = aws.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    revision = ecs.register_task_definition(family="f", containerDefinitions=[
        {"name": "a", "image": "a:1", "memory": 512}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster=CLUSTER, serviceName=SERVICE, taskDefinition=revision,
                       desiredCount=1)
    return aws.client("application-autoscaling")


def test_tags_given_at_registration_are_kept_and_a_second_registration_leaves_them(
        aas: Any) -> None:
    arn = aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=2,
                                       Tags={"team": "a"})["ScalableTargetARN"]
    assert aas.register_scalable_target(**TARGET, MaxCapacity=3,
                                        Tags={"team": "b"})["ScalableTargetARN"] == arn
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "a"}


def test_tag_and_untag_act_on_the_targets_arn(aas: Any) -> None:
    arn = aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=2,
                                       Tags={"team": "a", "app": "x"})["ScalableTargetARN"]
    aas.tag_resource(ResourceARN=arn, Tags={"app": "y", "env": "dev"})
    aas.untag_resource(ResourceARN=arn, TagKeys=["team"])
    assert aas.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"app": "y", "env": "dev"}


def test_an_unknown_arn_is_resource_not_found(aas: Any) -> None:
    arn = aas.register_scalable_target(**TARGET, MinCapacity=1,
                                       MaxCapacity=2)["ScalableTargetARN"]
    aas.deregister_scalable_target(**TARGET)
    for call in (lambda: aas.list_tags_for_resource(ResourceARN=arn),
                 lambda: aas.tag_resource(ResourceARN=arn, Tags={"a": "b"}),
                 lambda: aas.untag_resource(ResourceARN=arn, TagKeys=["a"])):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_deregistering_deletes_the_targets_policies_and_their_alarms(
        aas: Any, aws: AwsEnv) -> None:
    aas.register_scalable_target(**TARGET, MinCapacity=1, MaxCapacity=2)
    aas.put_scaling_policy(PolicyName="cpu", **TARGET, PolicyType="TargetTrackingScaling",
                           TargetTrackingScalingPolicyConfiguration={
                               "TargetValue": 60.0, "PredefinedMetricSpecification": {
                                   "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    assert aws.client("cloudwatch").describe_alarms()["MetricAlarms"]
    aas.deregister_scalable_target(**TARGET)
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert aws.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_the_file_runs_alone_as_compose_runs_it(tmp_path: Path) -> None:
    """docker/compose.yaml mounts the one file into the stock moto image: it must need
    nothing but moto (isolated mode, from a folder without the controller)."""
    alone = tmp_path / "motoserver.py"
    shutil.copy(REPO / "controller" / "motoserver.py", alone)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-I", str(alone), "-H", "127.0.0.1",
                             "-p", str(port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), 30, what="the server")
        client = boto3.client("application-autoscaling", endpoint_url=url,
                              region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="x")
        with pytest.raises(ClientError) as err:
            client.list_tags_for_resource(ResourceARN="arn:aws:application-autoscaling:"
                                          "us-east-1:123456789012:scalable-target/none")
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    finally:
        proc.kill()
        proc.wait()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
        return True
    except OSError:
        return False


def _db(aws: AwsEnv, name: str, backup: str, maintenance: str) -> Any:
    return aws.client("rds").create_db_instance(
        DBInstanceIdentifier=name, Engine="postgres", DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="iq", MasterUserPassword="not-a-real-one-1",
        PreferredBackupWindow=backup, PreferredMaintenanceWindow=maintenance)


def test_backup_and_maintenance_windows_that_touch_are_accepted(aws: AwsEnv) -> None:
    """The architecture document's windows: AWS accepts them; bare moto refuses them."""
    db = _db(aws, "touching", "03:00-04:00", "sun:04:00-sun:05:00")["DBInstance"]
    assert (db["PreferredBackupWindow"], db["PreferredMaintenanceWindow"]) == (
        "03:00-04:00", "sun:04:00-sun:05:00")


def test_windows_that_overlap_are_still_refused(aws: AwsEnv) -> None:
    with pytest.raises(ClientError, match="must not overlap"):
        _db(aws, "overlapping", "03:00-04:30", "sun:04:00-sun:05:00")


def test_performance_insights_is_kept_as_asked(aws: AwsEnv) -> None:
    rds = aws.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="insights", Engine="postgres", DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="iq", MasterUserPassword="not-a-real-one-1",
        EnablePerformanceInsights=True)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="insights")["DBInstances"]
    assert (db["PerformanceInsightsEnabled"], db["PerformanceInsightsRetentionPeriod"]) == (
        True, 7)
    rds.modify_db_instance(DBInstanceIdentifier="insights", EnablePerformanceInsights=False,
                           ApplyImmediately=True)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="insights")["DBInstances"]
    assert db["PerformanceInsightsEnabled"] is False


def test_an_instance_made_again_within_the_minute_is_made(aws: AwsEnv) -> None:
    rds = aws.client("rds")
    for _ in range(2):
        _db(aws, "again", "03:00-04:00", "sun:04:00-sun:05:00")
        rds.delete_db_instance(DBInstanceIdentifier="again", SkipFinalSnapshot=True,
                               DeleteAutomatedBackups=False)


def test_a_db_subnet_group_is_changed_in_place(aws: AwsEnv) -> None:
    ec2, rds = aws.client("ec2"), aws.client("rds")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{n}.0/24",
                                 AvailabilityZone=f"us-east-1{z}")["Subnet"]["SubnetId"]
               for n, z in ((1, "a"), (2, "b"), (3, "c"))]
    rds.create_db_subnet_group(DBSubnetGroupName="g", DBSubnetGroupDescription="d",
                               SubnetIds=subnets[:2])
    rds.modify_db_subnet_group(DBSubnetGroupName="g", SubnetIds=subnets[1:])
    (group,) = rds.describe_db_subnet_groups(DBSubnetGroupName="g")["DBSubnetGroups"]
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted(subnets[1:])


def test_only_the_named_aws_managed_policies_exist(aws: AwsEnv) -> None:
    """Building all of them at every reset cost a third of a second per test."""
    iam = aws.client("iam")
    names = {p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]}
    assert "AmazonECSTaskExecutionRolePolicy" in names and "AdministratorAccess" not in names
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    with pytest.raises(ClientError) as err:
        iam.attach_role_policy(RoleName="r",
                               PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    assert err.value.response["Error"]["Code"] == "NoSuchEntity"


def test_a_request_repeated_with_its_client_token_is_done_once(aws: AwsEnv) -> None:
    """AWS answers a repeat of a succeeded request (same client token) with the first
    result: botocore's retry after a lost answer makes one route table, not two."""
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    first = ec2.create_route_table(VpcId=vpc, ClientToken="retry-1")["RouteTable"]
    again = ec2.create_route_table(VpcId=vpc, ClientToken="retry-1")["RouteTable"]
    other = ec2.create_route_table(VpcId=vpc, ClientToken="retry-2")["RouteTable"]
    assert again["RouteTableId"] == first["RouteTableId"] != other["RouteTableId"]
    secrets = aws.client("secretsmanager")
    made = secrets.create_secret(Name="once", SecretString="x", ClientRequestToken="t" * 32)
    assert secrets.create_secret(Name="once", SecretString="x",
                                 ClientRequestToken="t" * 32)["ARN"] == made["ARN"]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    assert len(tables["RouteTables"]) == 3  # the main table and two of ours
