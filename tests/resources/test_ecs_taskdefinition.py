"""ecs.TaskDefinition against a moto server, ownership (tags, inventory, adoption), plus the
pure canonical form and validation."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired
from controller.resources.ecs_cluster import ClusterDriver
from controller.resources.ecs_taskdefinition import TaskDefinitionDriver, TaskDefinitionSpec
from tests.conftest import TEST_STACK, AwsEnv
from tests.faults import is_throttling, throttled_ctx

DRIVER = TaskDefinitionDriver()
FAMILY = "iq-theory-api"
ACCOUNT = "111111111111"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:iq-theory/database-url-AbCdEf"
JWT_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:iq-theory/jwt-secret-AbCdEf"
# Fields register_task_definition accepts back from a described revision.
REGISTRABLE = ("containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities",
               "executionRoleArn", "taskRoleArn", "runtimePlatform")


def api_container(**override: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "api",
        "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/iq-theory-api:v1",
        "essential": True,
        "portMappings": [{"containerPort": 8080}],
        "environment": [{"name": "S3_BUCKET_NAME", "value": "assets"},
                        {"name": "AWS_REGION", "value": "us-east-1"}],
        "secrets": [{"name": "JWT_SECRET", "valueFrom": JWT_ARN},
                    {"name": "DATABASE_URL", "valueFrom": SECRET_ARN}],
        "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/iq-theory-api", "awslogs-region": "us-east-1",
            "awslogs-stream-prefix": "api"}},
        "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost:8080/health || exit 1"],
                        "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 10},
        "command": ["/app/server"],
        "readonlyRootFilesystem": True,
        "user": "1000",
        "stopTimeout": 30,
    }
    return {**container, **override}


def desired(**spec: Any) -> Desired:
    base = {"cpu": 256, "memory": "512",
            "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/iq-theory-ecs-execution",
            "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/iq-theory-api-task",
            "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
            "containerDefinitions": [api_container()], "tags": {"app": "iq-theory"}}
    raw = TaskDefinitionSpec.model_validate({**base, **spec})
    normalised = DRIVER.normalise(raw.model_dump(mode="json", exclude_unset=True))
    return Desired("ecs.TaskDefinition", FAMILY, TEST_STACK, normalised)


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["arn"].endswith(f"task-definition/{FAMILY}:1")
    assert created.attrs["family"] == FAMILY
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    tags = aws.client("ecs").list_tags_for_resource(resourceArn=created.attrs["arn"])["tags"]
    as_map = {t["key"]: t["value"] for t in tags}
    assert as_map["gitops:id"] == "ecs.TaskDefinition/" + FAMILY and as_map["app"] == "iq-theory"


def test_an_unchanged_family_has_no_diff_and_no_new_revision(aws: AwsEnv) -> None:
    # What a plan of a stack in sync does: observe only, nothing registered.
    want = desired()
    DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    live = DRIVER.observe(want, ctx)
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert ctx.aws.calls[("ecs", "RegisterTaskDefinition")] == 0
    assert live.attrs["revision"] == 1


def reregister(mutate: Callable[[dict[str, Any]], None]) -> Callable[[Any], None]:
    """Drift as ECS allows it: someone registers a new revision of the family by hand."""
    def drift(ecs: Any) -> None:
        answer = ecs.describe_task_definition(taskDefinition=FAMILY, include=["TAGS"])
        td = answer["taskDefinition"]
        body = copy.deepcopy({k: td[k] for k in REGISTRABLE if k in td})
        mutate(body)
        # copying the tags too keeps each case to the one field it drifts
        ecs.register_task_definition(family=FAMILY, tags=answer["tags"], **body)
    return drift


def container(body: dict[str, Any]) -> dict[str, Any]:
    first: dict[str, Any] = body["containerDefinitions"][0]
    return first


def set_env(body: dict[str, Any], name: str, value: str) -> None:
    for entry in container(body)["environment"]:
        if entry["name"] == name:
            entry["value"] = value


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    paths: list[str]


C0 = "spec.containerDefinitions[0]"
DRIFT = [
    DriftCase("image", "the deploy field: a revision with another image registered by hand",
              reregister(lambda b: container(b).update(image="evil:latest")), [f"{C0}.image"]),
    DriftCase("env value", "every container field is compared, not only the image",
              reregister(lambda b: set_env(b, "S3_BUCKET_NAME", "other")),
              [f"{C0}.environment[1].value"]),
    DriftCase("env added", "a list of a different length differs as a whole",
              reregister(lambda b: container(b)["environment"].append(
                  {"name": "DEBUG", "value": "1"})), [f"{C0}.environment"]),
    DriftCase("secret source", "a secret's valueFrom pointed at another secret",
              reregister(lambda b: container(b)["secrets"][0].update(valueFrom=JWT_ARN)),
              [f"{C0}.secrets[0].valueFrom"]),
    DriftCase("cpu and memory", "task-level sizing (strings in ECS)",
              reregister(lambda b: b.update(cpu="512", memory="1024")),
              ["spec.cpu", "spec.memory"]),
    DriftCase("port mapping", "a nested list of dicts",
              reregister(lambda b: container(b).update(portMappings=[
                  {"containerPort": 9090, "hostPort": 9090, "protocol": "tcp"}])),
              [f"{C0}.portMappings[0].containerPort", f"{C0}.portMappings[0].hostPort"]),
    DriftCase("log option", "a map inside a nested object",
              reregister(lambda b: container(b)["logConfiguration"]["options"].update(
                  {"awslogs-stream-prefix": "x"})),
              [f"{C0}.logConfiguration.options.awslogs-stream-prefix"]),
    DriftCase("health check", "a scalar list inside a nested object",
              reregister(lambda b: container(b)["healthCheck"].update(command=["CMD", "true"])),
              [f"{C0}.healthCheck.command"]),
    DriftCase("container scalars", "booleans, strings and ints of a container",
              reregister(lambda b: container(b).update(
                  readonlyRootFilesystem=False, user="root", stopTimeout=5)),
              [f"{C0}.readonlyRootFilesystem", f"{C0}.user", f"{C0}.stopTimeout"]),
    DriftCase("command", "a scalar list: order matters",
              reregister(lambda b: container(b).update(command=["/bin/sh"])), [f"{C0}.command"]),
    DriftCase("task role", "an ARN field of the task",
              reregister(lambda b: b.update(taskRoleArn=f"arn:aws:iam::{ACCOUNT}:role/admin")),
              ["spec.taskRoleArn"]),
    DriftCase("runtime platform", "a nested object of the task",
              reregister(lambda b: b.update(runtimePlatform={
                  "cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"})),
              ["spec.runtimePlatform.cpuArchitecture"]),
    DriftCase("launch compatibility", "defaults this kind declares (awsvpc, FARGATE) are "
              "compared too (moto forces awsvpc under FARGATE, as AWS refuses anything else)",
              reregister(lambda b: b.update(networkMode="bridge", requiresCompatibilities=["EC2"])),
              ["spec.networkMode", "spec.requiresCompatibilities"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected_by_a_new_revision(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("ecs"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.attrs["revision"] == 2
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert fixed.attrs["revision"] == 3 and fixed.attrs["arn"] != live.attrs["arn"]
    assert diff_fields(want.spec, fixed.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []


def test_tag_drift_is_fixed_without_a_new_revision(aws: AwsEnv) -> None:
    # A new revision would redeploy every service for a tag: tags are written in place.
    want = desired()
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    aws.client("ecs").tag_resource(resourceArn=arn, tags=[{"key": "app", "value": "x"}])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.tags.app"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert fixed.attrs["arn"] == arn and diff_fields(want.spec, fixed.fields) == []


def test_deregistered_latest_revision_falls_back_to_the_newest_active(aws: AwsEnv) -> None:
    # moto's describe by family answers the newest revision even when INACTIVE; AWS
    # answers the newest ACTIVE one, which is what the driver reads either way.
    want = desired()
    first = DRIVER.create(want, aws.ctx())
    reregister(lambda b: container(b).update(image="other:1"))(aws.client("ecs"))
    aws.client("ecs").deregister_task_definition(taskDefinition=f"{FAMILY}:2")
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.attrs["arn"] == first.attrs["arn"]


def test_delete_deregisters_every_active_revision_of_the_family_only(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    DRIVER.update(want, live, ["cpu"], aws.ctx())
    other = Desired("ecs.TaskDefinition", FAMILY + "-worker", TEST_STACK, want.spec)
    DRIVER.create(other, aws.ctx())  # shares the prefix, must survive
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is None
    assert DRIVER.observe(other, aws.ctx()) is not None


# --- ownership: tags, inventory, adoption, delete without desired state ----------------------


def family(name: str, stack: str = TEST_STACK, **spec: Any) -> Desired:
    return dataclasses.replace(desired(**spec), name=name, stack=stack)


def test_one_tagging_listing_serves_every_ecs_kind(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    clusters = ClusterDriver()
    clusters.create(Desired("ecs.Cluster", "c", TEST_STACK, {}), aws.ctx())
    ctx = aws.ctx()
    DRIVER.observe(desired(), ctx)
    assert set(DRIVER.inventory(ctx)) == {desired().id}
    assert set(clusters.inventory(ctx)) == {"ecs.Cluster/c"}
    assert ctx.aws.calls[("resourcegroupstaggingapi", "GetResources")] == 1
    assert ctx.aws.calls[("ecs", "DescribeTaskDefinition")] == 1  # observe's, reused


def test_a_throttled_tagging_listing_fails_each_kind_and_is_asked_once(
        aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, throttle = throttled_ctx(aws, monkeypatch, "resource-groups-tagging-api",
                                  "GetResources")
    for driver in (DRIVER, ClusterDriver(), DRIVER):
        with pytest.raises(ClientError) as caught:
            driver.inventory(ctx)
        assert is_throttling(caught.value)
    assert throttle.sent == 1


def test_a_throttled_describe_is_asked_once_per_family(
        aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # No batch describe exists for task definitions: each family is read once per run.
    ctx, throttle = throttled_ctx(aws, monkeypatch, "ecs", "DescribeTaskDefinition")
    for _ in range(2):
        with pytest.raises(ClientError) as caught:
            DRIVER.observe(desired(), ctx)
        assert is_throttling(caught.value)
    assert throttle.sent == 1


# --- pure: the canonical form -------------------------------------------------------------


def test_normalise_sorts_and_makes_defaults_explicit() -> None:
    spec = DRIVER.normalise({
        "cpu": 256, "memory": 512,
        "containerDefinitions": [
            {"name": "b", "image": "b", "portMappings": [{"containerPort": 443},
                                                         {"containerPort": 80}]},
            {"name": "a", "image": "a", "environment": [{"name": "Z", "value": "1"},
                                                        {"name": "A", "value": "2"}],
             "secrets": [{"name": "Y", "valueFrom": "arn:y"}, {"name": "X", "valueFrom": "arn:x"}]},
        ],
    })
    assert spec["cpu"] == "256" and spec["memory"] == "512"
    assert spec["networkMode"] == "awsvpc" and spec["requiresCompatibilities"] == ["FARGATE"]
    a, b = spec["containerDefinitions"]
    assert [a["name"], b["name"]] == ["a", "b"]
    assert [e["name"] for e in a["environment"]] == ["A", "Z"]
    assert [s["name"] for s in a["secrets"]] == ["X", "Y"]
    # AWS echoes hostPort = containerPort and protocol tcp under awsvpc; moto omits them.
    assert b["portMappings"] == [{"containerPort": 80, "hostPort": 80, "protocol": "tcp"},
                                 {"containerPort": 443, "hostPort": 443, "protocol": "tcp"}]


def test_normalise_leaves_host_port_alone_under_bridge() -> None:
    # Under bridge an absent hostPort means "dynamic": no default to make explicit.
    spec = DRIVER.normalise({"networkMode": "bridge", "containerDefinitions": [
        {"name": "a", "image": "a", "portMappings": [{"containerPort": 80}]}]})
    assert spec["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 80, "protocol": "tcp"}]


def test_normalise_keeps_unknown_values() -> None:
    spec = DRIVER.normalise({"executionRoleArn": UNKNOWN, "containerDefinitions": [
        {"name": "a", "image": UNKNOWN}]})
    assert spec["executionRoleArn"] is UNKNOWN
    assert spec["containerDefinitions"][0]["image"] is UNKNOWN


# --- pure: validation refuses secrets in plain environment ----------------------------------

LEAK = "hunter2-s3cr3t"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("JWT_SECRET", LEAK, "looks like a secret"),
    ("db_password", LEAK, "looks like a secret"),
    ("GITHUB_TOKEN", LEAK, "looks like a secret"),
    ("STRIPE_API_KEY", LEAK, "looks like a secret"),
    ("DATABASE_URL", f"postgres://db.internal/{LEAK}", "looks like a secret"),
    ("REDIS_URL", f"redis://app:{LEAK}@cache:6379/0", "credentials"),
    ("DB_PASSWD", LEAK, "looks like a secret"),
    ("CACHE_ADDRESS", f"app:{LEAK}@cache:6379", "credentials"),
    ("REDIS_URL", f"redis://:{LEAK}@cache:6379/0", "credentials"),
], ids=["secret", "password", "token", "key", "database_url", "user:pass@", "passwd",
        "user:pass@ without a scheme", "empty user"])
def test_secret_looking_environment_is_refused(name: str, value: str, says: str) -> None:
    spec = {"containerDefinitions": [api_container(environment=[
        {"name": "AWS_REGION", "value": "us-east-1"}, {"name": name, "value": value}])]}
    with pytest.raises(ValidationError) as caught:
        TaskDefinitionSpec.model_validate(spec)
    [error] = caught.value.errors()
    assert error["loc"] == ("containerDefinitions", 0, "environment", 1)
    assert says in error["msg"] and "secrets" in error["msg"] and "valueFrom" in error["msg"]
    assert LEAK not in error["msg"]
    assert LEAK not in str(caught.value)  # not even in pydantic's own rendering of the input


def test_plain_urls_and_secret_references_are_fine() -> None:
    TaskDefinitionSpec.model_validate({"containerDefinitions": [api_container(environment=[
        {"name": "CORS_ORIGINS", "value": "https://app.example.com"},
        {"name": "API_URL", "value": "https://user@example.com/x"},
        {"name": "OPS_EMAIL", "value": "mailto:ops@example.com"},
        {"name": "UPSTREAM", "value": "git@github.com:iq/theory.git"},
        {"name": "LISTEN", "value": "0.0.0.0:8080"}])]})


def test_container_model_is_strict() -> None:
    with pytest.raises(ValidationError) as caught:
        TaskDefinitionSpec.model_validate({"containerDefinitions": [api_container(imag="x")]})
    assert caught.value.errors()[0]["loc"] == ("containerDefinitions", 0, "imag")


@pytest.mark.parametrize("image", [
    "nginx:latest", f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/team/api@sha256:" + "a" * 64,
    "${ref:ecr.Repository/iq-theory-api.uri}:1.4.2", "public.ecr.aws/nginx/nginx:1.27"])
def test_images_ecs_takes_are_accepted(image: str) -> None:
    TaskDefinitionSpec.model_validate({"containerDefinitions": [api_container(image=image)]})


@pytest.mark.parametrize("image", ["api:" + "1" * 300, "api:1.4.3 # c", "api:1\n2", "api:é",
                                   "${ref:ecr.Repository/iq-theory-api.uri}:$(rm -rf)"])
def test_an_image_ecs_refuses_is_an_error_at_validation(image: str) -> None:
    """A tag set by `gitops set` with a typo of this kind fails validate, not a deploy."""
    with pytest.raises(ValidationError, match="up to 255 letters, digits and"):
        TaskDefinitionSpec.model_validate({"containerDefinitions": [api_container(image=image)]})


def test_duplicate_container_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="unique: api"):
        TaskDefinitionSpec.model_validate({"containerDefinitions": [api_container()] * 2})


def test_a_number_from_a_ref_is_sent_as_text() -> None:
    """`value: ${ref:rds.DBInstance/db.port}` resolves to 5432; ECS takes text only."""
    spec = DRIVER.normalise({"cpu": "256", "memory": "512", "containerDefinitions": [
        api_container(environment=[{"name": "DATABASE_PORT", "value": 5432}])]})
    (container,) = spec["containerDefinitions"]
    assert container["environment"] == [{"name": "DATABASE_PORT", "value": "5432"}]
