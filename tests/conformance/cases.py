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

from controller.resources.lambda_function import bundle
from tests.conftest import AwsEnv

CLUSTER = "iq-theory-cluster"
AAS = "application-auto-scaling"  # botocore's service id
_AAS_API = {"ServiceNamespace": "ecs", "ResourceId": f"service/{CLUSTER}/iq-theory-api",
            "ScalableDimension": "ecs:service:DesiredCount"}


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
    # Why a kind with immutable fields has no replace case (no other valid value here).
    no_replace: str = ""
    # Why a second resource of the kind cannot live beside the sample here (the copy's
    # lifecycle is then not run for it).
    no_copy: str = ""
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


ASSETS = "iq-theory-assets-prod"


def _topic_arn(aws: AwsEnv) -> str:
    return f"arn:aws:sns:us-east-1:{aws.account}:iq-theory-alarms"


def _filter_by_hand(aws: AwsEnv) -> None:
    sns = aws.client("sns")
    entry = sns.list_subscriptions_by_topic(TopicArn=_topic_arn(aws))["Subscriptions"][0]
    sns.set_subscription_attributes(SubscriptionArn=entry["SubscriptionArn"],
                                    AttributeName="FilterPolicy",
                                    AttributeValue='{"severity": ["page"]}')


def _threshold_by_hand(aws: AwsEnv) -> None:
    cloudwatch = aws.client("cloudwatch")
    alarm = cloudwatch.describe_alarms(AlarmNames=["iq-theory-db-cpu"])["MetricAlarms"][0]
    keep = ("AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
            "MetricName", "Namespace", "Statistic", "Dimensions", "Period",
            "EvaluationPeriods", "ComparisonOperator", "TreatMissingData")
    cloudwatch.put_metric_alarm(**{k: alarm[k] for k in keep if k in alarm}, Threshold=95.0)


CDN = "cloudfront.Distribution/iq-theory-cdn"


def _cdn_by_hand(aws: AwsEnv, change: Callable[[dict[str, Any]], Any]) -> None:
    """Another tool edits the distribution's config, sent back whole with its ETag."""
    cloudfront = aws.client("cloudfront")
    for item in cloudfront.list_distributions()["DistributionList"].get("Items") or []:
        tags = cloudfront.list_tags_for_resource(Resource=item["ARN"])["Tags"]
        if {"Key": "gitops:id", "Value": "cloudfront.Distribution/iq-theory-cdn"} in \
                (tags.get("Items") or []):
            answer = cloudfront.get_distribution_config(Id=item["Id"])
            change(answer["DistributionConfig"])
            cloudfront.update_distribution(Id=item["Id"], IfMatch=answer["ETag"],
                                           DistributionConfig=answer["DistributionConfig"])


def _oac_by_hand(aws: AwsEnv, name: str, **config: Any) -> None:
    cloudfront = aws.client("cloudfront")
    oac_id = next(i["Id"] for i in cloudfront.list_origin_access_controls()[
        "OriginAccessControlList"]["Items"] if i["Name"] == name)
    answer = cloudfront.get_origin_access_control(Id=oac_id)
    cloudfront.update_origin_access_control(Id=oac_id, IfMatch=answer["ETag"],
                                            OriginAccessControlConfig={
        **answer["OriginAccessControl"]["OriginAccessControlConfig"], **config})


def _mapping_uuid(aws: AwsEnv) -> str:
    """The jobs queue's mapping (moto's listing ignores FunctionName: filtered here)."""
    mappings = aws.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    return str(next(m["UUID"] for m in mappings
                    if m["EventSourceArn"].endswith(":iq-theory-jobs")))


def _vpc_id(aws: AwsEnv) -> str:
    vpcs = aws.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:gitops:id", "Values": ["ec2.Vpc/iq-theory-vpc"]}])["Vpcs"]
    return str(vpcs[0]["VpcId"])


def _tagged(aws: AwsEnv, kind: str, key: str, rid: str) -> str:
    fn = {"subnet": "describe_subnets", "sg": "describe_security_groups"}[kind]
    items = getattr(aws.client("ec2"), fn)(
        Filters=[{"Name": "tag:gitops:id", "Values": [rid]}])
    return str(items["Subnets" if kind == "subnet" else "SecurityGroups"][0][key])


def _ec2_id(aws: AwsEnv, describe: str, result: str, key: str, rid: str,
            filter_param: str = "Filters") -> str:
    """The id of the live EC2 resource tagged `rid` (not one still listed as deleted)."""
    items = getattr(aws.client("ec2"), describe)(
        **{filter_param: [{"Name": "tag:gitops:id", "Values": [rid]}]})[result]
    # The tags are checked here too: moto 5.2.5 ignores a tag filter of NAT gateways, and
    # which one it lists first depends on which an apply made first.
    return str(next(i[key] for i in items if i.get("State") not in ("deleting", "deleted")
                    and {"Key": "gitops:id", "Value": rid} in i.get("Tags", [])))


def _certificate_arn(aws: AwsEnv, rid: str) -> str:
    found = aws.client("resourcegroupstaggingapi").get_resources(
        TagFilters=[{"Key": "gitops:id", "Values": [rid]}],
        ResourceTypeFilters=["acm:certificate"])["ResourceTagMappingList"]
    return str(found[0]["ResourceARN"])


def _endpoint_id(aws: AwsEnv, rid: str) -> str:
    found = aws.client("ec2").describe_vpc_endpoints(
        Filters=[{"Name": "tag:gitops:id", "Values": [rid]}])["VpcEndpoints"]
    return str(next(e for e in found if e["State"] != "deleted")["VpcEndpointId"])


def _lb_arn(aws: AwsEnv, name: str) -> str:
    return str(aws.client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"][0]
               ["LoadBalancerArn"])


def _tg_arn(aws: AwsEnv, name: str) -> str:
    return str(aws.client("elbv2").describe_target_groups(Names=[name])["TargetGroups"][0]
               ["TargetGroupArn"])


def _elb_tagged(aws: AwsEnv, arns: list[str], rid: str) -> str:
    tags = aws.client("elbv2").describe_tags(ResourceArns=arns)["TagDescriptions"]
    return str(next(t["ResourceArn"] for t in tags
                    if {"Key": "gitops:id", "Value": rid} in t["Tags"]))


def _target_arn(aws: AwsEnv, service: str) -> str:
    return str(aws.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[f"service/{CLUSTER}/{service}"])
        ["ScalableTargets"][0]["ScalableTargetARN"])


def _listener_arn(aws: AwsEnv, name: str) -> str:
    listeners = aws.client("elbv2").describe_listeners(
        LoadBalancerArn=_lb_arn(aws, "iq-theory-alb"))["Listeners"]
    return _elb_tagged(aws, [x["ListenerArn"] for x in listeners], f"elbv2.Listener/{name}")


def _rule_arn(aws: AwsEnv, name: str) -> str:
    rules = aws.client("elbv2").describe_rules(
        ListenerArn=_listener_arn(aws, "iq-theory-https"))["Rules"]
    return _elb_tagged(aws, [r["RuleArn"] for r in rules if not r["IsDefault"]],
                       f"elbv2.ListenerRule/{name}")


def _namespace_id(aws: AwsEnv, name: str) -> str:
    return str(next(n["Id"] for n in aws.client("servicediscovery").list_namespaces()
                    ["Namespaces"] if n["Name"] == name))


def _discovery_id(aws: AwsEnv, name: str) -> str:
    return str(next(s["Id"] for s in aws.client("servicediscovery").list_services()["Services"]
                    if s["Name"] == name))


ELB = "elastic-load-balancing-v2"
_IGW = ("describe_internet_gateways", "InternetGateways", "InternetGatewayId")


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
        "ec2.InternetGateway", "iq-theory-igw", [
            Drift("igw detached", "the attachment removed by hand reads as no VPC",
                  lambda a: a.client("ec2").detach_internet_gateway(
                      InternetGatewayId=_ec2_id(a, *_IGW, "ec2.InternetGateway/iq-theory-igw"),
                      VpcId=_vpc_id(a)),
                  {"ec2.InternetGateway/iq-theory-igw": "spec.vpcId"})],
        # AWS gives a VPC one gateway (Resource.AlreadyAssociated); moto attaches a second.
        # No immutable field: vpcId moves in place.
        copy="iq-theory-igw-2", batch=("ec2", "DescribeInternetGateways")),
    KindCases(
        "ec2.ElasticIp", "iq-theory-nat-a", [
            Drift("eip tag", "a tag changed by hand",
                  lambda a: a.client("ec2").create_tags(
                      Resources=[_ec2_id(a, "describe_addresses", "Addresses", "AllocationId",
                                         "ec2.ElasticIp/iq-theory-nat-a")],
                      Tags=[{"Key": "app", "Value": "x"}]),
                  {"ec2.ElasticIp/iq-theory-nat-a": "spec.tags.app"})],
        copy="iq-theory-spare", no_replace="domain has one valid value (vpc)",
        batch=("ec2", "DescribeAddresses")),
    KindCases(
        "ec2.NatGateway", "iq-theory-nat-a", [
            Drift("nat tag", "tags are the only mutable field",
                  lambda a: a.client("ec2").create_tags(
                      Resources=[_ec2_id(a, "describe_nat_gateways", "NatGateways",
                                         "NatGatewayId", "ec2.NatGateway/iq-theory-nat-a",
                                         "Filter")],
                      Tags=[{"Key": "app", "Value": "x"}]),
                  {"ec2.NatGateway/iq-theory-nat-a": "spec.tags.app"})],
        # an Elastic IP serves one gateway: the copy is private (no address)
        copy="iq-theory-nat-c",
        copy_edits={"connectivityType": "private", "allocationId": None},
        replace={"subnetId": "${ref:ec2.Subnet/iq-theory-public-b.id}"},
        batch=("ec2", "DescribeNatGateways")),
    KindCases(
        "ec2.RouteTable", "iq-theory-private-a", [
            Drift("route deleted", "routes are a set: a declared route removed by hand",
                  lambda a: a.client("ec2").delete_route(
                      RouteTableId=_ec2_id(a, "describe_route_tables", "RouteTables",
                                           "RouteTableId", "ec2.RouteTable/iq-theory-private-a"),
                      DestinationCidrBlock="0.0.0.0/0"),
                  {"ec2.RouteTable/iq-theory-private-a": "spec.routes"})],
        # no subnets: the copy would otherwise take private-a's association back and forth
        copy="iq-theory-private-c", copy_edits={"subnetIds": []},
        no_replace="vpcId is its only immutable field, and the stack has one VPC",
        batch=("ec2", "DescribeRouteTables")),
    KindCases(
        "acm.Certificate", "iq-theory-app", [
            Drift("certificate tag", "a tag changed by hand (all else is fixed at request)",
                  lambda a: a.client("acm").add_tags_to_certificate(
                      CertificateArn=_certificate_arn(a, "acm.Certificate/iq-theory-app"),
                      Tags=[{"Key": "app", "Value": "someone"}]),
                  {"acm.Certificate/iq-theory-app": "spec.tags.app"})],
        copy="iq-theory-api-cert", copy_edits={"domainName": "api.iq-theory.example"},
        replace={"subjectAlternativeNames": ["api.iq-theory.example",
                                             "www.api.iq-theory.example"]},
        # no batch describe in ACM: one DescribeCertificate per certificate, found through
        # the shared tagging index; once one failed, the inventory's is not asked
        batch=("acm", "DescribeCertificate")),
    KindCases(
        "ec2.VpcEndpoint", "iq-theory-logs", [
            Drift("endpoint subnets", "a set lost a member by hand",
                  lambda a: a.client("ec2").modify_vpc_endpoint(
                      VpcEndpointId=_endpoint_id(a, "ec2.VpcEndpoint/iq-theory-logs"),
                      RemoveSubnetIds=[_tagged(a, "subnet", "SubnetId",
                                               "ec2.Subnet/iq-theory-private-b")]),
                  {"ec2.VpcEndpoint/iq-theory-logs": "spec.subnetIds"})],
        # another service: two endpoints of one service with private DNS clash in AWS
        copy="iq-theory-monitoring",
        copy_edits={"serviceName": "com.amazonaws.us-east-1.monitoring"},
        replace={"serviceName": "com.amazonaws.us-east-1.ssm"},
        batch=("ec2", "DescribeVpcEndpoints")),
    KindCases(
        "elbv2.LoadBalancer", "iq-theory-alb", [
            Drift("alb idle timeout", "a declared attribute, compared as AWS's text",
                  lambda a: a.client("elbv2").modify_load_balancer_attributes(
                      LoadBalancerArn=_lb_arn(a, "iq-theory-alb"),
                      Attributes=[{"Key": "idle_timeout.timeout_seconds", "Value": "300"}]),
                  {"elbv2.LoadBalancer/iq-theory-alb":
                   "spec.attributes.idle_timeout.timeout_seconds"})],
        # prod turns deletion protection on: the copy must be deletable (replace, prune)
        copy="iq-theory-alb-2",
        copy_edits={"attributes": {"deletion_protection.enabled": False,
                                   "idle_timeout.timeout_seconds": 60}},
        replace={"scheme": "internal"}, batch=(ELB, "DescribeLoadBalancers")),
    KindCases(
        "elbv2.TargetGroup", "iq-theory-api", [
            Drift("target group health path", "a declared health-check key",
                  lambda a: a.client("elbv2").modify_target_group(
                      TargetGroupArn=_tg_arn(a, "iq-theory-api"), HealthCheckPath="/"),
                  {"elbv2.TargetGroup/iq-theory-api": "spec.healthCheck.path"})],
        copy="iq-theory-worker", replace={"port": 8081}, batch=(ELB, "DescribeTargetGroups")),
    KindCases(
        "elbv2.Listener", "iq-theory-https", [
            Drift("listener tls policy", "an older TLS policy set by hand",
                  lambda a: a.client("elbv2").modify_listener(
                      ListenerArn=_listener_arn(a, "iq-theory-https"),
                      SslPolicy="ELBSecurityPolicy-2016-08"),
                  {"elbv2.Listener/iq-theory-https": "spec.sslPolicy"})],
        copy="iq-theory-https-alt", copy_edits={"port": 8443},
        no_replace="loadBalancerArn is its only immutable field: the stack has one ALB",
        batch=(ELB, "DescribeListeners")),
    KindCases(
        "elbv2.ListenerRule", "iq-theory-api", [
            Drift("rule priority", "SetRulePriorities by hand (AWS answers it as text)",
                  lambda a: a.client("elbv2").set_rule_priorities(RulePriorities=[
                      {"RuleArn": _rule_arn(a, "iq-theory-api"), "Priority": 99}]),
                  {"elbv2.ListenerRule/iq-theory-api": "spec.priority"})],
        copy="iq-theory-api-v2",
        copy_edits={"priority": 20, "conditions": [{"field": "path-pattern",
                                                    "values": ["/v2/*"]}]},
        replace={"listenerArn": "${ref:elbv2.Listener/iq-theory-http.arn}"},
        batch=(ELB, "DescribeRules")),
    KindCases(
        "servicediscovery.PrivateDnsNamespace", "iq-theory.local", [
            Drift("namespace description", "a namespace's description changed by hand",
                  lambda a: a.client("servicediscovery").update_private_dns_namespace(
                      Id=_namespace_id(a, "iq-theory.local"),
                      Namespace={"Description": "edited"}),
                  {"servicediscovery.PrivateDnsNamespace/iq-theory.local":
                   "spec.description"})],
        copy="iq-theory-2.local",
        no_copy="moto allows one private namespace per VPC (AWS allows several), and the "
                "stack has one VPC",
        no_replace="vpc is its only immutable field: the stack has one VPC",
        batch=("servicediscovery", "ListNamespaces")),
    KindCases(
        "servicediscovery.Service", "api", [
            Drift("discovery ttl", "a record's TTL changed by hand (records sent whole)",
                  lambda a: a.client("servicediscovery").update_service(
                      Id=_discovery_id(a, "api"), Service={
                          "Description": "the api's tasks (api.iq-theory.local)",
                          "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}),
                  {"servicediscovery.Service/api": "spec.dnsConfig.dnsRecords[0].ttl"})],
        copy="worker", replace={"healthCheckCustomConfig": {"failureThreshold": 2}},
        batch=("servicediscovery", "ListServices")),
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
        "rds.DBSubnetGroup", "iq-theory-db", [
            Drift("db subnet group tag", "tags read by ARN (moto's ModifyDBSubnetGroup deletes "
                  "the group: subnet drift is the driver's own test)",
                  lambda a: a.client("rds").add_tags_to_resource(
                      ResourceName=f"arn:aws:rds:{a.region}:{a.account}:subgrp:iq-theory-db",
                      Tags=[{"Key": "env", "Value": "by-hand"}]),
                  {"rds.DBSubnetGroup/iq-theory-db": "spec.tags.env"})],
        copy="iq-theory-db-2", batch=("rds", "DescribeDBSubnetGroups")),
    KindCases(
        "rds.DBParameterGroup", "iq-theory-db", [
            Drift("force_ssl off", "a declared parameter set by hand",
                  lambda a: a.client("rds").modify_db_parameter_group(
                      DBParameterGroupName="iq-theory-db", Parameters=[
                          {"ParameterName": "rds.force_ssl", "ParameterValue": "0",
                           "ApplyMethod": "immediate"}]),
                  {"rds.DBParameterGroup/iq-theory-db": "spec.parameters[0].parameterValue"})],
        copy="iq-theory-db-2", replace={"dbParameterGroupFamily": "postgres16"},
        batch=("rds", "DescribeDBParameterGroups")),
    KindCases(
        "rds.DBInstance", "iq-theory-db", [
            Drift("db backup retention", "a number changed by hand (ModifyDBInstance)",
                  lambda a: a.client("rds").modify_db_instance(
                      DBInstanceIdentifier="iq-theory-db", BackupRetentionPeriod=1,
                      ApplyImmediately=True),
                  {"rds.DBInstance/iq-theory-db": "spec.backupRetentionPeriod"})],
        # prod turns deletion protection on: the copy must be deletable; it skips its final
        # snapshot so repeated lifecycles never collide on a snapshot name
        copy="iq-theory-db-2",
        copy_edits={"deletionProtection": False, "skipFinalSnapshot": True,
                    "finalDBSnapshotIdentifier": None},
        replace={"dbName": "iqtheory2"},  # refused: the kind holds data
        batch=("rds", "DescribeDBInstances")),
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
            Drift("service grace period", "a scalar of the service",
                  lambda a: a.client("ecs").update_service(
                      cluster=CLUSTER, service="iq-theory-api",
                      healthCheckGracePeriodSeconds=5),
                  {"ecs.Service/iq-theory-api": "spec.healthCheckGracePeriodSeconds"}),
            Drift("count set by the autoscaler", "an autoscaled service's desiredCount "
                  "belongs to its ScalableTarget: no change, however far from git",
                  lambda a: a.client("ecs").update_service(
                      cluster=CLUSTER, service="iq-theory-api", desiredCount=9), {}),
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
        "applicationautoscaling.ScalableTarget", "iq-theory-api", [
            Drift("scaling range", "the range changed by hand (RegisterScalableTarget again)",
                  lambda a: a.client("application-autoscaling").register_scalable_target(
                      **_AAS_API, MaxCapacity=20),
                  {"applicationautoscaling.ScalableTarget/iq-theory-api": "spec.maxCapacity"}),
            Drift("target tag added by hand", "tags are a user map: an extra tag is drift",
                  lambda a: a.client("application-autoscaling").tag_resource(
                      ResourceARN=_target_arn(a, "iq-theory-frontend"),
                      Tags={"owner": "someone"}),
                  {"applicationautoscaling.ScalableTarget/iq-theory-frontend":
                   "spec.tags.owner"})],
        copy="iq-theory-worker",
        no_copy="a target is one per service and dimension (ECS has one, DesiredCount): "
                "every service of the stack already has its target",
        no_replace="resourceId names the service, one target each; namespace and dimension "
                   "have one value for ECS",
        batch=(AAS, "DescribeScalableTargets")),
    KindCases(
        "applicationautoscaling.ScalingPolicy", "iq-theory-api-cpu", [
            Drift("policy target value", "PutScalingPolicy by hand with another target",
                  lambda a: a.client("application-autoscaling").put_scaling_policy(
                      PolicyName="iq-theory-api-cpu", **_AAS_API,
                      PolicyType="TargetTrackingScaling",
                      TargetTrackingScalingPolicyConfiguration={
                          "TargetValue": 90.0, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
                          "PredefinedMetricSpecification": {
                              "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}),
                  {"applicationautoscaling.ScalingPolicy/iq-theory-api-cpu":
                   "spec.targetTrackingScalingPolicyConfiguration.targetValue"})],
        copy="iq-theory-api-cpu-2",
        no_copy="AWS allows one target-tracking policy per metric on a target, and the "
                "stack's targets already track both metrics the spec offers",
        no_replace="its target is fixed by the service, one each (see ScalableTarget)",
        batch=(AAS, "DescribeScalingPolicies")),
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
    KindCases(
        "s3.Bucket", "iq-theory-assets", [
            Drift("bucket versioning", "versioning suspended by hand",
                  lambda a: a.client("s3").put_bucket_versioning(
                      Bucket=ASSETS, VersioningConfiguration={"Status": "Suspended"}),
                  {"s3.Bucket/iq-theory-assets": "spec.versioningConfiguration.status"}),
            Drift("bucket public access", "one public-access flag turned off",
                  lambda a: a.client("s3").put_public_access_block(
                      Bucket=ASSETS, PublicAccessBlockConfiguration={
                          "BlockPublicAcls": True, "IgnorePublicAcls": True,
                          "BlockPublicPolicy": False, "RestrictPublicBuckets": True}),
                  {"s3.Bucket/iq-theory-assets":
                   "spec.publicAccessBlockConfiguration.blockPublicPolicy"})],
        # AWS refuses a policy naming another bucket's ARN: the copy has none
        copy="iq-theory-assets-2", copy_edits={"bucket": "iq-theory-assets-2-prod",
                                               "policy": None},
        replace={"bucket": "iq-theory-assets-3-prod"},  # refused: the kind holds data
        batch=("s3", "ListBuckets")),
    KindCases(
        "sns.Topic", "iq-theory-alarms", [
            Drift("topic display name", "an SNS attribute set by hand",
                  lambda a: a.client("sns").set_topic_attributes(
                      TopicArn=_topic_arn(a), AttributeName="DisplayName",
                      AttributeValue="someone else"),
                  {"sns.Topic/iq-theory-alarms": "spec.displayName"})],
        copy="iq-theory-alarms-2",
        no_replace="a FIFO topic's name ends in .fifo: another name, never the same topic",
        batch=("sns", "ListTopics")),
    KindCases(
        "sns.Subscription", "iq-theory-alarms-email", [
            Drift("subscription filter", "a filter policy set by hand drops alarms",
                  _filter_by_hand,
                  {"sns.Subscription/iq-theory-alarms-email": "spec.filterPolicy"})],
        copy="iq-theory-alarms-email-2", copy_edits={"endpoint": "oncall@iq-theory.example"},
        replace={"endpoint": "pager@iq-theory.example"},
        batch=("sns", "ListSubscriptionsByTopic")),
    KindCases(
        "cloudwatch.MetricAlarm", "iq-theory-db-cpu", [
            Drift("alarm threshold", "the threshold raised by hand (PutMetricAlarm)",
                  _threshold_by_hand,
                  {"cloudwatch.MetricAlarm/iq-theory-db-cpu": "spec.threshold"})],
        copy="iq-theory-db-cpu-2",
        batch=("cloudwatch", "DescribeAlarms")),
    KindCases(
        "cloudfront.OriginAccessControl", "iq-theory-assets", [
            Drift("oac signing off", "the whole config sent back with its ETag",
                  lambda a: _oac_by_hand(a, "iq-theory-assets", SigningBehavior="never"),
                  {"cloudfront.OriginAccessControl/iq-theory-assets": "spec.signingBehavior"})],
        copy="iq-theory-assets-2", batch=("cloudfront", "ListOriginAccessControls")),
    KindCases(
        "cloudfront.Distribution", "iq-theory-cdn", [
            Drift("cdn api cached", "a behaviour matched by its path pattern",
                  lambda a: _cdn_by_hand(a, lambda c: next(
                      b for b in c["CacheBehaviors"]["Items"] if b["PathPattern"] == "/api/*"
                  ).update(CachePolicyId="658327ea-f89d-4fab-a63d-7e88639e58f6")),
                  {CDN: "spec.cacheBehaviors[1].cachePolicyId"}),
            Drift("cdn assets unsigned", "the origin access control detached",
                  lambda a: _cdn_by_hand(a, lambda c: next(
                      o for o in c["Origins"]["Items"] if o["Id"] == "assets"
                  ).update(OriginAccessControlId="")),
                  {CDN: "spec.origins[1].originAccessControlId"})],
        # an alias belongs to one distribution in all of CloudFront
        copy="iq-theory-cdn-2",
        copy_edits={"aliases": None, "viewerCertificate": None, "comment": "a second CDN"},
        batch=("cloudfront", "ListDistributions")),
    KindCases(
        "elasticache.CacheSubnetGroup", "iq-theory-cache", [
            Drift("cache subnet group subnets", "a subnet taken out by hand",
                  lambda a: a.client("elasticache").modify_cache_subnet_group(
                      CacheSubnetGroupName="iq-theory-cache", SubnetIds=[_tagged(
                          a, "subnet", "SubnetId", "ec2.Subnet/iq-theory-private-a")]),
                  {"elasticache.CacheSubnetGroup/iq-theory-cache": "spec.subnetIds"})],
        copy="iq-theory-cache-2", batch=("elasticache", "DescribeCacheSubnetGroups")),
    KindCases(
        "elasticache.ReplicationGroup", "iq-theory-cache", [
            Drift("cache snapshot retention", "a number changed by hand",
                  lambda a: a.client("elasticache").modify_replication_group(
                      ReplicationGroupId="iq-theory-cache", SnapshotRetentionLimit=1,
                      ApplyImmediately=True),
                  {"elasticache.ReplicationGroup/iq-theory-cache":
                   "spec.snapshotRetentionLimit"})],
        # the copy must not write a new token into the sample's secret
        copy="iq-theory-cache-2", copy_edits={"authTokenSecret": None,
                                              "transitEncryptionEnabled": False},
        replace={"port": 6380},  # refused: the kind holds data
        batch=("elasticache", "DescribeReplicationGroups")),
    KindCases(
        "lambda.Function", "iq-theory-jobs-worker", [
            Drift("function timeout", "a configuration scalar",
                  lambda a: a.client("lambda").update_function_configuration(
                      FunctionName="iq-theory-jobs-worker", Timeout=5),
                  {"lambda.Function/iq-theory-jobs-worker": "spec.timeout"}),
            Drift("code uploaded by hand", "other bytes: Lambda's CodeSha256 moves",
                  lambda a: a.client("lambda").update_function_code(
                      FunctionName="iq-theory-jobs-worker",
                      ZipFile=bundle({"handler.py": b"def handler(e, c): return {}\n"})),
                  {"lambda.Function/iq-theory-jobs-worker": "spec.code.sha256"})],
        copy="iq-theory-jobs-worker-2",
        batch=("lambda", "ListFunctions")),
    KindCases(
        "lambda.EventSourceMapping", "iq-theory-jobs-worker", [
            Drift("mapping batch size", "a number changed by hand",
                  lambda a: a.client("lambda").update_event_source_mapping(
                      UUID=_mapping_uuid(a), BatchSize=5),
                  {"lambda.EventSourceMapping/iq-theory-jobs-worker": "spec.batchSize"})],
        copy="iq-theory-jobs-dlq-worker",
        copy_edits={"eventSourceArn": "${ref:sqs.Queue/iq-theory-jobs-dlq.arn}"},
        replace={"eventSourceArn": "${ref:sqs.Queue/iq-theory-jobs.arn}"},
        batch=("lambda", "ListEventSourceMappings")),
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
     lambda a: a.client("ecr").delete_repository(repositoryName="iq-theory-frontend",
                                                 force=True)),
]
