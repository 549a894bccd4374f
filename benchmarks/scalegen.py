"""Generated stacks of N resources for benchmarks/scale.py, and their Terraform twins.

A generated stack has the shape of IQ Theory's: one VPC with two private subnets, one
ECS cluster and its execution role, then "services" of nine resources each (a task
definition, its service, log group, task role, security group, target group, a jobs
queue with its dead-letter queue, and an alarm on that dead-letter queue), topped up
with log groups to reach exactly N. Only kinds and fields the drivers support are used
(shapes copied from desired/base), so a generated stack validates, applies on moto and
then plans with no change; `--sizes` in scale.py picks N.

The same resources are written once as a stack folder (stack.yaml + one YAML file per
AWS service) and once as Terraform JSON (`main.tf.json`), one resource block per
resource, so the two tools are timed on the same work.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ACCOUNT = "333333333333"
REGION = "us-east-1"
TAGS = {"app": "bench", "env": "bench"}
BASE_RESOURCES = 5  # vpc, two subnets, cluster, execution role
PER_SERVICE = 9
IMAGE = "public.ecr.aws/docker/library/nginx:1.27"
ASSUME_ECS_TASKS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"


@dataclass(frozen=True)
class Ref:
    """`${ref:kind/name.attr}` in the stack; `${type.label.attr}` in Terraform."""

    kind: str
    name: str
    attr: str


@dataclass(frozen=True)
class Resource:
    """One generated resource: its kind, name and spec as the stack writes it."""

    kind: str
    name: str
    spec: dict[str, Any]

    def ref(self, attr: str) -> Ref:
        return Ref(self.kind, self.name, attr)


def _tagged(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "tags": dict(TAGS)}


def _base() -> list[Resource]:
    """What every service shares: the network, the cluster, the execution role."""
    vpc = Resource("ec2.Vpc", "bench-vpc", _tagged(
        {"cidrBlock": "10.0.0.0/16", "enableDnsSupport": True, "enableDnsHostnames": True}))
    subnets = [Resource("ec2.Subnet", f"bench-private-{zone}", _tagged(
        {"vpcId": vpc.ref("id"), "cidrBlock": f"10.0.{i + 1}.0/24",
         "availabilityZone": f"{REGION}{zone}", "mapPublicIpOnLaunch": False}))
        for i, zone in enumerate("ab")]
    cluster = Resource("ecs.Cluster", "bench-cluster", _tagged({"containerInsights": "enabled"}))
    execution = Resource("iam.Role", "bench-ecs-execution", _tagged(
        {"description": "ECS agent of the bench tasks (pull images, write logs)",
         "assumeRolePolicyDocument": ASSUME_ECS_TASKS, "managedPolicyArns": [EXECUTION_POLICY],
         "inlinePolicies": {}}))
    return [vpc, *subnets, cluster, execution]


def _service(i: int, base: list[Resource]) -> list[Resource]:
    """One ECS service and what it needs, as desired/base declares the api's."""
    vpc, subnet_a, subnet_b, cluster, execution = base
    name = f"bench-s{i:03d}"
    dlq = Resource("sqs.Queue", f"{name}-dlq", _tagged({"messageRetentionPeriod": 1209600}))
    jobs = Resource("sqs.Queue", f"{name}-jobs", _tagged(
        {"visibilityTimeout": 360, "messageRetentionPeriod": 345600,
         "receiveMessageWaitTimeSeconds": 20,
         "redrivePolicy": {"deadLetterTargetArn": dlq.ref("arn"), "maxReceiveCount": 5}}))
    logs = Resource("logs.LogGroup", f"/ecs/{name}", _tagged({"retentionInDays": 30}))
    role = Resource("iam.Role", f"{name}-task", _tagged(
        {"description": f"{name} containers (its jobs queue)",
         "assumeRolePolicyDocument": ASSUME_ECS_TASKS, "managedPolicyArns": [],
         "inlinePolicies": {"jobs-queue": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage",
                                            "sqs:DeleteMessage"],
              "Resource": jobs.ref("arn")}]}}}))
    group = Resource("ec2.SecurityGroup", name, _tagged(
        {"vpcId": vpc.ref("id"), "description": f"{name} tasks",
         "ingress": [{"protocol": "tcp", "fromPort": 8080, "toPort": 8080,
                      "cidrIpv4": "10.0.0.0/16", "description": "from inside the VPC"}],
         "egress": [{"protocol": "-1", "cidrIpv4": "0.0.0.0/0",
                     "description": "all outbound"}]}))
    target = Resource("elbv2.TargetGroup", name, _tagged(
        {"protocol": "HTTP", "port": 8080, "vpcId": vpc.ref("id"), "targetType": "ip",
         "healthCheck": {"path": "/health", "protocol": "HTTP", "port": "traffic-port",
                         "matcher": "200", "intervalSeconds": 15, "timeoutSeconds": 5,
                         "healthyThresholdCount": 2, "unhealthyThresholdCount": 3},
         "attributes": {"deregistration_delay.timeout_seconds": 30}}))
    task = Resource("ecs.TaskDefinition", name, _tagged(
        {"cpu": "256", "memory": "512", "networkMode": "awsvpc",
         "requiresCompatibilities": ["FARGATE"], "executionRoleArn": execution.ref("arn"),
         "taskRoleArn": role.ref("arn"),
         "containerDefinitions": [{
             "name": "app", "image": IMAGE, "essential": True,
             "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
             "environment": [{"name": "JOBS_QUEUE_URL", "value": jobs.ref("url")}],
             "logConfiguration": {"logDriver": "awslogs", "options": {
                 "awslogs-group": logs.ref("name"), "awslogs-region": REGION,
                 "awslogs-stream-prefix": "app"}}}]}))
    service = Resource("ecs.Service", name, _tagged(
        {"cluster": cluster.ref("arn"), "taskDefinition": task.ref("arn"), "desiredCount": 0,
         "launchType": "FARGATE", "networkConfiguration": {"awsvpcConfiguration": {
             "subnets": [subnet_a.ref("id"), subnet_b.ref("id")],
             "securityGroups": [group.ref("id")], "assignPublicIp": "DISABLED"}},
         "propagateTags": "SERVICE"}))
    alarm = Resource("cloudwatch.MetricAlarm", f"{name}-dlq", _tagged(
        {"alarmDescription": f"a job of {name} failed 5 times", "namespace": "AWS/SQS",
         "metricName": "ApproximateNumberOfMessagesVisible",
         "dimensions": [{"name": "QueueName", "value": dlq.ref("name")}],
         "statistic": "Maximum", "period": 300, "evaluationPeriods": 1, "threshold": 0,
         "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "notBreaching"}))
    return [dlq, jobs, logs, role, group, target, task, service, alarm]


def generate(size: int) -> list[Resource]:
    """Exactly `size` resources (at least the 5 shared ones)."""
    if size < BASE_RESOURCES:
        raise ValueError(f"a generated stack has at least {BASE_RESOURCES} resources")
    base = _base()
    resources = list(base)
    for i in range((size - BASE_RESOURCES) // PER_SERVICE):
        resources += _service(i, base)
    extra = size - len(resources)
    resources += [Resource("logs.LogGroup", f"/bench/extra-{j:03d}",
                           _tagged({"retentionInDays": 7})) for j in range(extra)]
    return resources


# --- the stack folder -------------------------------------------------------------------

def _as_stack(value: Any) -> Any:
    if isinstance(value, Ref):
        return f"${{ref:{value.kind}/{value.name}.{value.attr}}}"
    if isinstance(value, dict):
        return {k: _as_stack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_stack(v) for v in value]
    return value


def write_stack(folder: Path, resources: list[Resource], name: str) -> Path:
    """stack.yaml and one YAML file per AWS service (ecs.yaml, sqs.yaml...)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "stack.yaml").write_text(yaml.safe_dump(
        {"name": name, "region": REGION, "account": ACCOUNT}, sort_keys=False))
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in resources:
        by_file[r.kind.split(".")[0]].append(
            {"kind": r.kind, "name": r.name, "spec": _as_stack(r.spec)})
    for service, docs in by_file.items():
        (folder / f"{service}.yaml").write_text(
            yaml.safe_dump_all(docs, sort_keys=False, width=100))
    return folder


# --- the Terraform twin -----------------------------------------------------------------

TF_TYPES = {
    "ec2.Vpc": "aws_vpc", "ec2.Subnet": "aws_subnet", "ec2.SecurityGroup": "aws_security_group",
    "ecs.Cluster": "aws_ecs_cluster", "iam.Role": "aws_iam_role",
    "sqs.Queue": "aws_sqs_queue", "logs.LogGroup": "aws_cloudwatch_log_group",
    "elbv2.TargetGroup": "aws_lb_target_group", "ecs.TaskDefinition": "aws_ecs_task_definition",
    "ecs.Service": "aws_ecs_service", "cloudwatch.MetricAlarm": "aws_cloudwatch_metric_alarm",
}
# The moto services the provider reaches: each endpoint is pointed at the emulator.
TF_ENDPOINTS = ("ec2", "ecs", "iam", "sts", "sqs", "logs", "elbv2", "cloudwatch")


def tf_label(name: str) -> str:
    """A Terraform block label for a resource name (/ecs/bench-s001 -> ecs_bench_s001)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_")


def _tf(value: Any) -> Any:
    if isinstance(value, Ref):
        return f"${{{TF_TYPES[value.kind]}.{tf_label(value.name)}.{value.attr}}}"
    if isinstance(value, dict):
        return {k: _tf(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tf(v) for v in value]
    return value


def _moto_gap(argument: str) -> dict[str, Any]:
    """moto answers this argument otherwise than AWS (a service's AZ rebalancing left out,
    a redrive policy re-serialised), which leaves Terraform a diff no apply settles: it is
    ignored so the no-change plan is one (it is still read, the calls are the same)."""
    return {"ignore_changes": [argument]}


def _json(value: Any) -> str:
    """A JSON argument as `jsonencode` writes it (compact), refs interpolated."""
    return json.dumps(_tf(value), separators=(",", ":"))


def _tf_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A rule as the group's inline ingress/egress (in JSON every attribute is required)."""
    return {"ipv6_cidr_blocks": [], "prefix_list_ids": [], "security_groups": [], "self": False,
            "protocol": rule["protocol"], "from_port": rule.get("fromPort", 0),
            "to_port": rule.get("toPort", rule.get("fromPort", 0)),
            "cidr_blocks": [rule["cidrIpv4"]], "description": rule.get("description", "")}


def _vpc(r: Resource) -> dict[str, Any]:
    s = r.spec
    return {"cidr_block": s["cidrBlock"], "enable_dns_support": s["enableDnsSupport"],
            "enable_dns_hostnames": s["enableDnsHostnames"], "tags": {"Name": r.name, **TAGS}}


def _subnet(r: Resource) -> dict[str, Any]:
    s = r.spec
    return {"vpc_id": _tf(s["vpcId"]), "cidr_block": s["cidrBlock"],
            "availability_zone": s["availabilityZone"],
            "map_public_ip_on_launch": s["mapPublicIpOnLaunch"],
            "tags": {"Name": r.name, **TAGS}}


def _security_group(r: Resource) -> dict[str, Any]:
    s = r.spec
    return {"name": r.name, "description": s["description"], "vpc_id": _tf(s["vpcId"]),
            "ingress": [_tf_rule(x) for x in s["ingress"]],
            "egress": [_tf_rule(x) for x in s["egress"]], "tags": TAGS}


def _cluster(r: Resource) -> dict[str, Any]:
    return {"name": r.name, "tags": TAGS,
            "setting": [{"name": "containerInsights", "value": r.spec["containerInsights"]}]}


def _role(r: Resource) -> dict[str, Any]:
    s = r.spec
    block: dict[str, Any] = {
        "name": r.name, "description": s["description"],
        "assume_role_policy": _json(s["assumeRolePolicyDocument"]), "tags": TAGS}
    if s["managedPolicyArns"]:
        block["managed_policy_arns"] = s["managedPolicyArns"]
    if s["inlinePolicies"]:
        block["inline_policy"] = [{"name": k, "policy": _json(v)}
                                  for k, v in s["inlinePolicies"].items()]
    return block


def _queue(r: Resource) -> dict[str, Any]:
    s = r.spec
    block: dict[str, Any] = {"name": r.name, "tags": TAGS,
                             "message_retention_seconds": s["messageRetentionPeriod"]}
    if "visibilityTimeout" in s:
        block["visibility_timeout_seconds"] = s["visibilityTimeout"]
        block["receive_wait_time_seconds"] = s["receiveMessageWaitTimeSeconds"]
    if "redrivePolicy" in s:
        block["redrive_policy"] = _json(s["redrivePolicy"])
        block["lifecycle"] = _moto_gap("redrive_policy")
    return block


def _log_group(r: Resource) -> dict[str, Any]:
    return {"name": r.name, "retention_in_days": r.spec["retentionInDays"], "tags": TAGS}


def _target_group(r: Resource) -> dict[str, Any]:
    s, hc = r.spec, r.spec["healthCheck"]
    return {"name": r.name, "protocol": s["protocol"], "port": s["port"],
            "vpc_id": _tf(s["vpcId"]), "target_type": s["targetType"],
            "deregistration_delay": str(s["attributes"]["deregistration_delay.timeout_seconds"]),
            "health_check": [{
                "path": hc["path"], "protocol": hc["protocol"], "port": hc["port"],
                "matcher": hc["matcher"], "interval": hc["intervalSeconds"],
                "timeout": hc["timeoutSeconds"], "healthy_threshold": hc["healthyThresholdCount"],
                "unhealthy_threshold": hc["unhealthyThresholdCount"]}],
            "tags": TAGS}


def _task_definition(r: Resource) -> dict[str, Any]:
    s = r.spec
    return {"family": r.name, "cpu": s["cpu"], "memory": s["memory"],
            "network_mode": s["networkMode"],
            "requires_compatibilities": s["requiresCompatibilities"],
            "execution_role_arn": _tf(s["executionRoleArn"]),
            "task_role_arn": _tf(s["taskRoleArn"]),
            "container_definitions": _json(s["containerDefinitions"]), "tags": TAGS}


def _service_block(r: Resource) -> dict[str, Any]:
    s = r.spec
    network = s["networkConfiguration"]["awsvpcConfiguration"]
    return {"name": r.name, "cluster": _tf(s["cluster"]),
            "task_definition": _tf(s["taskDefinition"]), "desired_count": s["desiredCount"],
            "launch_type": s["launchType"], "propagate_tags": s["propagateTags"],
            "network_configuration": [{
                "subnets": _tf(network["subnets"]),
                "security_groups": _tf(network["securityGroups"]),
                "assign_public_ip": network["assignPublicIp"] == "ENABLED"}],
            "tags": TAGS, "lifecycle": _moto_gap("availability_zone_rebalancing")}


def _alarm(r: Resource) -> dict[str, Any]:
    s = r.spec
    return {"alarm_name": r.name, "alarm_description": s["alarmDescription"],
            "namespace": s["namespace"], "metric_name": s["metricName"],
            "dimensions": {d["name"]: _tf(d["value"]) for d in s["dimensions"]},
            "statistic": s["statistic"], "period": s["period"],
            "evaluation_periods": s["evaluationPeriods"], "threshold": s["threshold"],
            "comparison_operator": s["comparisonOperator"],
            "treat_missing_data": s["treatMissingData"], "tags": TAGS}


TF_WRITERS: dict[str, Callable[[Resource], dict[str, Any]]] = {
    "ec2.Vpc": _vpc, "ec2.Subnet": _subnet, "ec2.SecurityGroup": _security_group,
    "ecs.Cluster": _cluster, "iam.Role": _role, "sqs.Queue": _queue,
    "logs.LogGroup": _log_group, "elbv2.TargetGroup": _target_group,
    "ecs.TaskDefinition": _task_definition, "ecs.Service": _service_block,
    "cloudwatch.MetricAlarm": _alarm,
}


def terraform_config(resources: list[Resource], endpoint: str) -> dict[str, Any]:
    """main.tf.json: the aws provider pointed at `endpoint` (moto), one block a resource."""
    blocks: dict[str, dict[str, Any]] = defaultdict(dict)
    for r in resources:
        blocks[TF_TYPES[r.kind]][tf_label(r.name)] = TF_WRITERS[r.kind](r)
    provider = {
        "region": REGION, "access_key": "bench", "secret_key": "bench",
        "skip_credentials_validation": True, "skip_requesting_account_id": True,
        "skip_metadata_api_check": True, "s3_use_path_style": True,
        "endpoints": [{service: endpoint for service in TF_ENDPOINTS}],
    }
    return {
        "terraform": {"required_providers": {
            "aws": {"source": "hashicorp/aws", "version": "5.100.0"}}},
        "provider": {"aws": provider},
        "resource": blocks,
    }


def write_terraform(folder: Path, resources: list[Resource], endpoint: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "main.tf.json"
    path.write_text(json.dumps(terraform_config(resources, endpoint), indent=1))
    return path


def resource_blocks(config: dict[str, Any]) -> int:
    """How many resource blocks a Terraform JSON configuration declares."""
    return sum(len(labels) for labels in config.get("resource", {}).values())
