"""ecs.Service against a moto server: convergence, drift, batching, rollout, deletion,
ownership (tags, inventory, adoption); and its readiness, from ECS's deployment words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, Observed, RolledBack
from controller.resources.ecs_service import ServiceDriver, ServiceSpec
from controller.resources.ecs_taskdefinition import TaskDefinitionDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = ServiceDriver()
NAME = "iq-theory-api"
CLUSTER = "iq-theory-cluster"
CLUSTER_ARN = f"arn:aws:ecs:us-east-1:111111111111:cluster/{CLUSTER}"
TARGET_GROUP = ("arn:aws:elasticloadbalancing:us-east-1:111111111111:"
                "targetgroup/iq-theory-api/0123456789abcdef")
# moto 5.2.5's create_service drops these (MOTO-NOTES.md); AWS keeps them. The engine
# re-observes after a create and updates what still differs, and update_service stores them.
MOTO_CREATE_GAP = ["deploymentConfiguration", "healthCheckGracePeriodSeconds",
                   "enableExecuteCommand", "enableECSManagedTags"]


@dataclass
class Network:
    """What a service needs around it, made with plain boto3 (not the EC2/ECS drivers)."""

    subnets: list[str]
    groups: list[str]
    revisions: list[str]


@pytest.fixture
def net(aws: AwsEnv) -> Network:
    ec2, ecs = aws.client("ec2"), aws.client("ecs")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
               for i in (1, 2)]
    # awsvpc without securityGroups makes moto answer 500: every service here declares them.
    groups = [ec2.create_security_group(GroupName=f"sg{i}", Description="t", VpcId=vpc)["GroupId"]
              for i in (1, 2)]
    ecs.create_cluster(clusterName=CLUSTER)
    revisions = [ecs.register_task_definition(
        family=NAME, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", containerDefinitions=[{"name": "api", "image": f"api:v{i}"}],
    )["taskDefinition"]["taskDefinitionArn"] for i in (1, 2)]
    return Network(subnets, groups, revisions)


def desired(net: Network, name: str = NAME, **spec: Any) -> Desired:
    base = {
        "cluster": CLUSTER_ARN, "taskDefinition": net.revisions[0], "desiredCount": 2,
        "platformVersion": "LATEST",
        # listed in reverse: they are sets, the driver sorts both sides
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": net.subnets[::-1], "securityGroups": net.groups[:1]}},
        "deploymentConfiguration": {"minimumHealthyPercent": 100, "maximumPercent": 200,
                                    "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        "healthCheckGracePeriodSeconds": 30, "enableExecuteCommand": True,
        "propagateTags": "SERVICE", "enableECSManagedTags": True,
        "loadBalancers": [{"targetGroupArn": TARGET_GROUP, "containerName": "api",
                           "containerPort": 8080}],
        "tags": {"app": "iq-theory"},
    }
    raw = ServiceSpec.model_validate({**base, **spec})
    normalised = DRIVER.normalise(raw.model_dump(mode="json", exclude_unset=True))
    return Desired("ecs.Service", name, TEST_STACK, normalised)


def converged(want: Desired, aws: AwsEnv) -> Any:
    """Create, then the engine's follow-up update of whatever create could not write."""
    created = DRIVER.create(want, aws.ctx())
    changes = diff_fields(want.spec, created.fields)
    if not changes:
        return created
    return DRIVER.update(want, created, top_level_fields(changes), aws.ctx())


def test_create_shows_the_moto_gap_then_update_converges(aws: AwsEnv, net: Network) -> None:
    want = desired(net)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert top_level_fields(diff_fields(want.spec, created.fields)) == MOTO_CREATE_GAP
    fixed = DRIVER.update(want, created, MOTO_CREATE_GAP, aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.attrs["arn"] == f"arn:aws:ecs:us-east-1:111111111111:service/{CLUSTER}/{NAME}"
    tags = {t["key"]: t["value"] for t in
            aws.client("ecs").list_tags_for_resource(resourceArn=live.attrs["arn"])["tags"]}
    assert tags["gitops:id"] == "ecs.Service/" + NAME and tags["gitops:stack"] == TEST_STACK


def test_rollout_is_read_from_the_same_answer(aws: AwsEnv, net: Network) -> None:
    live = converged(desired(net), aws)
    rollout = live.attrs["rollout"]
    assert rollout["taskDefinition"] == net.revisions[0]
    assert rollout["id"].startswith("ecs-svc/") and rollout["rolloutState"] == "IN_PROGRESS"
    assert set(rollout) == {"id", "taskDefinition", "rolloutState", "rolloutStateReason"}
    # Every deployment, from the same answer: a rolled-back revision is only visible here.
    [deployment] = live.attrs["deployments"]
    assert deployment["id"] == rollout["id"] and deployment["status"] == "PRIMARY"
    assert deployment["taskDefinition"] == net.revisions[0] and deployment["failedTasks"] == 0
    assert isinstance(deployment["updatedAt"], str) and "T" in deployment["updatedAt"]


def test_create_never_replaces_a_live_service(aws: AwsEnv, net: Network) -> None:
    # moto's create_service on an existing name replaces the service: read first.
    want = desired(net)
    first = DRIVER.create(want, aws.ctx())
    second = DRIVER.create(want, aws.ctx())
    assert second.attrs["rollout"]["id"] == first.attrs["rollout"]["id"]


def update_service(**kwargs: Any) -> Callable[[Any], None]:
    return lambda ecs: ecs.update_service(cluster=CLUSTER, service=NAME, **kwargs)


def network(subnets: list[str], groups: list[str]) -> dict[str, Any]:
    return {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": groups,
                                    "assignPublicIp": "DISABLED"}}


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Network], Callable[[Any], None]]
    paths: list[str]


VPC = "spec.networkConfiguration.awsvpcConfiguration"
BREAKER = "spec.deploymentConfiguration.deploymentCircuitBreaker"
DRIFT = [
    DriftCase("desired count", "scaled by hand",
              lambda n: update_service(desiredCount=5), ["spec.desiredCount"]),
    DriftCase("task definition", "pointed at another revision by hand (a manual deploy)",
              lambda n: update_service(taskDefinition=n.revisions[1]), ["spec.taskDefinition"]),
    DriftCase("circuit breaker off", "a nested object: no rollback on a failed deploy",
              lambda n: update_service(deploymentConfiguration={
                  "minimumHealthyPercent": 100, "maximumPercent": 200,
                  "deploymentCircuitBreaker": {"enable": False, "rollback": False}}),
              [f"{BREAKER}.enable", f"{BREAKER}.rollback"]),
    DriftCase("deployment percents", "scalars inside a nested object",
              lambda n: update_service(deploymentConfiguration={
                  "minimumHealthyPercent": 50, "maximumPercent": 150,
                  "deploymentCircuitBreaker": {"enable": True, "rollback": True}}),
              ["spec.deploymentConfiguration.minimumHealthyPercent",
               "spec.deploymentConfiguration.maximumPercent"]),
    DriftCase("security groups", "a set of ids changed by hand",
              lambda n: update_service(networkConfiguration=network(n.subnets, n.groups[1:])),
              [f"{VPC}.securityGroups"]),
    DriftCase("subnets", "a set of ids lost a member",
              lambda n: update_service(networkConfiguration=network(n.subnets[:1], n.groups[:1])),
              [f"{VPC}.subnets"]),
    DriftCase("public ip", "a default this kind declares (DISABLED) is compared",
              lambda n: update_service(networkConfiguration={"awsvpcConfiguration": {
                  "subnets": n.subnets, "securityGroups": n.groups[:1],
                  "assignPublicIp": "ENABLED"}}), [f"{VPC}.assignPublicIp"]),
    DriftCase("grace period", "an int scalar",
              lambda n: update_service(healthCheckGracePeriodSeconds=0),
              ["spec.healthCheckGracePeriodSeconds"]),
    DriftCase("exec and managed tags", "booleans",
              lambda n: update_service(enableExecuteCommand=False, enableECSManagedTags=False),
              ["spec.enableExecuteCommand", "spec.enableECSManagedTags"]),
    DriftCase("propagate tags", "an enum scalar",
              lambda n: update_service(propagateTags="NONE"), ["spec.propagateTags"]),
    DriftCase("platform version", "a string scalar",
              lambda n: update_service(platformVersion="1.3.0"), ["spec.platformVersion"]),
    DriftCase("load balancer", "a list of dicts",
              lambda n: update_service(loadBalancers=[{"targetGroupArn": TARGET_GROUP,
                                                       "containerName": "api",
                                                       "containerPort": 9090}]),
              ["spec.loadBalancers[0].containerPort"]),
    DriftCase("tag", "a map entry changed by hand",
              lambda n: lambda ecs: ecs.tag_resource(
                  resourceArn=f"arn:aws:ecs:us-east-1:111111111111:service/{CLUSTER}/{NAME}",
                  tags=[{"key": "app", "value": "x"}]), ["spec.tags.app"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, net: Network, case: DriftCase) -> None:
    want = desired(net)
    converged(want, aws)
    case.drift(net)(aws.client("ecs"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []


def test_update_writes_only_the_changed_fields(aws: AwsEnv, net: Network) -> None:
    want = desired(net)
    live = converged(want, aws)
    sent: list[dict[str, Any]] = []
    ctx = aws.ctx()
    ctx.aws.client("ecs").meta.events.register(
        "provide-client-params.ecs.UpdateService", lambda params, **_: sent.append(params))
    DRIVER.update(desired(net, desiredCount=3), live, ["desiredCount"], ctx)
    assert sent == [{"cluster": CLUSTER_ARN, "service": NAME, "desiredCount": 3}]


def test_an_image_change_is_a_new_revision_and_a_service_update_and_nothing_else(
        aws: AwsEnv, net: Network) -> None:
    # The product's main path, by hand instead of through the engine: new image tag ->
    # the family registers a revision -> the service's ref resolves to it -> update_service.
    tasks = TaskDefinitionDriver()

    def family(tag: str) -> Desired:
        spec = {"cpu": "256", "memory": "512", "containerDefinitions": [
            {"name": "api", "image": f"api:{tag}", "portMappings": [{"containerPort": 8080}]}]}
        return Desired("ecs.TaskDefinition", "iq-theory-api-app", TEST_STACK,
                       tasks.normalise(spec))

    revision = tasks.create(family("1.0"), aws.ctx())
    service = desired(net, taskDefinition=revision.attrs["arn"])
    converged(service, aws)

    ctx = aws.ctx()
    new_tag = family("1.1")
    live_family = tasks.observe(new_tag, ctx)
    assert live_family is not None
    changes = diff_fields(new_tag.spec, live_family.fields)
    assert [c.path for c in changes] == ["spec.containerDefinitions[0].image"]
    new_revision = tasks.update(new_tag, live_family, top_level_fields(changes), ctx)
    assert "arn" in tasks.changed_by_update and new_revision.attrs["revision"] == 2

    service = desired(net, taskDefinition=new_revision.attrs["arn"])
    live = DRIVER.observe(service, ctx)
    assert live is not None
    changes = diff_fields(service.spec, live.fields)
    assert [c.path for c in changes] == ["spec.taskDefinition"]
    rolled = DRIVER.update(service, live, top_level_fields(changes), ctx)
    assert diff_fields(service.spec, rolled.fields) == []
    writes = {op: n for (svc, op), n in ctx.aws.calls.items()
              if not op.startswith(("Describe", "List"))}
    assert writes == {"RegisterTaskDefinition": 1, "UpdateService": 1}


def test_observing_three_services_makes_one_describe_call(aws: AwsEnv, net: Network) -> None:
    wants = [desired(net, name=f"svc-{i}") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("ecs", "DescribeServices")] == 1


def test_describe_takes_ten_names_at_a_time(aws: AwsEnv, net: Network) -> None:
    wants = [desired(net, name=f"svc-{i:02}") for i in range(12)]
    for want in wants[:11]:  # the twelfth is absent: it comes back in `failures`
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    found = [DRIVER.observe(w, ctx) is not None for w in wants]
    assert found == [True] * 11 + [False]
    assert ctx.aws.calls[("ecs", "DescribeServices")] == 2


def test_unknown_cluster_reads_absent_without_a_call(aws: AwsEnv, net: Network) -> None:
    want = desired(net, cluster="x")
    want = Desired(want.kind, want.name, want.stack, {**want.spec, "cluster": UNKNOWN})
    ctx = aws.ctx()
    DRIVER.prefetch([want], ctx)
    assert DRIVER.observe(want, ctx) is None
    assert ctx.aws.total_calls == 0


def test_cluster_and_revision_by_name_compare_in_the_same_form(aws: AwsEnv, net: Network) -> None:
    # A spec may name the cluster and `family:revision` instead of ARNs.
    want = desired(net, cluster=CLUSTER, taskDefinition=f"{NAME}:1")
    live = converged(want, aws)
    assert live.fields["cluster"] == CLUSTER and live.fields["taskDefinition"] == f"{NAME}:1"
    assert diff_fields(want.spec, live.fields) == []


def test_delete_scales_in_and_removes(aws: AwsEnv, net: Network) -> None:
    want = desired(net)
    live = converged(want, aws)
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is None


def test_missing_cluster_reads_absent(aws: AwsEnv, net: Network) -> None:
    want = desired(net, cluster="arn:aws:ecs:us-east-1:111111111111:cluster/nope")
    assert DRIVER.observe(want, aws.ctx()) is None


def test_normalise_sorts_sets_and_declares_defaults() -> None:
    spec = DRIVER.normalise({
        "cluster": "c", "taskDefinition": "t",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s-b", "s-a"],
                                                         "securityGroups": ["sg-2", "sg-1"]}},
        "loadBalancers": [{"targetGroupArn": "tg-b", "containerName": "web", "containerPort": 80},
                          {"targetGroupArn": "tg-a", "containerName": "api", "containerPort": 80}],
    })
    assert spec["launchType"] == "FARGATE"
    assert spec["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["s-a", "s-b"], "securityGroups": ["sg-1", "sg-2"], "assignPublicIp": "DISABLED"}
    assert [lb["containerName"] for lb in spec["loadBalancers"]] == ["api", "web"]


def test_normalise_keeps_unknown_references() -> None:
    spec = DRIVER.normalise({"cluster": UNKNOWN, "taskDefinition": UNKNOWN,
                             "networkConfiguration": {"awsvpcConfiguration": {
                                 "subnets": [UNKNOWN, "s-a"], "securityGroups": [UNKNOWN]}}})
    assert spec["cluster"] is UNKNOWN and spec["taskDefinition"] is UNKNOWN
    assert "s-a" in spec["networkConfiguration"]["awsvpcConfiguration"]["subnets"]


# --- ownership: tags, inventory, adoption, delete without desired state ----------------------


# --- readiness: the rollout in ECS's words ---------------------------------------------------

FAMILY = "arn:aws:ecs:us-east-1:222222222222:task-definition/iq-theory-api"
OLD, NEW = f"{FAMILY}:1", f"{FAMILY}:2"
BREAKER = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."
TASKS_FAILED = "ECS deployment circuit breaker: tasks failed to start."


def deployment(did: str, status: str, revision: str, state: str | None, reason: str = "",
               updated: str = "2026-11-26T12:00:00+00:00", **counts: int) -> dict[str, Any]:
    """One deployment as observe keeps it in attrs["deployments"]."""
    return {"id": did, "status": status, "taskDefinition": revision, "rolloutState": state,
            "rolloutStateReason": reason, "failedTasks": counts.get("failed", 0),
            "runningCount": counts.get("running", 0), "desiredCount": counts.get("desired", 0),
            "updatedAt": updated}


ROLLED_BACK = [deployment("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", BREAKER),
               deployment("ecs-svc/2", "ACTIVE", NEW, "FAILED", TASKS_FAILED, failed=10)]


@dataclass
class ReadyCase:
    name: str
    why: str
    deployments: list[dict[str, Any]]
    wanted: Any  # the spec's taskDefinition; None: no desired state (an orphan)
    state: str
    phase: str | None
    reason: str = ""  # in Readiness.reason
    rolled_back: RolledBack | None = None


READY_CASES = [
    ReadyCase("no deployments", "the emulator may list none after a create: nothing to wait for",
              [], NEW, "ready", None),
    ReadyCase("in progress", "the PRIMARY runs git's revision and ECS is rolling it out",
              [deployment("ecs-svc/2", "PRIMARY", NEW, "IN_PROGRESS", running=2, desired=4)],
              NEW, "progressing", "in_progress",
              "rollout IN_PROGRESS: 2 of 4 tasks running, 0 failed"),
    ReadyCase("completed", "the rollout of git's revision is done",
              [deployment("ecs-svc/2", "PRIMARY", NEW, "COMPLETED")], NEW, "ready",
              "completed"),
    ReadyCase("failed without rollback", "breaker without rollback: the PRIMARY itself FAILED",
              [deployment("ecs-svc/2", "PRIMARY", NEW, "FAILED", TASKS_FAILED)], NEW, "failed",
              "failed", "rollout FAILED: ECS deployment circuit breaker: tasks failed to start"),
    ReadyCase("no rolloutState", "a deployment controller that does not report one",
              [{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": NEW}], NEW, "ready",
              None),
    ReadyCase("rolled back", "git's revision FAILED and the PRIMARY runs the old one",
              ROLLED_BACK, NEW, "failed", "rolled_back",
              "revision iq-theory-api:2 was rolled back by the ECS deployment circuit breaker "
              "(ECS deployment circuit breaker: tasks failed to start)",
              RolledBack("iq-theory-api:2", "ECS deployment circuit breaker: tasks failed to "
                         "start", frozenset({"ecs-svc/3", "ecs-svc/2"}))),
    ReadyCase("breaker reason only", "ECS names the deployment it returns to, not the revision "
              "it leaves: the revision is git's",
              [deployment("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", BREAKER)], NEW, "failed",
              "rolled_back", "rolled back",
              RolledBack("iq-theory-api:2", BREAKER.rstrip("."), frozenset({"ecs-svc/3"}))),
    ReadyCase("family:revision form", "a spec may name the revision without its ARN",
              ROLLED_BACK, "iq-theory-api:2", "failed", "rolled_back", "iq-theory-api:2",
              RolledBack("iq-theory-api:2", TASKS_FAILED.rstrip("."),
                         frozenset({"ecs-svc/3", "ecs-svc/2"}))),
    ReadyCase("newest failure is the evidence", "git's revision failed twice: the newest "
              "deployment is what a hold rests on",
              [deployment("ecs-svc/5", "PRIMARY", OLD, "COMPLETED", BREAKER),
               deployment("ecs-svc/2", "ACTIVE", NEW, "FAILED", "first try.",
                          updated="2026-11-26T12:00:00+00:00"),
               deployment("ecs-svc/4", "ACTIVE", NEW, "FAILED", "second try.",
                          updated="2026-11-26T13:00:00+00:00")],
              NEW, "failed", "rolled_back", "(second try)",
              RolledBack("iq-theory-api:2", "second try", frozenset({"ecs-svc/5",
                                                                      "ecs-svc/4"}))),
    ReadyCase("describe lags the update", "the PRIMARY still runs the old revision: wait",
              [deployment("ecs-svc/1", "PRIMARY", OLD, "COMPLETED")], NEW, "progressing",
              "completed", "waiting for a PRIMARY deployment of iq-theory-api:2 (the PRIMARY "
                           "runs iq-theory-api:1, COMPLETED)"),
    ReadyCase("another revision failed", "an old failure says nothing about git's revision",
              [deployment("ecs-svc/3", "PRIMARY", OLD, "COMPLETED"),
               deployment("ecs-svc/0", "INACTIVE", f"{FAMILY}:0", "FAILED", TASKS_FAILED)],
              NEW, "progressing", "completed", "waiting for a PRIMARY deployment"),
    ReadyCase("changed by hand", "another revision deployed by hand is drift, not a rollback",
              [deployment("ecs-svc/9", "PRIMARY", OLD, "COMPLETED",
                          "ECS deployment completed.")], NEW, "progressing", "completed"),
    ReadyCase("new revision pending", "a revision not registered yet cannot have been rolled "
              "back: the PRIMARY's own state counts", ROLLED_BACK, UNKNOWN, "ready",
              "completed"),
    ReadyCase("no desired state", "an orphan is judged by its PRIMARY alone",
              [deployment("ecs-svc/2", "PRIMARY", NEW, "IN_PROGRESS", running=1, desired=2)],
              None, "progressing", "in_progress", "1 of 2 tasks running"),
]


@pytest.mark.parametrize("case", READY_CASES, ids=lambda c: c.name)
def test_readiness(case: ReadyCase) -> None:
    live = Observed(fields={}, attrs={"deployments": case.deployments})
    want = None if case.wanted is None else Desired(
        "ecs.Service", NAME, TEST_STACK, {"cluster": CLUSTER_ARN, "taskDefinition": case.wanted})
    readiness = DRIVER.readiness(want, live)
    assert (readiness.state, readiness.phase) == (case.state, case.phase), case.why
    assert case.reason in readiness.reason, case.why
    assert readiness.rolled_back == case.rolled_back, case.why


def test_readiness_after_a_create_in_moto(aws: AwsEnv, net: Network) -> None:
    # moto's deployment stays IN_PROGRESS with no task running (MOTO-NOTES.md).
    want = desired(net)
    live = converged(want, aws)
    readiness = DRIVER.readiness(want, live)
    assert (readiness.state, readiness.phase) == ("progressing", "in_progress")
    assert readiness.reason == "rollout IN_PROGRESS: 0 of 2 tasks running, 0 failed"
