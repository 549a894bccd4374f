"""Each kind's case table: what the conformance suite (test_conformance.py) does to it.

A table names one resource of desired/prod (`sample`) and how drift is made on it by
hand (`drifts`); and how a second resource of the kind (`copy`, beside the sample,
with its own name) differs from the sample, and which immutable field a replace
changes on it. Everything else the suite does through the driver contract or AWS's
tagging API, the same for every kind. Adding a kind: its driver module, its line in
the registry, and its table here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import AwsEnv

CLUSTER = "iq-theory-cluster"


@dataclass
class Drift:
    """A change made by hand in AWS, and what the plan must show for it."""

    name: str
    why: str
    make: Callable[[AwsEnv], None]
    # resource id -> a field path the plan must show for it
    expected: dict[str, str]


@dataclass
class KindCases:
    kind: str
    sample: str  # the name of one resource of the kind in desired/prod
    drifts: list[Drift]
    # The second resource's name, and its spec edits over the sample's (None drops a
    # field): what makes it valid beside the sample (another block, another name...).
    copy: str
    copy_edits: dict[str, Any] = field(default_factory=dict)
    # An immutable field's new value: git changes it on the copy, the plan says replace
    # (refused for a kind that holds data). Empty for a kind without immutable fields.
    replace: dict[str, Any] = field(default_factory=dict)
    # (botocore service id, operation): the kind's batched read, throttled; and how many
    # distinct reads of it a plan of desired/prod makes: once one failed, the kind's
    # other names (another family, the inventory's) are not asked in that run.
    batch: tuple[str, str] = ("", "")
    batch_reads: int = 1

    @property
    def sample_id(self) -> str:
        return f"{self.kind}/{self.sample}"

    @property
    def copy_id(self) -> str:
        return f"{self.kind}/{self.copy}"


def _queue_url(aws: AwsEnv, name: str) -> str:
    return str(aws.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])


def _vpc_id(aws: AwsEnv) -> str:
    vpcs = aws.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:gitops:id", "Values": ["ec2.Vpc/iq-theory-vpc"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"])


def _tagged(aws: AwsEnv, kind: str, key: str, rid: str) -> str:
    fn = {"subnet": "describe_subnets", "sg": "describe_security_groups"}[kind]
    items = getattr(aws.client("ec2"), fn)(
        Filters=[{"Name": "tag:gitops:id", "Values": [rid]}])
    return str(items["Subnets" if kind == "subnet" else "SecurityGroups"][0][key])


def _new_image_revision(aws: AwsEnv) -> None:
    ecs = aws.client("ecs")
    td = ecs.describe_task_definition(taskDefinition="iq-theory-api")["taskDefinition"]
    td["containerDefinitions"][0]["image"] = "attacker/image:latest"
    keep = ("family", "taskRoleArn", "executionRoleArn", "networkMode", "containerDefinitions",
            "requiresCompatibilities", "cpu", "memory", "runtimePlatform")
    ecs.register_task_definition(**{k: td[k] for k in keep if k in td})


def _redrive(aws: AwsEnv) -> None:
    dlq = aws.client("sqs").get_queue_attributes(
        QueueUrl=_queue_url(aws, "iq-theory-jobs-dlq"), AttributeNames=["QueueArn"])
    aws.client("sqs").set_queue_attributes(
        QueueUrl=_queue_url(aws, "iq-theory-jobs"), Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq["Attributes"]["QueueArn"], "maxReceiveCount": 9})})


CASES = {case.kind: case for case in [
    KindCases(
        "ec2.Vpc", "iq-theory-vpc", [
            Drift("vpc dns", "a boolean attribute of the VPC",
                  lambda a: a.client("ec2").modify_vpc_attribute(
                      VpcId=_vpc_id(a), EnableDnsHostnames={"Value": False}),
                  {"ec2.Vpc/iq-theory-vpc": "spec.enableDnsHostnames"})],
        copy="iq-theory-vpc-2", copy_edits={"cidrBlock": "10.1.0.0/16"},
        replace={"cidrBlock": "10.2.0.0/16"}, batch=("ec2", "DescribeVpcs")),
    KindCases(
        "ec2.Subnet", "iq-theory-private-a", [
            Drift("subnet public ip", "a boolean attribute of a subnet",
                  lambda a: a.client("ec2").modify_subnet_attribute(
                      SubnetId=_tagged(a, "subnet", "SubnetId", "ec2.Subnet/iq-theory-private-a"),
                      MapPublicIpOnLaunch={"Value": True}),
                  {"ec2.Subnet/iq-theory-private-a": "spec.mapPublicIpOnLaunch"})],
        copy="iq-theory-private-c", copy_edits={"cidrBlock": "10.0.9.0/24"},
        replace={"cidrBlock": "10.0.10.0/24"}, batch=("ec2", "DescribeSubnets")),
    KindCases(
        "ec2.SecurityGroup", "iq-theory-api", [
            Drift("sg rule added", "rules compare as a set: an extra rule is drift",
                  lambda a: a.client("ec2").authorize_security_group_ingress(
                      GroupId=_tagged(a, "sg", "GroupId", "ec2.SecurityGroup/iq-theory-api"),
                      IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                                      "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
                  {"ec2.SecurityGroup/iq-theory-api": "spec.ingress"})],
        copy="iq-theory-worker", replace={"description": "IQ Theory worker tasks"},
        batch=("ec2", "DescribeSecurityGroups")),
    KindCases(
        "iam.Role", "iq-theory-ecs-execution", [
            Drift("role managed policy", "a set of managed policies",
                  lambda a: a.client("iam").detach_role_policy(
                      RoleName="iq-theory-ecs-execution",
                      PolicyArn="arn:aws:iam::aws:policy/service-role/"
                                "AmazonECSTaskExecutionRolePolicy"),
                  {"iam.Role/iq-theory-ecs-execution": "spec.managedPolicyArns"}),
            Drift("role inline policy", "a policy document, compared parsed",
                  lambda a: a.client("iam").put_role_policy(
                      RoleName="iq-theory-api-task", PolicyName="jobs-queue",
                      PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                          {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})),
                  {"iam.Role/iq-theory-api-task": "spec.inlinePolicies"})],
        copy="iq-theory-worker-task", replace={"path": "/service/"},
        batch=("iam", "GetAccountAuthorizationDetails")),
    KindCases(
        "logs.LogGroup", "/ecs/iq-theory-api", [
            Drift("log retention", "a scalar",
                  lambda a: a.client("logs").put_retention_policy(
                      logGroupName="/ecs/iq-theory-api", retentionInDays=1),
                  {"logs.LogGroup//ecs/iq-theory-api": "spec.retentionInDays"}),
            Drift("tag added by hand", "tags are a user map: an extra tag is drift",
                  lambda a: a.client("logs").tag_log_group(
                      logGroupName="/ecs/iq-theory-frontend", tags={"owner": "someone"}),
                  {"logs.LogGroup//ecs/iq-theory-frontend": "spec.tags.owner"})],
        copy="/ecs/iq-theory-worker", batch=("logs", "DescribeLogGroups")),
    KindCases(
        "ecr.Repository", "iq-theory-api", [
            Drift("ecr scan on push", "a nested boolean",
                  lambda a: a.client("ecr").put_image_scanning_configuration(
                      repositoryName="iq-theory-api",
                      imageScanningConfiguration={"scanOnPush": False}),
                  {"ecr.Repository/iq-theory-api": "spec.scanOnPush"}),
            Drift("ecr lifecycle", "a JSON policy deleted",
                  lambda a: a.client("ecr").delete_lifecycle_policy(
                      repositoryName="iq-theory-frontend"),
                  {"ecr.Repository/iq-theory-frontend": "spec.lifecyclePolicy"})],
        copy="iq-theory-worker", replace={"encryptionType": "KMS"},
        batch=("ecr", "DescribeRepositories")),
    KindCases(
        "secretsmanager.Secret", "iq-theory/database-url", [
            Drift("secret description", "a secret's metadata, never its value",
                  lambda a: a.client("secretsmanager").update_secret(
                      SecretId="iq-theory/database-url", Description="edited by hand"),
                  {"secretsmanager.Secret/iq-theory/database-url": "spec.description"})],
        # two reads: by the declared names (observe), by the stack's tag (inventory)
        copy="iq-theory/worker-url", batch=("secrets-manager", "ListSecrets"), batch_reads=2),
    KindCases(
        "ecs.Cluster", CLUSTER, [
            Drift("cluster insights", "a cluster setting",
                  lambda a: a.client("ecs").update_cluster(
                      cluster=CLUSTER,
                      settings=[{"name": "containerInsights", "value": "disabled"}]),
                  {"ecs.Cluster/iq-theory-cluster": "spec.containerInsights"})],
        copy="iq-theory-batch", batch=("ecs", "DescribeClusters")),
    KindCases(
        "ecs.Service", "iq-theory-frontend", [
            Drift("service count", "a scalar of the service",
                  lambda a: a.client("ecs").update_service(
                      cluster=CLUSTER, service="iq-theory-api", desiredCount=1),
                  {"ecs.Service/iq-theory-api": "spec.desiredCount"}),
            Drift("circuit breaker", "a nested object of the service",
                  lambda a: a.client("ecs").update_service(
                      cluster=CLUSTER, service="iq-theory-frontend", deploymentConfiguration={
                          "minimumHealthyPercent": 100, "maximumPercent": 200,
                          "deploymentCircuitBreaker": {"enable": False, "rollback": False}}),
                  {"ecs.Service/iq-theory-frontend": "spec.deploymentConfiguration."
                                                     "deploymentCircuitBreaker.enable"})],
        # AWS takes an EC2 service only on a task definition compatible with EC2 (the
        # suite's stack makes the frontend's so), and no platformVersion with it.
        copy="iq-theory-worker", copy_edits={"desiredCount": 1},
        replace={"launchType": "EC2", "platformVersion": None},
        batch=("ecs", "DescribeServices")),
    KindCases(
        "ecs.TaskDefinition", "iq-theory-api", [
            Drift("task definition image",
                  "a revision registered by hand: every container field counts",
                  _new_image_revision,
                  {"ecs.TaskDefinition/iq-theory-api": "spec.containerDefinitions[0].image",
                   "ecs.Service/iq-theory-api": "spec.taskDefinition"})],
        copy="iq-theory-worker", batch=("ecs", "DescribeTaskDefinition")),
    KindCases(
        "sqs.Queue", "iq-theory-jobs", [
            Drift("queue timeout", "an SQS attribute, typed",
                  lambda a: a.client("sqs").set_queue_attributes(
                      QueueUrl=_queue_url(a, "iq-theory-jobs"),
                      Attributes={"VisibilityTimeout": "5"}),
                  {"sqs.Queue/iq-theory-jobs": "spec.visibilityTimeout"}),
            Drift("queue redrive", "a JSON attribute, compared parsed", _redrive,
                  {"sqs.Queue/iq-theory-jobs": "spec.redrivePolicy.maxReceiveCount"})],
        copy="iq-theory-events", replace={"fifoQueue": True},
        # no batch read: one per queue, each failing on its own
        batch=("sqs", "GetQueueAttributes"), batch_reads=2),
]}

DRIFTS = [drift for case in CASES.values() for drift in case.drifts]

# Deleted out of band, by hand: the next apply makes them again.
DELETIONS: list[tuple[str, str, Callable[[AwsEnv], None]]] = [
    ("log group", "logs.LogGroup//ecs/iq-theory-api",
     lambda a: a.client("logs").delete_log_group(logGroupName="/ecs/iq-theory-api")),
    ("queue", "sqs.Queue/iq-theory-jobs-dlq",
     lambda a: a.client("sqs").delete_queue(QueueUrl=_queue_url(a, "iq-theory-jobs-dlq"))),
    ("service", "ecs.Service/iq-theory-frontend",
     lambda a: a.client("ecs").delete_service(cluster=CLUSTER, service="iq-theory-frontend",
                                              force=True)),
    ("repository", "ecr.Repository/iq-theory-frontend",
     lambda a: a.client("ecr").delete_repository(repositoryName="iq-theory-frontend")),
]
