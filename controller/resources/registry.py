"""The explicit map from kind to driver: adding a kind is one module and one line here."""

from __future__ import annotations

from controller.resources.base import Driver
from controller.resources.ec2_securitygroup import SecurityGroupDriver
from controller.resources.ec2_subnet import SubnetDriver
from controller.resources.ec2_vpc import VpcDriver
from controller.resources.ecr_repository import RepositoryDriver
from controller.resources.ecs_cluster import ClusterDriver
from controller.resources.ecs_service import ServiceDriver
from controller.resources.ecs_taskdefinition import TaskDefinitionDriver
from controller.resources.iam_role import RoleDriver
from controller.resources.logs_loggroup import LogGroupDriver
from controller.resources.secretsmanager_secret import SecretDriver
from controller.resources.sqs_queue import QueueDriver

DRIVERS: dict[str, Driver] = {
    driver.kind: driver
    for driver in (
        VpcDriver(),
        SubnetDriver(),
        SecurityGroupDriver(),
        RoleDriver(),
        LogGroupDriver(),
        RepositoryDriver(),
        SecretDriver(),
        ClusterDriver(),
        TaskDefinitionDriver(),
        ServiceDriver(),
        QueueDriver(),
    )
}
