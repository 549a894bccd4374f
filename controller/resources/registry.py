"""The explicit map from kind to driver: adding a kind is one module and one line here.

A `Registry` is what the loader validates against and the engine plans with;
tests give them one of their own (a fake driver, a subset of kinds).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from controller.resources.acm_certificate import CertificateDriver
from controller.resources.applicationautoscaling_scalabletarget import ScalableTargetDriver
from controller.resources.applicationautoscaling_scalingpolicy import ScalingPolicyDriver
from controller.resources.base import Driver
from controller.resources.cloudfront_distribution import DistributionDriver
from controller.resources.cloudfront_originaccesscontrol import OriginAccessControlDriver
from controller.resources.cloudwatch_metricalarm import MetricAlarmDriver
from controller.resources.ec2_elasticip import ElasticIpDriver
from controller.resources.ec2_internetgateway import InternetGatewayDriver
from controller.resources.ec2_natgateway import NatGatewayDriver
from controller.resources.ec2_routetable import RouteTableDriver
from controller.resources.ec2_securitygroup import SecurityGroupDriver
from controller.resources.ec2_subnet import SubnetDriver
from controller.resources.ec2_vpc import VpcDriver
from controller.resources.ec2_vpcendpoint import VpcEndpointDriver
from controller.resources.ecr_repository import RepositoryDriver
from controller.resources.ecs_cluster import ClusterDriver
from controller.resources.ecs_service import ServiceDriver
from controller.resources.ecs_taskdefinition import TaskDefinitionDriver
from controller.resources.elasticache_cachesubnetgroup import CacheSubnetGroupDriver
from controller.resources.elasticache_replicationgroup import ReplicationGroupDriver
from controller.resources.elbv2_listener import ListenerDriver
from controller.resources.elbv2_listenerrule import ListenerRuleDriver
from controller.resources.elbv2_loadbalancer import LoadBalancerDriver
from controller.resources.elbv2_targetgroup import TargetGroupDriver
from controller.resources.iam_role import RoleDriver
from controller.resources.lambda_eventsourcemapping import EventSourceMappingDriver
from controller.resources.lambda_function import FunctionDriver
from controller.resources.logs_loggroup import LogGroupDriver
from controller.resources.rds_dbinstance import DBInstanceDriver
from controller.resources.rds_dbparametergroup import DBParameterGroupDriver
from controller.resources.rds_dbsubnetgroup import DBSubnetGroupDriver
from controller.resources.s3_bucket import BucketDriver
from controller.resources.secretsmanager_secret import SecretDriver
from controller.resources.servicediscovery_privatednsnamespace import PrivateDnsNamespaceDriver
from controller.resources.servicediscovery_service import ServiceDriver as DiscoveryServiceDriver
from controller.resources.sns_subscription import SubscriptionDriver
from controller.resources.sns_topic import TopicDriver
from controller.resources.sqs_queue import QueueDriver


class Registry(Mapping[str, Driver]):
    """Drivers by kind."""

    def __init__(self, drivers: Iterable[Driver]) -> None:
        self._drivers = {d.kind: d for d in drivers}

    def __getitem__(self, kind: str) -> Driver:
        return self._drivers[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._drivers)

    def __len__(self) -> int:
        return len(self._drivers)


REGISTRY = Registry([
    VpcDriver(),
    SubnetDriver(),
    SecurityGroupDriver(),
    InternetGatewayDriver(),
    ElasticIpDriver(),
    NatGatewayDriver(),
    RouteTableDriver(),
    VpcEndpointDriver(),
    CertificateDriver(),
    LoadBalancerDriver(),
    TargetGroupDriver(),
    ListenerDriver(),
    ListenerRuleDriver(),
    PrivateDnsNamespaceDriver(),
    DiscoveryServiceDriver(),
    RoleDriver(),
    LogGroupDriver(),
    RepositoryDriver(),
    SecretDriver(),
    DBSubnetGroupDriver(),
    DBParameterGroupDriver(),
    DBInstanceDriver(),
    ClusterDriver(),
    TaskDefinitionDriver(),
    ServiceDriver(),
    ScalableTargetDriver(),
    ScalingPolicyDriver(),
    QueueDriver(),
    BucketDriver(),
    OriginAccessControlDriver(),
    DistributionDriver(),
    CacheSubnetGroupDriver(),
    ReplicationGroupDriver(),
    FunctionDriver(),
    EventSourceMappingDriver(),
    TopicDriver(),
    SubscriptionDriver(),
    MetricAlarmDriver(),
])
