"""The controller's own ECS task definition and service (deploy/ecs/), read as JSON.

They are the input of `aws ecs register-task-definition --cli-input-json` and
`aws ecs create-service --cli-input-json`; the checks are the promises the
daemon's design relies on: one writer at a time, a graceful stop, secrets only
as `secrets`, logs to CloudWatch.
"""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session

from controller.aws.leasetable import TABLE_DEFINITION
from tests.deploy.contract import REQUIRED_SETTINGS, SETTINGS
from tests.stacks import REPO

ECS = REPO / "deploy" / "ecs"
# DESIGN.md: an environment name like these is a secret and belongs in `secrets`.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|KEY|DATABASE_URL")


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((ECS / name).read_text()))


def _container() -> dict[str, Any]:
    (container,) = _load("task-definition.json")["containerDefinitions"]
    return dict(container)


def test_inputs_match_the_ecs_api() -> None:
    """Every key is a parameter of the API call the file is the input of (botocore's model)."""
    model = botocore.session.get_session().get_service_model("ecs")
    for name, operation in (("task-definition.json", "RegisterTaskDefinition"),
                            ("service.json", "CreateService")):
        members = model.operation_model(operation).input_shape.members
        unknown = set(_load(name)) - set(members)
        assert not unknown, f"{name}: not parameters of {operation}: {sorted(unknown)}"
    container_shape = model.shape_for("ContainerDefinition").members
    assert not set(_container()) - set(container_shape)


def test_fargate_task_with_graceful_stop_and_port_8080() -> None:
    td = _load("task-definition.json")
    assert td["requiresCompatibilities"] == ["FARGATE"] and td["networkMode"] == "awsvpc"
    container = _container()
    # SIGTERM: the daemon finishes its write and exits within 25 s; ECS waits 30 s.
    assert container["stopTimeout"] == 30
    assert [p["containerPort"] for p in container["portMappings"]] == [8080]
    assert container["essential"] is True
    health = " ".join(container["healthCheck"]["command"])
    assert "127.0.0.1:8080/healthz" in health and not re.search(r"\b(curl|wget)\b", health)


def test_environment_is_the_daemon_settings_and_secrets_come_from_secrets_manager() -> None:
    container = _container()
    env = {e["name"]: e["value"] for e in container["environment"]}
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert set(env) >= REQUIRED_SETTINGS and set(env) <= SETTINGS, sorted(env)
    assert env["GITOPS_LISTEN"] == ":8080"
    assert set(secrets) == {"GITOPS_WEBHOOK_SECRET", "GITOPS_GIT_TOKEN"}
    for name, value in env.items():
        assert not SECRET_NAME.search(name), f"{name} is a secret: put it in `secrets`"
        assert not re.search(r"://[^/@\s]+:[^/@\s]+@", value), f"{name} holds credentials"
    # The controller's own secrets live apart from the stack's (iq-theory/*), out of
    # reach of the controller's IAM policy.
    assert all(v.startswith("gitops-controller/") for v in secrets.values()), secrets


def test_logs_go_to_cloudwatch() -> None:
    logging = _container()["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    assert {"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} <= set(logging["options"])


def test_two_replicas_take_turns_writing_through_the_lease() -> None:
    """Two tasks for availability; the stack's DynamoDB lease (the table deploy/ makes)
    lets one write at a time, and an upgrade replaces one task at a time."""
    service = _load("service.json")
    assert service["desiredCount"] == 2
    deployment = service["deploymentConfiguration"]
    assert deployment["minimumHealthyPercent"] == 50
    assert deployment["maximumPercent"] == 100
    env = {e["name"]: e["value"] for e in _container()["environment"]}
    table = json.loads((REPO / "deploy" / "dynamodb" / "lease-table.json").read_text())
    assert env["GITOPS_LEASE_TABLE"] == table["TableName"]
    assert {k: v for k, v in table.items() if k != "TableName"} == TABLE_DEFINITION
    assert service["launchType"] == "FARGATE"
    assert service["taskDefinition"] == _load("task-definition.json")["family"]
    assert service["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
