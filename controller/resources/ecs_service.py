"""ecs.Service: a service in a cluster, running one task-definition revision.

Pointing `taskDefinition` at a new revision is how an image change deploys.
`observe` also exposes the PRIMARY deployment as `attrs["rollout"]` and every
deployment as `attrs["deployments"]` (read from the same describe answer), so the
engine can follow a rollout, and see a circuit-breaker rollback, without more calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from controller.aws.errors import error_code, is_not_found
from controller.resources.base import (
    Desired,
    Driver,
    Observed,
    RunContext,
    SpecModel,
    Tags,
    is_unknown,
)
from controller.resources.ecs_api import (
    ECS_NAME,
    Fetch,
    ecs_tag_list,
    forget_name,
    live_tags,
    live_user_tags,
    lookup_name,
    prefetch_names,
    revision_name,
    sync_tags,
)
from controller.resources.shapes import (
    ClusterRef,
    ContainerPort,
    TargetGroupArn,
    TaskDefinitionRef,
)

DESCRIBE_LIMIT = 10  # describe_services takes at most 10 names per cluster
# Spec fields update_service writes (cluster and launchType need a new service).
UPDATABLE = ("taskDefinition", "desiredCount", "deploymentConfiguration", "networkConfiguration",
             "healthCheckGracePeriodSeconds", "enableExecuteCommand", "loadBalancers",
             "platformVersion", "propagateTags", "enableECSManagedTags")
# What AWS reports for a service that never set these (the emulator leaves them out).
AWS_DEFAULTS: dict[str, Any] = {"enableExecuteCommand": False, "enableECSManagedTags": False,
                                "propagateTags": "NONE"}
GONE_CODES = frozenset({"ServiceNotActiveException"})
# Fields whose change starts new tasks (a deployment) even with the same revision.
DEPLOYS = frozenset({"networkConfiguration", "platformVersion", "loadBalancers",
                     "enableExecuteCommand"})


class AwsVpcConfiguration(SpecModel):
    subnets: list[str] = Field(description="subnet ids (a set: order is ignored)")
    securityGroups: list[str] | None = Field(default=None, description="a set of group ids")
    assignPublicIp: Literal["ENABLED", "DISABLED"] | None = Field(
        default=None, description="default DISABLED")


class NetworkConfiguration(SpecModel):
    awsvpcConfiguration: AwsVpcConfiguration


class DeploymentCircuitBreaker(SpecModel):
    enable: bool
    rollback: bool


class DeploymentConfiguration(SpecModel):
    minimumHealthyPercent: int | None = None
    maximumPercent: int | None = None
    deploymentCircuitBreaker: DeploymentCircuitBreaker | None = None


class LoadBalancer(SpecModel):
    targetGroupArn: TargetGroupArn | None = None
    loadBalancerName: str | None = None
    containerName: str
    containerPort: ContainerPort


class ServiceSpec(SpecModel):
    """The service is named by the resource's `name`; `cluster` and `launchType` are
    fixed at creation (a change replaces the service)."""

    cluster: ClusterRef = Field(
        description="cluster ARN or name, usually ${ref:ecs.Cluster/x.arn}")
    taskDefinition: TaskDefinitionRef = Field(
        description="a revision ARN, usually ${ref:ecs.TaskDefinition/x.arn}")
    desiredCount: int | None = Field(default=None, ge=0)
    launchType: Literal["FARGATE", "EC2", "EXTERNAL"] = Field(
        default="FARGATE", description="default FARGATE")
    platformVersion: str | None = None
    networkConfiguration: NetworkConfiguration | None = None
    deploymentConfiguration: DeploymentConfiguration | None = None
    healthCheckGracePeriodSeconds: int | None = None
    enableExecuteCommand: bool | None = None
    propagateTags: Literal["TASK_DEFINITION", "SERVICE", "NONE"] | None = None
    enableECSManagedTags: bool | None = None
    loadBalancers: list[LoadBalancer] | None = None
    tags: Tags | None = None


class ServiceDriver(Driver):
    kind = "ecs.Service"
    name_rule = ECS_NAME
    spec_model = ServiceSpec
    attributes = ("arn", "name")
    immutable = frozenset({"cluster", "launchType"})

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        out.setdefault("launchType", "FARGATE")  # the model's default, dropped by exclude_unset
        network = out.get("networkConfiguration")
        if isinstance(network, dict) and isinstance(network.get("awsvpcConfiguration"), dict):
            out["networkConfiguration"] = {
                **network, "awsvpcConfiguration": _canonical_vpc(network["awsvpcConfiguration"])}
        if isinstance(out.get("loadBalancers"), list):
            out["loadBalancers"] = sorted(out["loadBalancers"], key=_balancer_order)
        return out

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        """What ECS will do: a rolling deployment when the tasks change, else scaling."""
        if action != "update" or live is None:
            return None
        if "taskDefinition" in changed:
            new = desired.spec.get("taskDefinition")
            target = "new revision" if is_unknown(new) else revision_name(str(new))
            return (f"rolling deployment: {revision_name(live.attrs['taskDefinitionArn'])} -> "
                    f"{target}")
        if set(changed) & DEPLOYS:
            return "rolling deployment: new tasks of the same revision"
        if "desiredCount" in changed:
            return (f"scaling: {live.fields.get('desiredCount')} -> "
                    f"{desired.spec.get('desiredCount')} tasks")
        return None

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One describe_services per cluster per ten services.
        by_cluster: dict[str, list[str]] = {}
        for d in desired:
            cluster = d.spec.get("cluster")
            if isinstance(cluster, str) and not is_unknown(cluster):
                by_cluster.setdefault(cluster, []).append(d.name)
        for cluster, names in by_cluster.items():
            prefetch_names(ctx, _key(cluster), names, _fetcher(ctx, cluster), DESCRIBE_LIMIT)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        cluster = desired.spec.get("cluster")
        if not isinstance(cluster, str) or is_unknown(cluster):
            return None  # the cluster is not created yet, so neither is the service
        service = lookup_name(ctx, _key(cluster), desired.name, _fetcher(ctx, cluster),
                              DESCRIBE_LIMIT)
        return None if service is None else _observed(service, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        cluster = desired.spec["cluster"]
        # create_service on a live name replaces it in the emulator: always read first.
        existing = _fetcher(ctx, cluster)([desired.name]).get(desired.name)
        if existing is not None:
            return _observed(existing, desired)
        args = {k: v for k, v in desired.spec.items() if k != "tags"}
        # The emulator drops deploymentConfiguration, healthCheckGracePeriodSeconds,
        # enableExecuteCommand and enableECSManagedTags here; the engine's re-observe
        # after create sees them differ and writes them with update_service.
        ctx.client("ecs").create_service(serviceName=desired.name,
                                         tags=ecs_tag_list(desired.tags()), **args)
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        writes = {k: desired.spec[k] for k in UPDATABLE if k in changed and k in desired.spec}
        if writes:
            ctx.client("ecs").update_service(cluster=desired.spec["cluster"],
                                             service=desired.name, **writes)
        if "tags" in changed:
            sync_tags(ctx, live.attrs["arn"], live.fields.get("tags", {}), desired)
        return self._reread(desired, ctx)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        ecs = ctx.client("ecs")
        cluster = live.attrs.get("clusterArn") or desired.spec["cluster"]
        try:
            # Scale in first so tasks drain before the service goes (what the console does).
            ecs.update_service(cluster=cluster, service=desired.name, desiredCount=0)
            ecs.delete_service(cluster=cluster, service=desired.name, force=True)
        except Exception as err:
            if not (is_not_found(err) or error_code(err) in GONE_CODES):
                raise
        forget_name(ctx, _key(desired.spec["cluster"]), desired.name)

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        forget_name(ctx, _key(desired.spec["cluster"]), desired.name)
        observed = self.observe(desired, ctx)
        assert observed is not None, f"{desired.id} vanished right after it was written"
        return observed


def _key(cluster: str) -> tuple[str, str]:
    return ("ecs.services", cluster)


def _fetcher(ctx: RunContext, cluster: str) -> Fetch:
    def fetch(names: list[str]) -> dict[str, dict[str, Any]]:
        """ACTIVE services by name: missing names come back in `failures`, deleted ones
        linger as DRAINING/INACTIVE; both count as absent, as does a missing cluster."""
        try:
            answer = ctx.client("ecs").describe_services(cluster=cluster, services=names,
                                                         include=["TAGS"])
        except Exception as err:
            if is_not_found(err):
                return {}
            raise
        return {s["serviceName"]: s for s in answer["services"] if s.get("status") == "ACTIVE"}

    return fetch


def _canonical_vpc(vpc: dict[str, Any]) -> dict[str, Any]:
    out = dict(vpc)
    for key in ("subnets", "securityGroups"):
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key])
    if out.get("assignPublicIp") is None:
        out["assignPublicIp"] = "DISABLED"  # AWS's default, which it echoes
    return out


def _balancer_order(lb: dict[str, Any]) -> tuple[str, str, int]:
    port = lb.get("containerPort")
    return (str(lb.get("containerName")), str(lb.get("targetGroupArn") or
                                              lb.get("loadBalancerName")),
            port if isinstance(port, int) else -1)


def _same_form(desired: Any, arn: str) -> str:
    """Show a live ARN the way the spec wrote it: an ARN, or the part after the last `/`
    (a cluster name, or `family:revision` for a task definition)."""
    if isinstance(desired, str) and not is_unknown(desired) and not desired.startswith("arn:"):
        return arn.rsplit("/", 1)[-1]
    return arn


def _observed(service: dict[str, Any], desired: Desired) -> Observed:
    fields: dict[str, Any] = {
        "cluster": _same_form(desired.spec.get("cluster"), service["clusterArn"]),
        "taskDefinition": _same_form(desired.spec.get("taskDefinition"),
                                     service["taskDefinition"]),
    }
    for key in ("desiredCount", "launchType", "platformVersion", "deploymentConfiguration",
                "healthCheckGracePeriodSeconds"):
        if key in service:
            fields[key] = service[key]
    for key, default in AWS_DEFAULTS.items():
        fields[key] = service.get(key, default)
    vpc = (service.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    if vpc is not None:
        fields["networkConfiguration"] = {"awsvpcConfiguration": _canonical_vpc(vpc)}
    fields["loadBalancers"] = sorted(service.get("loadBalancers") or [], key=_balancer_order)
    if "tags" in desired.spec:
        fields["tags"] = live_user_tags(service)
    attrs = {"arn": service["serviceArn"], "name": service["serviceName"],
             "clusterArn": service["clusterArn"], "rollout": _rollout(service),
             "taskDefinitionArn": service["taskDefinition"],
             "deployments": [_deployment(d) for d in service.get("deployments") or []]}
    return Observed(fields=fields, attrs=attrs, tags=live_tags(service))


def _deployment(deployment: dict[str, Any]) -> dict[str, Any]:
    """One deployment as plain data: after a circuit-breaker rollback the failed revision is
    only visible here (rolloutState FAILED, no longer PRIMARY), for as long as ECS lists it."""
    updated = deployment.get("updatedAt")
    return {
        **{key: deployment.get(key) for key in
           ("id", "status", "taskDefinition", "rolloutState", "rolloutStateReason")},
        "failedTasks": deployment.get("failedTasks", 0),
        "updatedAt": updated.isoformat() if isinstance(updated, datetime) else updated,
    }


def _rollout(service: dict[str, Any]) -> dict[str, Any] | None:
    """The PRIMARY deployment: what the service is rolling out to, and how it is going."""
    for deployment in service.get("deployments") or []:
        if deployment.get("status") == "PRIMARY":
            return {key: deployment.get(key) for key in
                    ("id", "taskDefinition", "rolloutState", "rolloutStateReason")}
    return None
