"""The controller's IAM policy (deploy/iam/controller-policy.yaml) allows exactly what it calls.

"Exactly" is measured, not read off the code: the engine runs an apply of
desired/prod from empty, corrects one drift of every kind, re-creates what was
deleted out of band, and plans, against moto; every AWS call it made is read
from the contract metric `gitops_aws_api_calls_total`. The policy must allow each
of those calls plus the permissions AWS checks beyond the API name (iam:PassRole,
tag-on-create), and must grant no action that none of them needs. When a driver
gains or loses a call, the failure names the (service, operation) to add or drop.

Actions are compared, not resources (the measured calls carry no ARNs): resource
scoping is checked structurally below (placeholders, PassRole, `*` only where AWS
has no resource-level permission, the controller's own resources out of reach).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import yaml
from prometheus_client import REGISTRY

from controller.engine.reconcile import apply, plan
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv
from tests.e2e.test_stack import (
    CLUSTER,
    DELETIONS,
    DRIFTS,
    Drift,
    _queue_url,
    _tagged,
    _vpc_id,
)
from tests.stacks import DESIRED, REPO

POLICY = REPO / "deploy" / "iam" / "controller-policy.yaml"
ECS_DIR = REPO / "deploy" / "ecs"
ACCOUNT = "222222222222"  # substituted for the ACCOUNT_ID placeholder, as a deploy does

# boto3 service name -> IAM action prefix where the two differ (for kinds to come).
IAM_PREFIX = {"elbv2": "elasticloadbalancing", "elb": "elasticloadbalancing",
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
}

# The only actions a statement may grant on Resource "*": those AWS authorises on no
# narrower resource. Adding one here is a security decision, like the comment it needs
# in the policy.
UNSCOPABLE = {
    "sts:GetCallerIdentity",
    "ec2:DescribeVpcs", "ec2:DescribeVpcAttribute", "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups", "ec2:DescribeSecurityGroupRules",
    "ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions",
    "iam:GetAccountAuthorizationDetails",
    "logs:DescribeLogGroups",
    "secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword",
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


def load_policy(account: str = ACCOUNT) -> dict[str, Any]:
    """The YAML as the JSON policy document a deploy sends (placeholder substituted)."""
    document = json.dumps(yaml.safe_load(POLICY.read_text()))
    return dict(json.loads(document.replace("ACCOUNT_ID", account)))


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


def iam_action(service: str, operation: str) -> str:
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


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
    size = len(json.dumps(policy, separators=(",", ":")))
    assert size <= 6144, f"the policy is {size} characters: split it"


def test_every_star_resource_is_unscopable_and_explained() -> None:
    for s in statements(load_policy()):
        if "*" in _listed(s["Resource"]):
            extra = sorted(set(_listed(s["Action"])) - UNSCOPABLE)
            assert not extra, f"{s['Sid']} grants {extra} on every resource: scope them"
    # The YAML says why on the line of each `*` resource (comments are lost when parsed).
    lines = POLICY.read_text().splitlines()
    stars = [(n, line) for n, line in enumerate(lines, 1)
             if re.search(r"""(Resource:|^\s*-)\s*["']\*["']""", line)]
    assert stars
    for n, line in stars:
        assert "#" in line, f"{POLICY.name}:{n}: explain this '*' resource in a comment"


def test_pass_role_only_for_the_stacks_roles_to_ecs_tasks() -> None:
    policy = load_policy()
    granting = [s for s in statements(policy)
                if any(action_matches(p, "iam:PassRole") for p in _listed(s["Action"]))]
    assert granting, "RegisterTaskDefinition with roles needs iam:PassRole"
    for s in granting:
        assert _listed(s["Resource"]) == [f"arn:aws:iam::{ACCOUNT}:role/iq-theory-*"], s["Sid"]
        assert s["Condition"] == {
            "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}, s["Sid"]


def test_never_reads_or_writes_secret_values_nor_creates_credentials() -> None:
    policy = load_policy()
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue",
                   "iam:CreateUser", "iam:CreateAccessKey", "iam:CreatePolicyVersion",
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
    used = {arn for env in ("dev", "prod") for r in load_stack(DESIRED / env).resources
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


def api_calls_metric() -> Counter[tuple[str, str]]:
    """gitops_aws_api_calls_total, per (service, operation), as /metrics would show it."""
    counts: Counter[tuple[str, str]] = Counter()
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name == "gitops_aws_api_calls_total":
                key = (sample.labels["service"], sample.labels["operation"])
                counts[key] += int(sample.value)
    return counts


def measure(aws: AwsEnv) -> Counter[tuple[str, str]]:
    """Every AWS call of: apply from empty, each drift corrected, each deletion
    re-created, and a final plan; all in one moto reset."""
    stack = load_stack(DESIRED / "prod")
    gateway = aws.gateway()
    before = api_calls_metric()
    created = apply(plan(stack, gateway))
    assert not created.failed, [(c.id, c.error) for c in created.failed]
    for group in rounds(DRIFTS + MORE_DRIFTS) + rounds(DELETED):
        for drift in group:
            drift.make(aws)
        pending = plan(stack, gateway)
        seen = {c.id for c in pending.changes.changes if c.pending}
        expected = {rid for drift in group for rid in drift.expected}
        assert expected <= seen, ([d.name for d in group], sorted(expected - seen))
        fixed = apply(pending)
        assert not fixed.failed, [(c.id, c.error) for c in fixed.failed]
    final = plan(stack, gateway).changes
    assert not final.has_changes, [c.id for c in final.changes if c.pending]
    counted = api_calls_metric() - before
    # The metric is the contract; the gateway's own counter must agree with it.
    assert set(counted) == set(gateway.calls), set(counted) ^ set(gateway.calls)
    return counted


def test_policy_allows_exactly_what_the_controller_calls(prod_aws: AwsEnv) -> None:
    calls = measure(prod_aws)
    needed: dict[str, list[str]] = {}  # IAM action -> why (the calls that need it)
    for service, operation in sorted(calls):
        needed.setdefault(iam_action(service, operation), []).append(f"{service}.{operation}")
        for extra in IMPLIED.get((service, operation), ()):
            needed.setdefault(extra, []).append(f"implied by {service}.{operation}")
    print(f"\n{len(calls)} (service, operation) pairs measured:")
    for (service, operation), n in sorted(calls.items()):
        print(f"  {service:15} {operation:35} {n:4}")

    policy = load_policy()
    missing = [f"{action} (for {', '.join(why)})" for action, why in sorted(needed.items())
               if not allows(policy, action)]
    granted = sorted({p for s in statements(policy) for p in _listed(s["Action"])})
    unused = [p for p in granted if not any(action_matches(p, a) for a in needed)]
    problems = []
    if missing:
        problems.append(f"missing from {POLICY.name}, the controller needs:\n  "
                        + "\n  ".join(missing))
    if unused:
        problems.append(f"granted by {POLICY.name} but no measured call needs it:\n  "
                        + "\n  ".join(unused))
    assert not problems, "\n".join(problems)
