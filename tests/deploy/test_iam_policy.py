"""The controller's IAM policy (deploy/iam/controller-policy.yaml) allows exactly what it calls.

"Exactly" is measured, not read off the code: the engine runs an apply of
desired/prod from empty, corrects one drift of every kind, re-creates what was
deleted out of band, replaces one resource of every kind that git may replace
(an immutable field changed, the kind not protected), and plans, against moto;
every AWS call it made is read from the contract metric `gitops_aws_api_calls_total`.
The policy must allow each of those calls plus the permissions AWS checks beyond
the API name (iam:PassRole, tag-on-create), and must grant no action that none of
them needs. When a driver gains or loses a call, the failure names the (service,
operation) to add or drop.

Actions are compared, not resources (the measured calls carry no ARNs): resource
scoping is checked structurally below (placeholders, PassRole, `*` only where AWS
has no resource-level permission, the controller's own resources out of reach), and
for the replace round on the ARNs of the resources it deletes and creates.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY as METRICS

from controller.aws.gateway import AwsGateway
from controller.aws.leasetable import create_table
from controller.engine.lease import holding, open_lease
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from controller.spec.stack import Stack
from tests.conformance.cases import (
    _IGW,
    CDN,
    CLUSTER,
    DELETIONS,
    DRIFTS,
    Drift,
    _certificate_arn,
    _ec2_id,
    _lb_arn,
    _queue_url,
    _rule_arn,
    _tagged,
    _vpc_id,
)
from tests.conftest import AwsEnv, push_prod_images
from tests.motogaps import KmsAssociations
from tests.stacks import DESIRED, REPO

# The controller's policies: a managed policy holds 6,144 characters, so the grants are
# split by area into files attached to the same role; they are checked as one.
POLICIES = sorted((REPO / "deploy" / "iam").glob("controller-policy*.yaml"))
NAMES = " + ".join(p.name for p in POLICIES)
ECS_DIR = REPO / "deploy" / "ecs"
ACCOUNT = "222222222222"  # substituted for the ACCOUNT_ID placeholder, as a deploy does
# The stack's roles, at the root path or under one (a role's ARN includes its path).
STACK_ROLES = [f"arn:aws:iam::{ACCOUNT}:role/iq-theory-*",
               f"arn:aws:iam::{ACCOUNT}:role/*/iq-theory-*"]

# boto3 service name -> IAM action prefix where the two differ (for kinds to come).
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing",
              "resourcegroupstaggingapi": "tag",
              "stepfunctions": "states", "opensearch": "es"}

# Permissions AWS checks for a call beyond the call's own name.
IMPLIED: dict[tuple[str, str], tuple[str, ...]] = {
    # The task and execution roles a revision names are passed to ECS; its tags are
    # written by ECS on the caller's behalf.
    ("ecs", "RegisterTaskDefinition"): ("iam:PassRole", "ecs:TagResource"),
    # Tag-on-create: each create below sends the ownership tags in the create request.
    ("ecs", "CreateCluster"): ("ecs:TagResource",),
    ("ecs", "CreateService"): ("ecs:TagResource",),
    ("ec2", "CreateVpc"): ("ec2:CreateTags",),
    ("ec2", "CreateSubnet"): ("ec2:CreateTags",),
    ("ec2", "CreateSecurityGroup"): ("ec2:CreateTags",),
    ("sqs", "CreateQueue"): ("sqs:TagQueue",),
    ("logs", "CreateLogGroup"): ("logs:TagResource",),
    ("secretsmanager", "CreateSecret"): ("secretsmanager:TagResource",),
    ("ecr", "CreateRepository"): ("ecr:TagResource",),
    ("iam", "CreateRole"): ("iam:TagRole",),
    ("ec2", "CreateInternetGateway"): ("ec2:CreateTags",),
    ("ec2", "AllocateAddress"): ("ec2:CreateTags",),
    ("ec2", "CreateNatGateway"): ("ec2:CreateTags",),
    ("ec2", "CreateRouteTable"): ("ec2:CreateTags",),
    ("ec2", "CreateVpcEndpoint"): ("ec2:CreateTags",),
    ("acm", "RequestCertificate"): ("acm:AddTagsToCertificate",),
    ("elbv2", "CreateLoadBalancer"): ("elasticloadbalancing:AddTags",),
    ("elbv2", "CreateTargetGroup"): ("elasticloadbalancing:AddTags",),
    ("elbv2", "CreateListener"): ("elasticloadbalancing:AddTags",),
    ("elbv2", "CreateRule"): ("elasticloadbalancing:AddTags",),
    ("servicediscovery", "CreatePrivateDnsNamespace"): ("servicediscovery:TagResource",),
    ("servicediscovery", "CreateService"): ("servicediscovery:TagResource",),
    ("application-autoscaling", "RegisterScalableTarget"): ("application-autoscaling:TagResource",),
    # RDS writes the tags sent at create, and makes the managed password's secret with
    # the caller's permissions.
    ("rds", "CreateDBInstance"): ("rds:AddTagsToResource", "secretsmanager:CreateSecret",
                                  "secretsmanager:TagResource"),
    ("rds", "CreateDBSubnetGroup"): ("rds:AddTagsToResource",),
    ("rds", "CreateDBParameterGroup"): ("rds:AddTagsToResource",),
    # CreateBucket: tags in its configuration need s3:TagResource, an ObjectOwnership
    # setting s3:PutBucketOwnershipControls.
    ("s3", "CreateBucket"): ("s3:TagResource", "s3:PutBucketOwnershipControls"),
    ("sns", "CreateTopic"): ("sns:TagResource",),
    ("cloudwatch", "PutMetricAlarm"): ("cloudwatch:TagResource",),
    ("cloudfront", "CreateDistributionWithTags"): ("cloudfront:TagResource",),
    ("elasticache", "CreateCacheSubnetGroup"): ("elasticache:AddTagsToResource",),
    ("elasticache", "CreateReplicationGroup"): ("elasticache:AddTagsToResource",),
    ("lambda", "CreateFunction"): ("lambda:TagResource", "iam:PassRole"),
    ("lambda", "CreateEventSourceMapping"): ("lambda:TagResource",),
}

# Granted for what AWS answers and moto does not: the driver's path is tested by
# injecting AWS's answer (tests/resources), so the measured run never takes it.
AWS_ONLY = {
    # AWS refuses to associate a subnet another table holds (Resource.AlreadyAssociated):
    # the driver moves it; moto moves nothing and answers the old association.
    "ec2:ReplaceRouteTableAssociation": "tests/resources/test_ec2_routetable.py",
}

# The only actions a statement may grant on Resource "*": those AWS authorises on no
# narrower resource. Adding one here is a security decision, like the comment it needs
# in the policy.
UNSCOPABLE = {
    "sts:GetCallerIdentity",
    "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules",
    "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions",
    "ecs:DeregisterTaskDefinition",
    "tag:GetResources", "sqs:ListQueues",
    "iam:GetAccountAuthorizationDetails",
    "logs:DescribeLogGroups",
    "secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword",
    "ec2:DescribeInternetGateways", "ec2:DescribeAddresses", "ec2:DescribeNatGateways",
    "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTags",
    "acm:RequestCertificate", "acm:ListCertificates",
    "servicediscovery:ListNamespaces", "servicediscovery:ListServices",
    "servicediscovery:GetOperation", "servicediscovery:CreatePrivateDnsNamespace",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "s3:ListAllMyBuckets", "sns:ListTopics",
    "cloudfront:ListDistributions", "cloudfront:ListOriginAccessControls",
    "lambda:ListFunctions", "lambda:ListEventSourceMappings",
    "lambda:CreateEventSourceMapping",
}


# ---- a small evaluator of identity policies (Action and Resource globs) ------------

def _glob(pattern: str, *, case: bool) -> re.Pattern[str]:
    """IAM globs: `*` any run of characters, `?` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, 0 if case else re.IGNORECASE)


def action_matches(pattern: str, action: str) -> bool:
    """IAM action names are case-insensitive: `ecs:Describe*` matches ecs:DescribeServices."""
    return _glob(pattern, case=False).fullmatch(action) is not None


def arn_matches(pattern: str, arn: str) -> bool:
    """ARN patterns are case-sensitive."""
    return _glob(pattern, case=True).fullmatch(arn) is not None


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def load_document(path: Path, account: str = ACCOUNT) -> dict[str, Any]:
    """One YAML file as the JSON policy document a deploy sends (placeholder substituted)."""
    document = json.dumps(yaml.safe_load(path.read_text()))
    return dict(json.loads(document.replace("ACCOUNT_ID", account)))


def load_policy(account: str = ACCOUNT) -> dict[str, Any]:
    """Every policy of the role, as one document: what the role is allowed."""
    documents = [load_document(path, account) for path in POLICIES]
    return {"Version": documents[0]["Version"],
            "Statement": [s for d in documents for s in d["Statement"]]}


def statements(policy: dict[str, Any], effect: str = "Allow") -> list[dict[str, Any]]:
    return [s for s in policy["Statement"] if s["Effect"] == effect]


def allows(policy: dict[str, Any], action: str) -> bool:
    """Some Allow statement grants `action` (on some resource) and no unconditional
    Deny on every resource takes it away."""
    denied = any(action_matches(p, action) for s in statements(policy, "Deny")
                 if "Condition" not in s and "*" in _listed(s["Resource"])
                 for p in _listed(s["Action"]))
    return not denied and any(action_matches(p, action) for s in statements(policy)
                              for p in _listed(s["Action"]))


def allows_on(policy: dict[str, Any], action: str, arn: str) -> bool:
    """Some Allow statement grants `action` on `arn` (conditions aside)."""
    return any(action_matches(p, action) and any(arn_matches(r, arn)
                                                 for r in _listed(s["Resource"]))
               for s in statements(policy) for p in _listed(s["Action"]))


# Operations whose IAM action has another name (S3's are older than its API's names).
RENAMED = {
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "s3:PutLifecycleConfiguration",
    ("s3", "GetPublicAccessBlock"): "s3:GetBucketPublicAccessBlock",
    ("s3", "PutPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeletePublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "DeleteBucketTagging"): "s3:PutBucketTagging",
    ("s3", "DeleteBucketOwnershipControls"): "s3:PutBucketOwnershipControls",
    ("cloudfront", "CreateDistributionWithTags"): "cloudfront:CreateDistribution",
}


def iam_action(service: str, operation: str) -> str:
    return RENAMED.get((service, operation)) or f"{IAM_PREFIX.get(service, service)}:{operation}"


def test_the_evaluator() -> None:
    assert action_matches("ecs:Describe*", "ecs:DescribeServices")
    assert action_matches("ECS:describeservices", "ecs:DescribeServices")
    assert not action_matches("ecs:Describe*", "ecs:UpdateService")
    assert not action_matches("ecs:DescribeService", "ecs:DescribeServices")
    assert action_matches("ec2:Describe?pcs", "ec2:DescribeVpcs")
    assert arn_matches("arn:aws:sqs:*:1:iq-theory-*", "arn:aws:sqs:us-east-1:1:iq-theory-jobs")
    assert not arn_matches("arn:aws:sqs:*:1:iq-theory-*", "arn:aws:sqs:us-east-1:1:other")
    policy = {"Statement": [
        {"Effect": "Allow", "Action": "ecs:*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["ecs:Delete*"], "Resource": "*"},
    ]}
    assert allows(policy, "ecs:UpdateService")
    assert not allows(policy, "ecs:DeleteService")
    assert not allows(policy, "sqs:CreateQueue")
    assert iam_action("elbv2", "DescribeTargetGroups") == \
        "elasticloadbalancing:DescribeTargetGroups"


# ---- the policy's shape --------------------------------------------------------------

def test_policy_is_a_valid_policy_document() -> None:
    policy = load_policy()
    assert policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), "Sids must be unique"
    for s in policy["Statement"]:
        assert re.fullmatch(r"[A-Za-z0-9]+", s["Sid"]), s["Sid"]
        assert s["Effect"] in ("Allow", "Deny"), s["Sid"]
        # NotAction/NotResource grant by omission: hard to review, not used.
        assert set(s) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, s["Sid"]
        for action in _listed(s["Action"]):
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*?]+", action), (s["Sid"], action)
            assert "*" not in action, f"{s['Sid']}: list actions one by one, not {action}"
        for resource in _listed(s["Resource"]):
            assert resource == "*" or resource.startswith("arn:aws:"), (s["Sid"], resource)
            assert "ACCOUNT_ID" not in resource and "::*:" not in resource, (s["Sid"], resource)
    # A managed policy holds at most 6,144 characters, whitespace not counted.
    for path in POLICIES:
        size = len(json.dumps(load_document(path), separators=(",", ":")))
        assert size <= 6144, f"{path.name} is {size} characters: split it"


def test_every_star_resource_is_unscopable_and_explained() -> None:
    for s in statements(load_policy()):
        if "*" in _listed(s["Resource"]):
            extra = sorted(set(_listed(s["Action"])) - UNSCOPABLE)
            assert not extra, f"{s['Sid']} grants {extra} on every resource: scope them"
    # The YAML says why on the line of each `*` resource (comments are lost when parsed).
    for path in POLICIES:
        lines = path.read_text().splitlines()
        stars = [(n, line) for n, line in enumerate(lines, 1)
                 if re.search(r"""(Resource:|^\s*-)\s*["']\*["']""", line)]
        for n, line in stars:
            assert "#" in line, f"{path.name}:{n}: explain this '*' resource in a comment"


def test_pass_role_only_for_the_stacks_roles_to_ecs_tasks_and_lambda() -> None:
    policy = load_policy()
    granting = [s for s in statements(policy)
                if any(action_matches(p, "iam:PassRole") for p in _listed(s["Action"]))]
    assert granting, "RegisterTaskDefinition with roles needs iam:PassRole"
    for s in granting:
        assert _listed(s["Resource"]) == STACK_ROLES, s["Sid"]
        assert s["Condition"] == {
            "StringEquals": {"iam:PassedToService": ["ecs-tasks.amazonaws.com",
                                                     "lambda.amazonaws.com"]}}, s["Sid"]


def test_never_reads_or_writes_secret_values_nor_creates_credentials() -> None:
    policy = load_policy()
    # The one value it writes is the cache's AUTH token, which it generates: no other.
    for secret in ("iq-theory/database-url", "iq-theory/jwt-secret", "rds!db-1", "other"):
        arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{secret}-AbCdEf"
        assert not allows_on(policy, "secretsmanager:PutSecretValue", arn), secret
    token = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:iq-theory/redis-auth-AbCdEf"
    assert allows_on(policy, "secretsmanager:PutSecretValue", token)
    for action in ("secretsmanager:GetSecretValue", "iam:CreateUser", "iam:CreateAccessKey",
                   "iam:CreatePolicyVersion",
                   "iam:PutUserPolicy", "sts:AssumeRole"):
        assert not allows(policy, action), action


def _own_resources() -> dict[str, str]:
    """The controller's own ARNs, from the task definition and service it is deployed by."""
    td = json.loads((ECS_DIR / "task-definition.json").read_text())
    service = json.loads((ECS_DIR / "service.json").read_text())
    container = td["containerDefinitions"][0]
    sub = {"ACCOUNT_ID": ACCOUNT, "REGION": "us-east-1"}

    def fill(text: str) -> str:
        for key, value in sub.items():
            text = text.replace(key, value)
        return text

    own = {
        "task role": fill(td["taskRoleArn"]),
        "execution role": fill(td["executionRoleArn"]),
        "service": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/{service['cluster']}/"
                   f"{service['serviceName']}",
        "cluster": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{service['cluster']}",
        "log group": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:"
                     f"{container['logConfiguration']['options']['awslogs-group']}",
        "task definition": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{td['family']}:1",
    }
    for secret in container["secrets"]:  # by name; the ARN ends in a random suffix
        own[secret["name"]] = (f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"
                               f"{secret['valueFrom']}-AbCdEf")
    return own


def test_the_controller_cannot_modify_its_own_role_service_or_secrets() -> None:
    policy = load_policy()
    reach = {what: arn for what, arn in _own_resources().items()
             if any(arn_matches(r, arn) for s in statements(policy)
                    for r in _listed(s["Resource"]) if r != "*")}
    assert not reach, f"the policy reaches the controller's own resources: {reach}"
    # And, to be sure the check can see anything: the stack's own resources are in reach.
    assert allows_on(policy, "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/iq-theory-api-task")


def test_attachable_managed_policies_cover_desired_state() -> None:
    (attach,) = [s for s in statements(load_policy())
                 if "iam:AttachRolePolicy" in _listed(s["Action"])]
    allowed = set(_listed(attach["Condition"]["ArnEquals"]["iam:PolicyARN"]))
    used = {arn for env in ("dev", "prod") for r in load_stack(DESIRED / env, REGISTRY).resources
            if r.kind == "iam.Role" for arn in r.spec.get("managedPolicyArns") or []}
    assert used, "desired/ attaches managed policies: the check must see them"
    assert used <= allowed, f"desired/ attaches {sorted(used - allowed)}: allow them " \
                            "in IamAttachKnownManagedPolicies after review"


# ---- the measured calls ----------------------------------------------------------------

def _cluster_arn(aws: AwsEnv) -> str:
    return str(aws.client("ecs").describe_clusters(clusters=[CLUSTER])["clusters"][0]
               ["clusterArn"])


def _active_revision(aws: AwsEnv, family: str) -> str:
    return str(aws.client("ecs").describe_task_definition(taskDefinition=family)
               ["taskDefinition"]["taskDefinitionArn"])


def _distribution_arn(aws: AwsEnv) -> str:
    cloudfront = aws.client("cloudfront")
    (item,) = cloudfront.list_distributions()["DistributionList"]["Items"]
    return str(item["ARN"])


def _cache_replica_removed(aws: AwsEnv) -> None:
    elasticache = aws.client("elasticache")
    elasticache.modify_replication_group(
        ReplicationGroupId="iq-theory-cache", AutomaticFailoverEnabled=False,
        MultiAZEnabled=False, ApplyImmediately=True)
    elasticache.decrease_replica_count(ReplicationGroupId="iq-theory-cache",
                                       NewReplicaCount=0, ApplyImmediately=True)


def _tag(key: str = "owner", value: str = "someone") -> list[dict[str, str]]:
    return [{"Key": key, "Value": value}]


_ALLOW_ALL_SQS = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"}]})
_EC2_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
     "Action": "sts:AssumeRole"}]})

# Write paths the e2e DRIFTS table does not take, which the controller takes in
# production as soon as someone makes that change by hand.
MORE_DRIFTS = [
    Drift("vpc tag added", "EC2 tag removal",
          lambda a: a.client("ec2").create_tags(Resources=[_vpc_id(a)], Tags=_tag()),
          {"ec2.Vpc/iq-theory-vpc": "spec.tags"}),
    Drift("cluster tag added", "ECS tag removal",
          lambda a: a.client("ecs").tag_resource(
              resourceArn=_cluster_arn(a), tags=[{"key": "owner", "value": "someone"}]),
          {"ecs.Cluster/iq-theory-cluster": "spec.tags"}),
    Drift("repository tag added", "ECR tag removal",
          lambda a: a.client("ecr").tag_resource(
              resourceArn=a.client("ecr").describe_repositories(
                  repositoryNames=["iq-theory-api"])["repositories"][0]["repositoryArn"],
              tags=_tag()),
          {"ecr.Repository/iq-theory-api": "spec.tags"}),
    Drift("repository tag mutability", "ECR tag mutability",
          lambda a: a.client("ecr").put_image_tag_mutability(
              repositoryName="iq-theory-frontend", imageTagMutability="MUTABLE"),
          {"ecr.Repository/iq-theory-frontend": "spec.imageTagMutability"}),
    Drift("role tag added", "IAM tag removal",
          lambda a: a.client("iam").tag_role(RoleName="iq-theory-frontend-task", Tags=_tag()),
          {"iam.Role/iq-theory-frontend-task": "spec.tags"}),
    Drift("managed policy attached", "a managed policy detached",
          lambda a: a.client("iam").attach_role_policy(
              RoleName="iq-theory-api-task", PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess"),
          {"iam.Role/iq-theory-api-task": "spec.managedPolicyArns"}),
    Drift("inline policy added", "an inline policy deleted",
          lambda a: a.client("iam").put_role_policy(
              RoleName="iq-theory-frontend-task", PolicyName="by-hand",
              PolicyDocument=_ALLOW_ALL_SQS),
          {"iam.Role/iq-theory-frontend-task": "spec.inlinePolicies"}),
    Drift("trust policy edited", "the assume-role policy rewritten",
          lambda a: a.client("iam").update_assume_role_policy(
              RoleName="iq-theory-ecs-execution", PolicyDocument=_EC2_TRUST),
          {"iam.Role/iq-theory-ecs-execution": "spec.assumeRolePolicyDocument"}),
    Drift("role description", "UpdateRole",
          lambda a: a.client("iam").update_role(
              RoleName="iq-theory-api-task", Description="edited by hand"),
          {"iam.Role/iq-theory-api-task": "spec.description"}),
    Drift("cdn tag added", "CloudFront tag removal",
          lambda a: a.client("cloudfront").tag_resource(
              Resource=_distribution_arn(a), Tags={"Items": _tag()}),
          {CDN: "spec.tags"}),
    Drift("cache tag added", "ElastiCache tag removal",
          lambda a: a.client("elasticache").add_tags_to_resource(
              ResourceName=f"arn:aws:elasticache:us-east-1:{a.account}:replicationgroup:"
                           "iq-theory-cache", Tags=_tag()),
          {"elasticache.ReplicationGroup/iq-theory-cache": "spec.tags"}),
    Drift("cache replica added", "a replica too many removed (DecreaseReplicaCount)",
          lambda a: a.client("elasticache").increase_replica_count(
              ReplicationGroupId="iq-theory-cache", NewReplicaCount=2, ApplyImmediately=True),
          {"elasticache.ReplicationGroup/iq-theory-cache": "spec.numCacheClusters"}),
    Drift("cache replica removed", "failover off and its replica gone: the replica comes back "
          "first (IncreaseReplicaCount), then failover",
          _cache_replica_removed,
          {"elasticache.ReplicationGroup/iq-theory-cache": "spec.numCacheClusters"}),
    Drift("function tag added", "Lambda tag removal",
          lambda a: a.client("lambda").tag_resource(
              Resource=f"arn:aws:lambda:us-east-1:{a.account}:function:iq-theory-jobs-worker",
              Tags={"owner": "someone"}),
          {"lambda.Function/iq-theory-jobs-worker": "spec.tags"}),
    Drift("alarm tag added", "CloudWatch tag removal",
          lambda a: a.client("cloudwatch").tag_resource(
              ResourceARN=f"arn:aws:cloudwatch:us-east-1:{a.account}:alarm:iq-theory-db-cpu",
              Tags=_tag()),
          {"cloudwatch.MetricAlarm/iq-theory-db-cpu": "spec.tags"}),
    Drift("queue tag added", "SQS tag removal",
          lambda a: a.client("sqs").tag_queue(
              QueueUrl=_queue_url(a, "iq-theory-jobs-dlq"), Tags={"owner": "someone"}),
          {"sqs.Queue/iq-theory-jobs-dlq": "spec.tags"}),
    Drift("secret tag added", "Secrets Manager tag removal",
          lambda a: a.client("secretsmanager").tag_resource(
              SecretId="iq-theory/jwt-secret", Tags=_tag()),
          {"secretsmanager.Secret/iq-theory/jwt-secret": "spec.tags"}),
    Drift("egress revoked", "an egress rule authorised again",
          lambda a: a.client("ec2").revoke_security_group_egress(
              GroupId=_tagged(a, "sg", "GroupId", "ec2.SecurityGroup/iq-theory-frontend"),
              IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
          {"ec2.SecurityGroup/iq-theory-frontend": "spec.egress"}),
    Drift("egress added", "an egress rule revoked",
          lambda a: a.client("ec2").authorize_security_group_egress(
              GroupId=_tagged(a, "sg", "GroupId", "ec2.SecurityGroup/iq-theory-api"),
              IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
                              "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}]),
          {"ec2.SecurityGroup/iq-theory-api": "spec.egress"}),
    Drift("revision deregistered", "no ACTIVE revision left: registered again",
          lambda a: a.client("ecs").deregister_task_definition(
              taskDefinition=_active_revision(a, "iq-theory-frontend")),
          {"ecs.TaskDefinition/iq-theory-frontend": "spec"}),
]

def _route_table(aws: AwsEnv, name: str) -> str:
    return _ec2_id(aws, "describe_route_tables", "RouteTables", "RouteTableId",
                   f"ec2.RouteTable/{name}")


def _association(aws: AwsEnv, table: str, subnet: str) -> str:
    (found,) = aws.client("ec2").describe_route_tables(RouteTableIds=[_route_table(aws, table)])[
        "RouteTables"]
    return str(next(a["RouteTableAssociationId"] for a in found["Associations"]
                    if a.get("SubnetId") == subnet))


def _subnet(aws: AwsEnv, name: str) -> str:
    return _tagged(aws, "subnet", "SubnetId", f"ec2.Subnet/{name}")


def _group(aws: AwsEnv, name: str) -> str:
    return _tagged(aws, "sg", "GroupId", f"ec2.SecurityGroup/{name}")


# The write paths of the network kinds that their conformance drifts do not take.
NETWORK_DRIFTS = [
    Drift("route added", "a route git does not declare, deleted",
          lambda a: a.client("ec2").create_route(
              RouteTableId=_route_table(a, "iq-theory-public"), DestinationCidrBlock="10.9.0.0/16",
              GatewayId=_ec2_id(a, *_IGW, "ec2.InternetGateway/iq-theory-igw")),
          {"ec2.RouteTable/iq-theory-public": "spec.routes"}),
    Drift("route target", "a route pointed elsewhere by hand, pointed back",
          lambda a: a.client("ec2").replace_route(
              RouteTableId=_route_table(a, "iq-theory-private-a"),
              DestinationCidrBlock="0.0.0.0/0",
              GatewayId=_ec2_id(a, *_IGW, "ec2.InternetGateway/iq-theory-igw")),
          {"ec2.RouteTable/iq-theory-private-a": "spec.routes"}),
    Drift("subnet moved", "a subnet associated with another table by hand, moved back",
          lambda a: a.client("ec2").replace_route_table_association(
              AssociationId=_association(a, "iq-theory-private-b",
                                         _subnet(a, "iq-theory-private-b")),
              RouteTableId=_route_table(a, "iq-theory-public")),
          {"ec2.RouteTable/iq-theory-private-b": "spec.subnetIds",
           "ec2.RouteTable/iq-theory-public": "spec.subnetIds"}),
    Drift("certificate tag added", "ACM tag removal",
          lambda a: a.client("acm").add_tags_to_certificate(
              CertificateArn=_certificate_arn(a, "acm.Certificate/iq-theory-app"),
              Tags=_tag()),
          {"acm.Certificate/iq-theory-app": "spec.tags"}),
    Drift("alb tag added", "ELB tag removal",
          lambda a: a.client("elbv2").add_tags(
              ResourceArns=[_lb_arn(a, "iq-theory-alb")], Tags=_tag()),
          {"elbv2.LoadBalancer/iq-theory-alb": "spec.tags"}),
    Drift("alb groups", "the load balancer's groups changed by hand",
          lambda a: a.client("elbv2").set_security_groups(
              LoadBalancerArn=_lb_arn(a, "iq-theory-alb"),
              SecurityGroups=[_group(a, "iq-theory-endpoints")]),
          {"elbv2.LoadBalancer/iq-theory-alb": "spec.securityGroups"}),
    Drift("alb subnets", "the load balancer moved to other subnets by hand",
          lambda a: a.client("elbv2").set_subnets(
              LoadBalancerArn=_lb_arn(a, "iq-theory-alb"),
              Subnets=[_subnet(a, "iq-theory-private-a"), _subnet(a, "iq-theory-private-b")]),
          {"elbv2.LoadBalancer/iq-theory-alb": "spec.subnets"}),
    Drift("rule path", "a rule's condition changed by hand",
          lambda a: a.client("elbv2").modify_rule(
              RuleArn=_rule_arn(a, "iq-theory-api"),
              Conditions=[{"Field": "path-pattern", "Values": ["/other/*"]}]),
          {"elbv2.ListenerRule/iq-theory-api": "spec.conditions"}),
    Drift("namespace tag added", "Cloud Map tag removal",
          lambda a: a.client("servicediscovery").tag_resource(
              ResourceARN=next(n["Arn"] for n in a.client("servicediscovery").list_namespaces()
                               ["Namespaces"] if n["Name"] == "iq-theory.local"),
              Tags=_tag()),
          {"servicediscovery.PrivateDnsNamespace/iq-theory.local": "spec.tags"}),
]

# Deleted out of band: created (or, for a secret, restored) again.
DELETED = [Drift(name, "deleted out of band", delete, {rid: "spec"})
           for name, rid, delete in DELETIONS] + [
    Drift("secret", "restored, not re-created",
          lambda a: a.client("secretsmanager").delete_secret(
              SecretId="iq-theory/database-url", RecoveryWindowInDays=7),
          {"secretsmanager.Secret/iq-theory/database-url": "spec"}),
]


def rounds(drifts: list[Drift]) -> list[list[Drift]]:
    """Drifts grouped so that no two in a group touch the same resource: one apply
    corrects a whole group, and no drift undoes or hides another."""
    groups: list[tuple[set[str], list[Drift]]] = []
    for drift in drifts:
        ids = set(drift.expected)
        for touched, group in groups:
            if not touched & ids:
                touched |= ids
                group.append(drift)
                break
        else:
            groups.append((ids, [drift]))
    return [group for _, group in groups]


# ---- the replace round ------------------------------------------------------------------
# Git changes one immutable field of every kind that has one and is not protected by
# default (holds_data False): the plan says "replace" and apply deletes the resource,
# then creates it anew. Kinds that hold data (SQS, ECR, Secrets Manager, log groups) are
# protected: the engine refuses to replace them (tests/e2e:
# test_replacing_a_protected_queue_is_refused), so their deletes are never called and never
# granted. The same round changes, in place, what AWS changes in place: a log group's key.

def _ec2_live(kind: str, rid: str, field: str) -> Callable[[AwsEnv], tuple[str, Any]]:
    """(ARN, `field`) of the one EC2 resource tagged `rid`: one, so the old one is gone."""
    fn, key, id_key, arn_type = {
        "subnet": ("describe_subnets", "Subnets", "SubnetId", "subnet"),
        "sg": ("describe_security_groups", "SecurityGroups", "GroupId", "security-group"),
    }[kind]

    def live(aws: AwsEnv) -> tuple[str, Any]:
        (item,) = getattr(aws.client("ec2"), fn)(
            Filters=[{"Name": "tag:gitops:id", "Values": [rid]}])[key]
        arn = f"arn:aws:ec2:{aws.region}:{item['OwnerId']}:{arn_type}/{item[id_key]}"
        return arn, item[field]

    return live


def _role_live(aws: AwsEnv) -> tuple[str, Any]:
    role = aws.client("iam").get_role(RoleName="iq-theory-ecs-execution")["Role"]
    return role["Arn"], role["Path"]


def _service_live(aws: AwsEnv) -> tuple[str, Any]:
    (service,) = [s for s in aws.client("ecs").describe_services(
        cluster=CLUSTER, services=["iq-theory-frontend"])["services"]
        if s["status"] == "ACTIVE"]
    return service["serviceArn"], service["launchType"]


def _kms_key(aws: AwsEnv) -> str:
    """A customer managed key for a log group, made out of band (the controller makes none)."""
    return str(aws.client("kms").create_key(Description="iq-theory logs")["KeyMetadata"]["Arn"])


@dataclass
class Replace:
    rid: str
    immutable: str  # the field git changes: one of the driver's `immutable`
    value: Callable[[AwsEnv], Any]  # its new value (may make what the value names)
    live: Callable[[AwsEnv], tuple[str, Any]]  # (ARN, that field) as AWS reports them
    # IAM actions the replace needs on the old resource, and on the new one: checked
    # against the measured calls and against the policy's ARN patterns.
    on_old: tuple[str, ...]
    on_new: tuple[str, ...]
    # Other edits the same change takes in git (spec fields; None drops one).
    also: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


REPLACES = [
    Replace("ec2.Subnet/iq-theory-private-b", "cidrBlock", lambda a: "10.0.3.0/24",
            _ec2_live("subnet", "ec2.Subnet/iq-theory-private-b", "CidrBlock"),
            on_old=("ec2:DeleteSubnet",), on_new=("ec2:CreateSubnet", "ec2:CreateTags")),
    # The api's group: no other group's rule references it (the frontend's is a source
    # of the api's ingress, and AWS refuses to delete a referenced group).
    Replace("ec2.SecurityGroup/iq-theory-api", "description",
            lambda a: "IQ Theory api tasks (replaced)",
            _ec2_live("sg", "ec2.SecurityGroup/iq-theory-api", "Description"),
            on_old=("ec2:DeleteSecurityGroup",),
            on_new=("ec2:CreateSecurityGroup", "ec2:CreateTags",
                    "ec2:AuthorizeSecurityGroupIngress")),
    # The execution role has a managed and an inline policy: its delete removes both first.
    # Its new ARN has the path in it (role/service/iq-theory-...), and both task
    # definitions register a revision that passes it.
    Replace("iam.Role/iq-theory-ecs-execution", "path", lambda a: "/service/", _role_live,
            on_old=("iam:DetachRolePolicy", "iam:DeleteRolePolicy",
                    "iam:ListInstanceProfilesForRole", "iam:DeleteRole"),
            on_new=("iam:CreateRole", "iam:TagRole", "iam:AttachRolePolicy",
                    "iam:PutRolePolicy", "iam:PassRole")),
    # Scaled to 0 (UpdateService), deleted, created. AWS takes an EC2 service only on a
    # task definition compatible with EC2, and no platformVersion with it.
    Replace("ecs.Service/iq-theory-frontend", "launchType", lambda a: "EC2", _service_live,
            on_old=("ecs:UpdateService", "ecs:DeleteService"),
            on_new=("ecs:CreateService", "ecs:TagResource"),
            also={"ecs.Service/iq-theory-frontend": {"platformVersion": None},
                  "ecs.TaskDefinition/iq-theory-frontend": {
                      "requiresCompatibilities": ["FARGATE", "EC2"]}}),
]

# The log group whose KMS key the round sets, then removes: in place, never a replace.
IN_PLACE = "logs.LogGroup//ecs/iq-theory-frontend"
DATABASE = "iq-theory-db"
CACHE = "iq-theory-cache"

# Kinds with an immutable field, unprotected, that the round does not replace, and why.
# Their delete is not granted.
NOT_REPLACED = {
    # A new VPC block needs every subnet's block changed with it: too much for a round
    # that changes one field per kind. CreateVpc and DeleteVpc are measured by the
    # prune round (the VPC pruned, then made again).
    "ec2.Vpc": "its subnets' blocks would all change with it",
    # Replaced on a second resource of the kind by tests/conformance, whose calls are
    # checked against the same policy; a replace's calls are its create's and delete's,
    # measured here by the adoption and prune rounds.
    **dict.fromkeys(("acm.Certificate", "ec2.ElasticIp", "ec2.NatGateway", "ec2.RouteTable",
                     "ec2.VpcEndpoint", "elbv2.Listener", "elbv2.ListenerRule",
                     "elbv2.LoadBalancer", "elbv2.TargetGroup",
                     "servicediscovery.PrivateDnsNamespace", "servicediscovery.Service",
                     "rds.DBParameterGroup"),
                    "replaced in tests/conformance"),
    # A target's identity is its service: no other value of resourceId exists here (one
    # target per service). Their creates and deletes are measured by the apply from empty
    # and the prune round.
    # A FIFO topic's name ends in .fifo: another name, so no topic changes its fifoTopic.
    "sns.Topic": "fifoTopic comes with another name",
    "sns.Subscription": "replaced in tests/conformance",
    "lambda.EventSourceMapping": "replaced in tests/conformance",
    **dict.fromkeys(("applicationautoscaling.ScalableTarget",
                     "applicationautoscaling.ScalingPolicy"), "one target per service"),
}


def _kind(rid: str) -> str:
    return rid.split("/", 1)[0]


def _edited(stack: Stack, edits: dict[str, dict[str, Any]]) -> Stack:
    """`stack` as git would load it after `edits` (resource id -> spec fields to set)."""
    assert set(edits) <= set(stack.by_id()), sorted(set(edits) - set(stack.by_id()))
    resources = []
    for doc in stack.resources:
        if doc.id in edits:
            spec = {k: v for k, v in {**doc.spec, **edits[doc.id]}.items() if v is not None}
            REGISTRY[doc.kind].spec_model.model_validate(spec)  # what load_stack would check
            doc = dataclasses.replace(doc, spec=spec)
        resources.append(doc)
    return dataclasses.replace(stack, resources=resources)


def test_the_replace_round_covers_every_replaceable_kind() -> None:
    replaceable = {kind for kind, driver in REGISTRY.items()
                   if driver.immutable and not driver.holds_data}
    covered = {_kind(r.rid) for r in REPLACES}
    assert len(covered) == len(REPLACES), "one replace per kind"
    assert not covered & set(NOT_REPLACED)
    assert covered | set(NOT_REPLACED) == replaceable, \
        f"replace one resource of {sorted(replaceable - covered - set(NOT_REPLACED))} " \
        "in REPLACES (or say in NOT_REPLACED why not)"
    for r in REPLACES:
        assert r.immutable in REGISTRY[_kind(r.rid)].immutable, r.rid


def test_protected_kinds_are_never_deleted() -> None:
    """The engine refuses to replace or prune a kind that holds data: the policy must
    not make a `protect: false` in git able to destroy one."""
    protected = {kind for kind, driver in REGISTRY.items() if driver.holds_data}
    assert protected == {"sqs.Queue", "ecr.Repository", "secretsmanager.Secret",
                         "logs.LogGroup", "rds.DBInstance", "s3.Bucket",
                         "elasticache.ReplicationGroup"}
    policy = load_policy()
    for action in ("sqs:DeleteQueue", "ecr:DeleteRepository", "ecr:BatchDeleteImage",
                   "secretsmanager:DeleteSecret", "logs:DeleteLogGroup",
                   "rds:DeleteDBInstance", "s3:DeleteBucket",
                   "elasticache:DeleteReplicationGroup", "s3:DeleteObject",
                   "s3:DeleteObjectVersion"):
        assert not allows(policy, action), action


def replace_round(aws: AwsEnv, stack: Stack,
                  gateway: AwsGateway) -> tuple[Stack, list[tuple[str, str]]]:
    """Apply git's change of one immutable field per replaceable kind, check each was
    replaced; return the changed stack and the (action, ARN) pairs the replaces reached."""
    old = {r.rid: r.live(aws) for r in REPLACES}
    edits: dict[str, dict[str, Any]] = {IN_PLACE: {"kmsKeyId": _kms_key(aws)}}
    for r in REPLACES:
        edits.setdefault(r.rid, {})[r.immutable] = r.value(aws)
        for rid, fields in r.also.items():
            edits.setdefault(rid, {}).update(fields)
    changed = _edited(stack, edits)
    before = api_calls_metric()
    pending = plan(changed, gateway)
    assert not pending.changes.refused, [c.id for c in pending.changes.refused]
    actions = {c.id: c.action for c in pending.changes.changes}
    assert {r.rid: actions[r.rid] for r in REPLACES} == {r.rid: "replace" for r in REPLACES}
    assert actions[IN_PLACE] == "update"
    result = apply(pending)
    assert not result.failed, [(c.id, c.error) for c in result.failed]
    # ...and the key removed again, the logs kept forever, both in place too.
    changed = _edited(changed, {IN_PLACE: {"kmsKeyId": "", "retentionInDays": 0}})
    assert not apply(plan(changed, gateway)).failed
    needed = needed_actions(api_calls_metric() - before)
    reached = []
    for r in REPLACES:
        arn, shown = r.live(aws)
        # AWS cannot change this field in place: the new value is a new resource.
        assert shown == edits[r.rid][r.immutable], (r.rid, shown)
        assert shown != old[r.rid][1], r.rid
        missing = set(r.on_old + r.on_new) - set(needed)
        assert not missing, f"{r.rid}: the replace made no call needing {sorted(missing)}"
        reached += [(action, old[r.rid][0]) for action in r.on_old]
        reached += [(action, arn) for action in r.on_new]
    return changed, reached


def api_calls_metric() -> Counter[tuple[str, str]]:
    """gitops_aws_api_calls_total, per (service, operation), as /metrics would show it."""
    counts: Counter[tuple[str, str]] = Counter()
    for family in METRICS.collect():
        for sample in family.samples:
            if sample.name == "gitops_aws_api_calls_total":
                key = (sample.labels["service"], sample.labels["operation"])
                counts[key] += int(sample.value)
    return counts


# ---- the adoption and prune rounds --------------------------------------------------
# Before the first apply, another tool has already made the VPC (git names it with
# `adopt: vpc-...`), a queue and a role of the stack's names: the apply tags them as
# this stack's (EC2 CreateTags on a resource no stack owns yet) instead of making
# duplicates. After everything else, git keeps only the kinds that hold data and says
# `prune: true`: the apply deletes every other resource the stack made, the VPC last.

ADOPTED_BY_NAME = ("sqs.Queue/iq-theory-jobs-dlq", "iam.Role/iq-theory-api-task")


def made_by_another_tool(aws: AwsEnv, stack: Stack) -> Stack:
    """The VPC, a queue and a role made out of band, untagged; `stack` adopting the VPC."""
    vpc_doc = stack.by_id()["ec2.Vpc/iq-theory-vpc"]
    vpc = aws.client("ec2").create_vpc(CidrBlock=vpc_doc.spec["cidrBlock"])["Vpc"]["VpcId"]
    aws.client("sqs").create_queue(QueueName="iq-theory-jobs-dlq")
    role = stack.by_id()["iam.Role/iq-theory-api-task"]
    aws.client("iam").create_role(RoleName="iq-theory-api-task", AssumeRolePolicyDocument=
                                  json.dumps(role.spec["assumeRolePolicyDocument"]))
    return dataclasses.replace(stack, resources=[
        dataclasses.replace(doc, adopt=vpc) if doc is vpc_doc else doc
        for doc in stack.resources])


def _owned_arns(aws: AwsEnv) -> list[tuple[str, str]]:
    """(delete action, ARN) of every resource of the stack that prune may delete."""
    ec2, owned = aws.client("ec2"), [("Filters", [{"Name": "tag:gitops:stack",
                                                   "Values": ["iq-theory-prod"]}])]
    found = []
    for fn, key, id_key, arn_type, action in (
            ("describe_vpcs", "Vpcs", "VpcId", "vpc", "ec2:DeleteVpc"),
            ("describe_subnets", "Subnets", "SubnetId", "subnet", "ec2:DeleteSubnet"),
            ("describe_security_groups", "SecurityGroups", "GroupId", "security-group",
             "ec2:DeleteSecurityGroup")):
        for item in getattr(ec2, fn)(**dict(owned))[key]:
            found.append((action, f"arn:aws:ec2:{aws.region}:{aws.account}:{arn_type}/"
                                  f"{item[id_key]}"))
    ecs = aws.client("ecs")
    found.append(("ecs:DeleteCluster", _cluster_arn(aws)))
    found += [("ecs:DeleteService", arn) for arn in ecs.list_services(cluster=CLUSTER)
              ["serviceArns"]]
    found += [("iam:DeleteRole", role["Arn"]) for role in aws.client("iam").list_roles()
              ["Roles"] if role["RoleName"].startswith("iq-theory-")]
    return found


def prune_round(aws: AwsEnv, stack: Stack, gateway: AwsGateway) -> tuple[Stack,
                                                                        list[tuple[str, str]]]:
    """Git keeps only the kinds that hold data, with `prune: true`: everything else the
    stack made is deleted. Returns that stack and the (delete action, ARN) pairs."""
    # Deletion protection first, as the refused delete says: off in git, applied.
    alb = "elbv2.LoadBalancer/iq-theory-alb"
    attributes = {**stack.by_id()[alb].spec["attributes"], "deletion_protection.enabled": False}
    stack = _edited(stack, {alb: {"attributes": attributes}})
    unprotected = apply(plan(stack, gateway))
    assert not unprotected.failed, [(c.id, c.error) for c in unprotected.failed]
    doomed = _owned_arns(aws)
    # The database is deleted by a person (the policy never lets the controller): what it
    # stands on (its subnet and parameter groups, the VPC) can then go.
    rds = aws.client("rds")
    rds.modify_db_instance(DBInstanceIdentifier=DATABASE, DeletionProtection=False,
                           ApplyImmediately=True)
    rds.delete_db_instance(DBInstanceIdentifier=DATABASE, SkipFinalSnapshot=True)
    # So is the cache (the same rule): its subnet group and security group can then go.
    aws.client("elasticache").delete_replication_group(ReplicationGroupId=CACHE)
    by_hand = {f"rds.DBInstance/{DATABASE}", f"elasticache.ReplicationGroup/{CACHE}"}
    kept = [doc for doc in stack.resources
            if REGISTRY[doc.kind].holds_data and doc.id not in by_hand]
    pruned = dataclasses.replace(stack, resources=kept,
                                 config=stack.config.model_copy(update={"prune": True}))
    pending = plan(pruned, gateway, allow_prune=100)
    deletes = {c.id for c in pending.changes.changes if c.action == "delete"}
    assert deletes == {doc.id for doc in stack.resources} - {doc.id for doc in kept} - by_hand
    result = apply(pending)
    assert not result.failed, [(c.id, c.error) for c in result.failed]
    left = [arn for action, arn in _owned_arns(aws) if action.startswith("ec2:")]
    assert not left, f"the VPC, its subnets and groups are gone: {left}"
    return pruned, doomed


def measure(aws: AwsEnv) -> tuple[Counter[tuple[str, str]], list[tuple[str, str]]]:
    """Every AWS call of: apply from empty, each drift corrected, each deletion
    re-created, the replace round, and a final plan; all in one moto reset. Also the
    (action, ARN) pairs the replace round reached."""
    stack = made_by_another_tool(aws, load_stack(DESIRED / "prod", REGISTRY))
    gateway = aws.gateway(KmsAssociations().hooks())  # moto lacks AssociateKmsKey
    table = json.loads((REPO / "deploy" / "dynamodb" / "lease-table.json").read_text())
    create_table(aws.client("dynamodb"), table["TableName"])  # deploy/ makes it
    before = api_calls_metric()
    lease = open_lease(table["TableName"], stack.name, aws.account, aws.region, "measure")
    with holding(lease):  # the first apply written under the stack's lease
        gateway.write_guard = lease.check
        lease.describe_holder()
        first = plan(stack, gateway)
        adopted = {c.id for c in first.changes.changes if c.action == "adopt"}
        assert adopted == {"ec2.Vpc/iq-theory-vpc", *ADOPTED_BY_NAME}, adopted
        created = apply(first)
        assert not created.failed, [(c.id, c.error) for c in created.failed]
    push_prod_images(aws.client("ecr"))  # as CI does: new revisions pass the image check
    gateway.write_guard = None
    for group in rounds(DRIFTS + MORE_DRIFTS + NETWORK_DRIFTS) + rounds(DELETED):
        for drift in group:
            drift.make(aws)
        pending = plan(stack, gateway)
        seen = {c.id for c in pending.changes.changes if c.pending}
        expected = {rid for drift in group for rid in drift.expected}
        assert expected <= seen, ([d.name for d in group], sorted(expected - seen))
        fixed = apply(pending)
        assert not fixed.failed, [(c.id, c.error) for c in fixed.failed]
    push_prod_images(aws.client("ecr"))  # into the repository deleted by hand and made again
    stack, reached = replace_round(aws, stack, gateway)
    final = plan(stack, gateway).changes
    assert not final.has_changes, [c.id for c in final.changes if c.pending]
    full = stack
    stack, pruned = prune_round(aws, stack, gateway)
    reached += pruned
    final = plan(stack, gateway).changes
    assert not final.has_changes, [c.id for c in final.changes if c.pending]
    # Git reverts the prune: what it deleted is made again (the VPC too, this time).
    restored = apply(plan(full, gateway))
    assert not restored.failed, [(c.id, c.error) for c in restored.failed]
    # A pruned repository came back empty: CI pushes again, the held revisions follow.
    push_prod_images(aws.client("ecr"))
    assert not apply(plan(full, gateway)).failed
    final = plan(full, gateway).changes
    assert not final.has_changes, [c.id for c in final.changes if c.pending]
    counted = api_calls_metric() - before
    # The metric is the contract; the gateway's own counter must agree with it (the
    # lease's calls go through a gateway of its own).
    lease_calls = {("dynamodb", "GetItem"), ("dynamodb", "UpdateItem")}
    assert set(counted) == set(gateway.calls) | lease_calls, set(counted) ^ set(gateway.calls)
    return counted, reached


def needed_actions(calls: Counter[tuple[str, str]]) -> dict[str, list[str]]:
    """IAM action -> why (the calls that need it)."""
    needed: dict[str, list[str]] = {}
    for service, operation in sorted(calls):
        needed.setdefault(iam_action(service, operation), []).append(f"{service}.{operation}")
        for extra in IMPLIED.get((service, operation), ()):
            needed.setdefault(extra, []).append(f"implied by {service}.{operation}")
    return needed


@pytest.mark.slow  # the whole stack's lifecycle in one account: every call it can make
def test_policy_allows_exactly_what_the_controller_calls(prod_aws: AwsEnv) -> None:
    calls, reached = measure(prod_aws)
    needed = needed_actions(calls)
    print(f"\n{len(calls)} (service, operation) pairs measured:")
    for (service, operation), n in sorted(calls.items()):
        print(f"  {service:15} {operation:35} {n:4}")

    policy = load_policy()
    missing = [f"{action} (for {', '.join(why)})" for action, why in sorted(needed.items())
               if not allows(policy, action)]
    granted = sorted({p for s in statements(policy) for p in _listed(s["Action"])})
    unused = [p for p in granted if not any(action_matches(p, a) for a in needed)
              and p not in AWS_ONLY]
    # The replaced resources, old and new, are within the ARN patterns that grant
    # what the replace did to them (conditions aside).
    out_of_reach = sorted({f"{action} on {arn}" for action, arn in reached
                           if allows(policy, action) and not allows_on(policy, action, arn)})
    problems = []
    if missing:
        problems.append(f"missing from {NAMES}, the controller needs:\n  "
                        + "\n  ".join(missing))
    if unused:
        problems.append(f"granted by {NAMES} but no measured call needs it:\n  "
                        + "\n  ".join(unused))
    if out_of_reach:
        problems.append(f"granted by {NAMES}, but not on the resource a replace "
                        "touches:\n  " + "\n  ".join(out_of_reach))
    assert not problems, "\n".join(problems)
