"""A stack's life beyond create and update, through the CLI against moto: taken over from
another tool, shrunk in git (prune), and a network piece replaced under a running service."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import AwsEnv, CallRecorder
from tests.stacks import copy_desired

TERRAFORM = [{"Key": "ManagedBy", "Value": "terraform"}]
ECS_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
     "Action": "sts:AssumeRole"}]})


def plan_json(gitops: Any, stack: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = gitops("plan", stack, "--output", "json", *args)
    return result.code, json.loads(result.out)


def actions(report: dict[str, Any], action: str) -> set[str]:
    return {c["id"] for c in report["changes"] if c["action"] == action}


def counts(aws: AwsEnv) -> dict[str, int]:
    """How many of each thing the account holds: adoption must change none of them."""
    ec2 = aws.client("ec2")
    return {
        "vpcs": len(ec2.describe_vpcs()["Vpcs"]),
        "subnets": len(ec2.describe_subnets()["Subnets"]),
        "groups": len(ec2.describe_security_groups()["SecurityGroups"]),
        "queues": len(aws.client("sqs").list_queues().get("QueueUrls", [])),
        "roles": len(aws.client("iam").list_roles()["Roles"]),
    }


def name_adopted(file: Path, ids: dict[str, str]) -> None:
    """Write `adopt: <id>` under `name: <name>` for each name in `ids`."""
    text = file.read_text()
    for name, aws_id in ids.items():
        text, n = re.subn(rf"^name: {re.escape(name)}\n", f"name: {name}\nadopt: {aws_id}\n",
                          text, flags=re.M)
        assert n == 1, name
    file.write_text(text)


def drop_documents(file: Path, *names: str) -> None:
    """Remove the YAML documents named `names` (of any kind) from `file`, as a commit
    would."""
    docs = file.read_text().split("\n---\n")
    kept = [d for d in docs if not any(re.search(rf"^name: {re.escape(n)}$", d, re.M)
                                       for n in names)]
    assert len(docs) - len(kept) >= len(names), names
    file.write_text("\n---\n".join(kept))


def test_a_stack_built_by_another_tool_is_adopted_with_nothing_duplicated(
        prod_aws: AwsEnv, gitops: Any, tmp_path: Path) -> None:
    # What Terraform made: the network (EC2 ids are random, so git names them with
    # `adopt:`), the queues and the roles (found by their names).
    ec2 = prod_aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": TERRAFORM}])["Vpc"]["VpcId"]
    subnets = {name: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)
               ["Subnet"]["SubnetId"]
               for name, cidr, zone in (("iq-theory-private-a", "10.0.1.0/24", "us-east-1a"),
                                        ("iq-theory-private-b", "10.0.2.0/24", "us-east-1b"),
                                        ("iq-theory-public-a", "10.0.101.0/24", "us-east-1a"),
                                        ("iq-theory-public-b", "10.0.102.0/24", "us-east-1b"))}
    groups = {name: ec2.create_security_group(GroupName=name, Description=description,
                                              VpcId=vpc)["GroupId"]
              for name, description in (("iq-theory-alb", "IQ Theory load balancer"),
                                        ("iq-theory-frontend", "IQ Theory frontend tasks"),
                                        ("iq-theory-api", "IQ Theory api tasks"))}
    for queue in ("iq-theory-jobs-dlq", "iq-theory-jobs"):
        prod_aws.client("sqs").create_queue(QueueName=queue, tags={"ManagedBy": "terraform"})
    for role in ("iq-theory-ecs-execution", "iq-theory-api-task", "iq-theory-frontend-task"):
        prod_aws.client("iam").create_role(RoleName=role, AssumeRolePolicyDocument=ECS_TRUST,
                                           Tags=TERRAFORM)
    before = counts(prod_aws)

    desired = copy_desired(tmp_path)
    network = {"iq-theory-vpc": vpc, **groups, **{k: v for k, v in subnets.items()
                                                   if "private" in k}}
    name_adopted(desired / "base" / "network.yaml", network)
    name_adopted(desired / "base" / "egress.yaml",
                 {k: v for k, v in subnets.items() if "public" in k})
    code, report = plan_json(gitops, desired / "prod")
    assert code == 2
    adopted = {"ec2.Vpc/iq-theory-vpc", "ec2.Subnet/iq-theory-private-a",
               "ec2.Subnet/iq-theory-private-b", "ec2.Subnet/iq-theory-public-a",
               "ec2.Subnet/iq-theory-public-b", "ec2.SecurityGroup/iq-theory-alb",
               "ec2.SecurityGroup/iq-theory-frontend",
               "ec2.SecurityGroup/iq-theory-api", "sqs.Queue/iq-theory-jobs-dlq",
               "sqs.Queue/iq-theory-jobs", "iam.Role/iq-theory-ecs-execution",
               "iam.Role/iq-theory-api-task", "iam.Role/iq-theory-frontend-task"}
    assert actions(report, "adopt") == adopted
    vpc_change = next(c for c in report["changes"] if c["id"] == "ec2.Vpc/iq-theory-vpc")
    assert vpc in vpc_change["reason"]
    text = gitops("plan", desired / "prod").out
    assert "adopt" in text and "iq-theory-vpc" in text

    applied = gitops("apply", desired / "prod", "--auto-approve")
    assert applied.code == 0, applied.out
    after = counts(prod_aws)
    # Only what the other tool never made is new: the VPC endpoints', database's and
    # cache's groups, and the jobs worker's role.
    assert after == {**before, "groups": before["groups"] + 3, "roles": before["roles"] + 1}, \
        "adoption made a duplicate"
    tags = {t["Key"]: t["Value"] for t in ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"]}
    assert tags["gitops:stack"] == "iq-theory-prod"
    assert tags["gitops:id"] == "ec2.Vpc/iq-theory-vpc"
    assert "ManagedBy" not in tags, "git's tags are the whole truth once adopted"
    # Converged, and `adopt:` is inert from now on: the resource is found by its tags.
    code, report = plan_json(gitops, desired / "prod")
    assert code == 0, [(c["id"], c["action"]) for c in report["changes"]
                       if c["action"] != "no-op"]


def test_a_resource_removed_from_git_is_an_orphan_then_pruned_in_dependency_order(
        prod_aws: AwsEnv, gitops: Any, tmp_path: Path, recorder: CallRecorder) -> None:
    desired = copy_desired(tmp_path)
    stack = desired / "prod"
    assert gitops("apply", stack, "--auto-approve").code == 0
    # The frontend leaves git: its service, task definition, task role, autoscaling and
    # log group.
    drop_documents(desired / "base" / "ecs.yaml", "iq-theory-frontend")  # service, task def
    drop_documents(desired / "base" / "iam.yaml", "iq-theory-frontend-task")
    drop_documents(desired / "base" / "logs.yaml", "/ecs/iq-theory-frontend")
    drop_documents(desired / "base" / "autoscaling.yaml", "iq-theory-frontend",
                   "iq-theory-frontend-cpu", "iq-theory-frontend-memory")
    drop_documents(desired / "base" / "alarms.yaml", "iq-theory-frontend-cpu",
                   "iq-theory-frontend-memory")
    orphans = {"cloudwatch.MetricAlarm/iq-theory-frontend-cpu",
               "cloudwatch.MetricAlarm/iq-theory-frontend-memory",
               "ecs.Service/iq-theory-frontend", "ecs.TaskDefinition/iq-theory-frontend",
               "iam.Role/iq-theory-frontend-task",
               "applicationautoscaling.ScalableTarget/iq-theory-frontend",
               "applicationautoscaling.ScalingPolicy/iq-theory-frontend-cpu",
               "applicationautoscaling.ScalingPolicy/iq-theory-frontend-memory"}

    # Without `prune: true`, every orphan is shown and kept.
    code, report = plan_json(gitops, stack)
    assert not actions(report, "delete")
    warned = {w["id"]: w["message"] for w in report["warnings"]}
    assert set(warned) >= orphans | {"logs.LogGroup//ecs/iq-theory-frontend"}
    assert "`prune: true`" in warned["ecs.Service/iq-theory-frontend"]
    assert "holds data" in warned["logs.LogGroup//ecs/iq-theory-frontend"]

    # Over the limit: nothing is deleted, and the plan says how to lift it.
    config = stack / "stack.yaml"
    config.write_text(config.read_text() + "prune: true\npruneLimit: 7\n")
    code, report = plan_json(gitops, stack)
    assert actions(report, "delete") == orphans
    assert all(c["reason"].startswith("held: 8 resources to prune") for c in report["changes"]
               if c["action"] == "delete")
    recorder.calls.clear()
    result = gitops("apply", stack, "--auto-approve")
    assert "--allow-prune 8" in result.out + result.err
    assert not [op for _, op in recorder.writes if op.startswith(("Delete", "Deregister"))]

    # Lifted for one apply: deleted, dependents first; the log group (data) is kept.
    recorder.calls.clear()
    assert gitops("apply", stack, "--auto-approve", "--allow-prune", "8").code == 0
    deletes = [op for _, op in recorder.writes if op.startswith(("Delete", "Deregister"))]
    assert deletes.index("DeleteAlarms") < deletes.index("DeleteService"), deletes
    assert deletes.index("DeleteScalingPolicy") < deletes.index("DeregisterScalableTarget") \
        < deletes.index("DeleteService") < deletes.index("DeregisterTaskDefinition") \
        < deletes.index("DeleteRole"), deletes
    targets = prod_aws.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs")["ScalableTargets"]
    assert [t["ResourceId"] for t in targets] == ["service/iq-theory-cluster/iq-theory-api"]
    ecs = prod_aws.client("ecs")
    (service,) = ecs.describe_services(cluster="iq-theory-cluster",
                                       services=["iq-theory-frontend"])["services"]
    assert service["status"] != "ACTIVE"
    assert not ecs.list_task_definitions(familyPrefix="iq-theory-frontend",
                                         status="ACTIVE")["taskDefinitionArns"]
    roles = {r["RoleName"] for r in prod_aws.client("iam").list_roles()["Roles"]}
    assert "iq-theory-frontend-task" not in roles and "iq-theory-api-task" in roles
    groups = prod_aws.client("logs").describe_log_groups(
        logGroupNamePrefix="/ecs/iq-theory-frontend")["logGroups"]
    assert groups, "a log group holds data: it is never pruned"
    code, report = plan_json(gitops, stack)
    assert code == 0 and not actions(report, "delete")


def test_replacing_a_subnet_used_by_a_running_service_moves_the_service_first(
        prod_aws: AwsEnv, gitops: Any, tmp_path: Path, recorder: CallRecorder) -> None:
    desired = copy_desired(tmp_path)
    stack = desired / "prod"
    assert gitops("apply", stack, "--auto-approve").code == 0
    subnets = len(prod_aws.client("ec2").describe_subnets()["Subnets"])
    config = stack / "stack.yaml"
    config.write_text(config.read_text().replace("private_subnet_b_cidr: 10.0.2.0/24",
                                                 "private_subnet_b_cidr: 10.0.3.0/24"))
    code, report = plan_json(gitops, stack)
    assert code == 2
    (subnet,) = [c for c in report["changes"] if c["action"] == "replace"]
    assert subnet["id"] == "ec2.Subnet/iq-theory-private-b"
    assert "the new one is created, dependents move to it" in subnet["reason"]
    assert actions(report, "update") >= {"ecs.Service/iq-theory-api",
                                         "ecs.Service/iq-theory-frontend"}

    recorder.calls.clear()
    assert gitops("apply", stack, "--auto-approve").code == 0
    writes = [op for _, op in recorder.writes]
    last_update = max(i for i, op in enumerate(writes) if op == "UpdateService")
    assert writes.index("CreateSubnet") < writes.index("UpdateService")
    assert last_update < writes.index("DeleteSubnet"), writes
    ec2 = prod_aws.client("ec2")
    assert len(ec2.describe_subnets()["Subnets"]) == subnets
    (new,) = ec2.describe_subnets(Filters=[{"Name": "tag:gitops:id",
                                            "Values": ["ec2.Subnet/iq-theory-private-b"]}])[
        "Subnets"]
    assert new["CidrBlock"] == "10.0.3.0/24"
    service = prod_aws.client("ecs").describe_services(
        cluster="iq-theory-cluster", services=["iq-theory-api"])["services"][0]
    assert new["SubnetId"] in service["networkConfiguration"]["awsvpcConfiguration"]["subnets"]
    assert plan_json(gitops, stack)[0] == 0
