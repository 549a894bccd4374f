"""ecs.Service: a service in a cluster, running one task-definition revision.

Pointing `taskDefinition` at a new revision is how an image change deploys; ECS then
rolls it out. `observe` keeps every deployment of the describe answer in
`attrs["deployments"]` (and the PRIMARY one as `attrs["rollout"]`), and `readiness`
reads the rollout from them in ECS's words: in progress, completed, failed, or
rolled back by the deployment circuit breaker. No other module knows those words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from controller.model import (
    READY,
    Desired,
    Observed,
    Readiness,
    RolledBack,
    SpecModel,
    Tags,
    is_unknown,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import absent_ok, reread
from controller.resources.ecs_api import (
    ECS_NAME,
    ecs_tag_list,
    last_part,
    live_tags,
    live_user_tags,
    revision_name,
    same_revision,
    write_tags,
)
from controller.resources.shapes import (
    ClusterRef,
    ContainerPort,
    TargetGroupArn,
    TaskDefinitionRef,
)
from controller.resources.tagged import by_id, stack_arns

DESCRIBE_LIMIT = 10  # describe_services takes at most 10 names per cluster
# Spec fields update_service writes (cluster and launchType need a new service).
UPDATABLE = ("taskDefinition", "desiredCount", "deploymentConfiguration", "networkConfiguration",
             "healthCheckGracePeriodSeconds", "enableExecuteCommand", "loadBalancers",
             "serviceRegistries", "platformVersion", "propagateTags", "enableECSManagedTags")
# What AWS reports for a service that never set these (the emulator leaves them out).
AWS_DEFAULTS: dict[str, Any] = {"enableExecuteCommand": False, "enableECSManagedTags": False,
                                "propagateTags": "NONE"}
GONE_CODES = frozenset({"ServiceNotActiveException"})
# Fields whose change starts new tasks (a deployment) even with the same revision.
DEPLOYS = frozenset({"networkConfiguration", "platformVersion", "loadBalancers",
                     "serviceRegistries", "enableExecuteCommand"})
# A deployment's status and rolloutState. After a circuit-breaker rollback the new PRIMARY's
# rolloutStateReason reads "ECS deployment circuit breaker: rolling back to deploymentId
# ecs-svc/..." (the deployment it returns to, not the revision it leaves), and the failed
# deployment stays listed, no longer PRIMARY, with rolloutState FAILED, for a while.
PRIMARY, IN_PROGRESS, COMPLETED, FAILED = "PRIMARY", "IN_PROGRESS", "COMPLETED", "FAILED"
ROLLBACK_WORDING = re.compile(r"circuit breaker.*roll(ing|ed) back", re.IGNORECASE)
# Readiness.phase, exported as gitops_ecs_rollout_state.
PHASES = {IN_PROGRESS: "in_progress", COMPLETED: "completed", FAILED: "failed"}
ROLLED_BACK = "rolled_back"


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


class ServiceRegistry(SpecModel):
    registryArn: str = Field(description="usually ${ref:servicediscovery.Service/x.arn}")
    port: int | None = None
    containerName: str | None = None
    containerPort: ContainerPort | None = None


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
    serviceRegistries: list[ServiceRegistry] | None = Field(
        default=None, description="service discovery: the frontend reaches the api by name")
    tags: Tags | None = None


class ServiceDriver(Driver):
    kind = "ecs.Service"
    name_rule = ECS_NAME
    spec_model = ServiceSpec
    attributes = ("arn", "name")
    immutable = frozenset({"cluster", "launchType"})
    references = ("ecs.Cluster", "ecs.TaskDefinition", "ec2.Subnet", "ec2.SecurityGroup",
                  "elbv2.TargetGroup", "servicediscovery.Service")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        out.setdefault("launchType", "FARGATE")  # the model's default, dropped by exclude_unset
        network = out.get("networkConfiguration")
        if isinstance(network, dict) and isinstance(network.get("awsvpcConfiguration"), dict):
            out["networkConfiguration"] = {
                **network, "awsvpcConfiguration": _canonical_vpc(network["awsvpcConfiguration"])}
        if isinstance(out.get("loadBalancers"), list):
            out["loadBalancers"] = sorted(out["loadBalancers"], key=_balancer_order)
        if isinstance(out.get("serviceRegistries"), list):
            out["serviceRegistries"] = sorted(out["serviceRegistries"], key=_registry_order)
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
            cluster = _cluster_of(d)
            if cluster is not None:
                by_cluster.setdefault(cluster, []).append(d.name)
        for cluster, names in by_cluster.items():
            _services(cluster).prime(ctx, names, last_part(cluster))

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        cluster = _cluster_of(desired)
        if cluster is None:
            return None  # the cluster is not created yet, so neither is the service
        service = _services(cluster).get(ctx, desired.name, last_part(cluster))
        return None if service is None else _observed(service, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        cluster = desired.spec["cluster"]
        # create_service on a live name replaces it in the emulator: always read afresh first.
        existing = _describe(ctx, cluster, [desired.name]).get(desired.name)
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
            write_tags(ctx, live.attrs["arn"], desired, live)
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        ecs, cluster, name = ctx.client("ecs"), live.attrs["clusterArn"], live.attrs["name"]
        # Scale in first so tasks drain before the service goes (what the console does).
        if absent_ok(ecs.update_service, cluster=cluster, service=name, desiredCount=0,
                     absent=GONE_CODES) is not None:
            absent_ok(ecs.delete_service, cluster=cluster, service=name, force=True,
                      absent=GONE_CODES)
        _services(cluster).forget(ctx, name, last_part(cluster))

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the candidates (one call shared by every kind); one
        describe per cluster per ten of them, the same the observes of this run read,
        confirms them (a deleted service lingers as INACTIVE)."""
        by_cluster: dict[str, list[str]] = {}
        for arn in stack_arns(ctx, "ecs", "service/"):
            located = _cluster_and_name(arn)
            if located is not None:
                by_cluster.setdefault(located[0], []).append(located[1])
        return by_id(_described(ctx, by_cluster), ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """The rollout, from the deployments observe read: see `rollout_readiness`."""
        return rollout_readiness(live.attrs.get("deployments") or [], _wanted_revision(desired))

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        cluster = desired.spec["cluster"]
        _services(cluster).forget(ctx, desired.name, last_part(cluster))
        return reread(self, desired, ctx)


def _describe(ctx: RunContext, cluster: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """ACTIVE services by name: missing names come back in `failures`, deleted ones
    linger as DRAINING/INACTIVE; both count as absent, as does a missing cluster."""
    answer = absent_ok(ctx.client("ecs").describe_services, cluster=cluster, services=names,
                       include=["TAGS"])
    services = answer["services"] if answer is not None else []
    return {s["serviceName"]: s for s in services if s.get("status") == "ACTIVE"}


def _services(cluster: str) -> ByNames[dict[str, Any]]:
    """One cluster's services, read ten at a time. Callers pass the cluster's name as the
    scope, so a spec naming it by ARN and one naming it by name share the reads."""
    return ByNames("ecs.services", lambda ctx, names: _describe(ctx, cluster, names),
                   DESCRIBE_LIMIT)


def _cluster_of(desired: Desired) -> str | None:
    """The cluster the spec names (ARN or name), None while it is only known after apply."""
    cluster = desired.spec.get("cluster")
    return cluster if isinstance(cluster, str) and not is_unknown(cluster) else None


def _cluster_and_name(arn: str) -> tuple[str, str] | None:
    """(cluster ARN, service name) of a service ARN in the long form (the only one that
    carries tags: `...:service/<cluster>/<name>`)."""
    head, _, resource = arn.rpartition(":")
    parts = resource.split("/")
    if len(parts) != 3 or parts[0] != "service":
        return None
    return f"{head}:cluster/{parts[1]}", parts[2]


def _described(ctx: RunContext, by_cluster: dict[str, list[str]]) -> Iterator[Observed]:
    """The live services among these names, as the inventory lists them."""
    for cluster, names in by_cluster.items():
        batch, scope = _services(cluster), last_part(cluster)
        batch.prime(ctx, names, scope)
        for name in names:
            service = batch.get(ctx, name, scope)
            if service is not None:
                yield Observed(fields={}, attrs=_attrs(service), tags=live_tags(service))


def _canonical_vpc(vpc: dict[str, Any]) -> dict[str, Any]:
    out = dict(vpc)
    for key in ("subnets", "securityGroups"):
        if isinstance(out.get(key), list):
            out[key] = sorted(out[key])
    if out.get("assignPublicIp") is None:
        out["assignPublicIp"] = "DISABLED"  # AWS's default, which it echoes
    return out


def _registry_order(registry: dict[str, Any]) -> str:
    return str(registry.get("registryArn"))


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
    fields["serviceRegistries"] = sorted(service.get("serviceRegistries") or [],
                                         key=_registry_order)
    if "tags" in desired.spec:
        fields["tags"] = live_user_tags(service)
    return Observed(fields=fields, attrs=_attrs(service), tags=live_tags(service))


def _attrs(service: dict[str, Any]) -> dict[str, Any]:
    """What refs, delete and readiness read: names, ARNs and the deployments."""
    return {"arn": service["serviceArn"], "name": service["serviceName"],
            "clusterArn": service["clusterArn"], "rollout": _rollout(service),
            "taskDefinitionArn": service["taskDefinition"],
            "deployments": [_deployment(d) for d in service.get("deployments") or []]}


def _deployment(deployment: dict[str, Any]) -> dict[str, Any]:
    """One deployment as plain data: after a circuit-breaker rollback the failed revision is
    only visible here (rolloutState FAILED, no longer PRIMARY), for as long as ECS lists it."""
    updated = deployment.get("updatedAt")
    return {
        **{key: deployment.get(key) for key in
           ("id", "status", "taskDefinition", "rolloutState", "rolloutStateReason")},
        **{key: deployment.get(key, 0) for key in
           ("failedTasks", "runningCount", "desiredCount")},
        "updatedAt": updated.isoformat() if isinstance(updated, datetime) else updated,
    }


def _rollout(service: dict[str, Any]) -> dict[str, Any] | None:
    """The PRIMARY deployment: what the service is rolling out to, and how it is going."""
    for deployment in service.get("deployments") or []:
        if deployment.get("status") == PRIMARY:
            return {key: deployment.get(key) for key in
                    ("id", "taskDefinition", "rolloutState", "rolloutStateReason")}
    return None


# --- readiness: ECS's rollout words, read from the deployments observe kept ----------------


def rollout_readiness(deployments: list[dict[str, Any]], wanted: str | None) -> Readiness:
    """How far ECS is with the revision git wants (`wanted`, an ARN or `family:revision`;
    None when not known yet). Pure: from the deployments one describe answered.

    Rolled back (failed) when ECS undid `wanted`; progressing while the PRIMARY does not
    run it yet (describe may lag the update) or its rollout is IN_PROGRESS; else what the
    PRIMARY's rolloutState says. No PRIMARY listed (the emulator after a create) is ready.
    """
    primary = next((d for d in deployments if d.get("status") == PRIMARY), None)
    if primary is None:
        return READY
    phase = PHASES.get(str(primary.get("rolloutState")))
    rolled_back = _rolled_back(deployments, primary, wanted)
    if rolled_back is not None:
        return Readiness("failed", f"revision {rolled_back.what} was rolled back by the ECS "
                                   f"deployment circuit breaker ({rolled_back.reason})",
                         ROLLED_BACK, rolled_back)
    if wanted is not None and not same_revision(primary.get("taskDefinition"), wanted):
        return Readiness("progressing", f"waiting for a PRIMARY deployment of "
                                        f"{revision_name(wanted)} (the PRIMARY runs "
                                        f"{_revision_of(primary)}, "
                                        f"{primary.get('rolloutState')})", phase)
    return _primary_readiness(primary, phase)


def _primary_readiness(primary: dict[str, Any], phase: str | None) -> Readiness:
    """The PRIMARY runs what git wants: its rolloutState is the answer."""
    state = primary.get("rolloutState")
    if state == IN_PROGRESS:
        return Readiness("progressing", f"rollout IN_PROGRESS: {primary.get('runningCount', 0)} "
                                        f"of {primary.get('desiredCount', 0)} tasks running, "
                                        f"{primary.get('failedTasks', 0)} failed", phase)
    if state == FAILED:
        return Readiness("failed", f"rollout FAILED: "
                                   f"{_words(primary.get('rolloutStateReason')) or FAILED}",
                         phase)
    # COMPLETED, or no rolloutState at all (deployment controllers other than ECS's).
    return Readiness("ready", "rollout COMPLETED" if state == COMPLETED else "", phase)


def _rolled_back(deployments: list[dict[str, Any]], primary: dict[str, Any],
                 wanted: str | None) -> RolledBack | None:
    """ECS rolled `wanted` back if the PRIMARY runs another revision and either a deployment
    of `wanted` FAILED (the newest such is the evidence) or the PRIMARY's reason says the
    circuit breaker is rolling back. Another revision by hand, without either, is drift."""
    if wanted is None or same_revision(primary.get("taskDefinition"), wanted):
        return None
    failed = [d for d in deployments if d.get("status") != PRIMARY
              and d.get("rolloutState") == FAILED and same_revision(d.get("taskDefinition"),
                                                                    wanted)]
    if failed:
        newest = max(failed, key=_updated)
        why = newest.get("rolloutStateReason") or primary.get("rolloutStateReason") or FAILED
        return RolledBack(_revision_of(newest), _words(why), _ids(primary, newest))
    why = str(primary.get("rolloutStateReason") or "")
    if ROLLBACK_WORDING.search(why):
        return RolledBack(revision_name(wanted), _words(why), _ids(primary))
    return None


def _wanted_revision(desired: Desired | None) -> str | None:
    """The revision git asks for, when it is known (not before its registration)."""
    revision = desired.spec.get("taskDefinition") if desired is not None else None
    return revision if isinstance(revision, str) and not is_unknown(revision) else None


def _revision_of(deployment: dict[str, Any]) -> str:
    return revision_name(str(deployment.get("taskDefinition")))


def _updated(deployment: dict[str, Any]) -> float:
    """When a deployment last changed, to pick the newest; unknown sorts first."""
    try:
        return datetime.fromisoformat(str(deployment.get("updatedAt"))).timestamp()
    except ValueError:
        return float("-inf")


def _ids(*deployments: dict[str, Any]) -> frozenset[str]:
    return frozenset(str(d["id"]) for d in deployments if d.get("id"))


def _words(text: Any) -> str:
    """ECS's sentence without its final full stop, to quote inside ours."""
    return str(text or "").rstrip(". ")
