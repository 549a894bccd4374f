"""The explicit map from kind to driver: adding a kind is one module and one line here.

A `Registry` is what the loader validates against and the engine plans with;
tests give them one of their own (a fake driver, a subset of kinds).

The stack's registry names each driver by its module and class, and imports it
when its kind is first asked for: `gitops validate` then imports the spec
models of the kinds its stack declares, and `gitops --help` none of them.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Iterator, Mapping

from controller.resources.base import Driver

# kind -> (its module in controller.resources, its driver class), in the registry's order
DRIVERS: dict[str, tuple[str, str]] = {
    "ec2.Vpc": ("ec2_vpc", "VpcDriver"),
    "ec2.Subnet": ("ec2_subnet", "SubnetDriver"),
    "ec2.SecurityGroup": ("ec2_securitygroup", "SecurityGroupDriver"),
    "ec2.InternetGateway": ("ec2_internetgateway", "InternetGatewayDriver"),
    "ec2.ElasticIp": ("ec2_elasticip", "ElasticIpDriver"),
    "ec2.NatGateway": ("ec2_natgateway", "NatGatewayDriver"),
    "ec2.RouteTable": ("ec2_routetable", "RouteTableDriver"),
    "ec2.VpcEndpoint": ("ec2_vpcendpoint", "VpcEndpointDriver"),
    "acm.Certificate": ("acm_certificate", "CertificateDriver"),
    "elbv2.LoadBalancer": ("elbv2_loadbalancer", "LoadBalancerDriver"),
    "elbv2.TargetGroup": ("elbv2_targetgroup", "TargetGroupDriver"),
    "elbv2.Listener": ("elbv2_listener", "ListenerDriver"),
    "elbv2.ListenerRule": ("elbv2_listenerrule", "ListenerRuleDriver"),
    "servicediscovery.PrivateDnsNamespace":
        ("servicediscovery_privatednsnamespace", "PrivateDnsNamespaceDriver"),
    "servicediscovery.Service": ("servicediscovery_service", "ServiceDriver"),
    "iam.Role": ("iam_role", "RoleDriver"),
    "logs.LogGroup": ("logs_loggroup", "LogGroupDriver"),
    "ecr.Repository": ("ecr_repository", "RepositoryDriver"),
    "secretsmanager.Secret": ("secretsmanager_secret", "SecretDriver"),
    "rds.DBSubnetGroup": ("rds_dbsubnetgroup", "DBSubnetGroupDriver"),
    "rds.DBParameterGroup": ("rds_dbparametergroup", "DBParameterGroupDriver"),
    "rds.DBInstance": ("rds_dbinstance", "DBInstanceDriver"),
    "ecs.Cluster": ("ecs_cluster", "ClusterDriver"),
    "ecs.TaskDefinition": ("ecs_taskdefinition", "TaskDefinitionDriver"),
    "ecs.Service": ("ecs_service", "ServiceDriver"),
    "applicationautoscaling.ScalableTarget":
        ("applicationautoscaling_scalabletarget", "ScalableTargetDriver"),
    "applicationautoscaling.ScalingPolicy":
        ("applicationautoscaling_scalingpolicy", "ScalingPolicyDriver"),
    "sqs.Queue": ("sqs_queue", "QueueDriver"),
    "s3.Bucket": ("s3_bucket", "BucketDriver"),
    "cloudfront.OriginAccessControl":
        ("cloudfront_originaccesscontrol", "OriginAccessControlDriver"),
    "cloudfront.Distribution": ("cloudfront_distribution", "DistributionDriver"),
    "elasticache.CacheSubnetGroup": ("elasticache_cachesubnetgroup", "CacheSubnetGroupDriver"),
    "elasticache.ReplicationGroup": ("elasticache_replicationgroup", "ReplicationGroupDriver"),
    "lambda.Function": ("lambda_function", "FunctionDriver"),
    "lambda.EventSourceMapping": ("lambda_eventsourcemapping", "EventSourceMappingDriver"),
    "sns.Topic": ("sns_topic", "TopicDriver"),
    "sns.Subscription": ("sns_subscription", "SubscriptionDriver"),
    "cloudwatch.MetricAlarm": ("cloudwatch_metricalarm", "MetricAlarmDriver"),
}


class Registry(Mapping[str, Driver]):
    """Drivers by kind: given, or named (`where`: kind -> (module, class)) and imported
    at the first use of their kind."""

    def __init__(self, drivers: Iterable[Driver] = (),
                 where: Mapping[str, tuple[str, str]] | None = None) -> None:
        self._drivers: dict[str, Driver | tuple[str, str]] = dict(where or {})
        self._drivers.update((d.kind, d) for d in drivers)
        self._lock = threading.Lock()  # the engine asks for drivers from several threads

    def __getitem__(self, kind: str) -> Driver:
        with self._lock:
            driver = self._drivers[kind]
            if isinstance(driver, tuple):
                driver = self._drivers[kind] = _imported(kind, *driver)
            return driver

    def __iter__(self) -> Iterator[str]:
        return iter(self._drivers)

    def __len__(self) -> int:
        return len(self._drivers)


def _imported(kind: str, module: str, name: str) -> Driver:
    """The driver of `kind`, from its module; a TypeError if the table names another."""
    driver = getattr(importlib.import_module(f"controller.resources.{module}"), name)()
    if not isinstance(driver, Driver) or driver.kind != kind:
        raise TypeError(f"controller.resources.{module}.{name} is not the driver of {kind}")
    return driver


REGISTRY = Registry(where=DRIVERS)
