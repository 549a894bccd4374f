"""The explicit map from kind to driver: adding a kind is one module and one line here.

A `Registry` is what the loader validates against and the engine plans with;
tests give them one of their own (a fake driver, a subset of kinds).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

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
    RoleDriver(),
    LogGroupDriver(),
    RepositoryDriver(),
    SecretDriver(),
    ClusterDriver(),
    TaskDefinitionDriver(),
    ServiceDriver(),
    QueueDriver(),
])
