"""elbv2.TargetGroup: a target group's health check, attributes and tags, found by its name
(unique per account and region).

All target groups are read by one listing per run, their tags by describe_tags 20 at a
time; attributes per group, only when the spec declares some. Targets are not managed
here: ECS registers a service's tasks itself (the service's `loadBalancers`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.model import Desired, Observed, SpecModel, Tags, is_unknown
from controller.resources.base import RunContext
from controller.resources.common import absent_ok
from controller.resources.elbv2_common import (
    ABSENT,
    ELB_NAME,
    Item,
    Named,
    NamedDriver,
    arn_suffix,
    attribute_list,
    declared_attributes,
    normalise_attributes,
    observed_user_tags,
    tag_list,
    tags_of,
)

TARGET_GROUPS = Named("describe_target_groups", "TargetGroups", "TargetGroupName",
                      "TargetGroupArn", "targetgroup/")
# healthCheck key -> the create / modify call's parameter (`matcher` is apart: a map)
_HEALTH = {"enabled": "HealthCheckEnabled", "path": "HealthCheckPath",
           "protocol": "HealthCheckProtocol", "port": "HealthCheckPort",
           "intervalSeconds": "HealthCheckIntervalSeconds",
           "timeoutSeconds": "HealthCheckTimeoutSeconds",
           "healthyThresholdCount": "HealthyThresholdCount",
           "unhealthyThresholdCount": "UnhealthyThresholdCount"}
IN_USE_NOTE = ("AWS refuses to delete a target group that a listener or rule forwards to "
               "(ResourceInUse): point those elsewhere first")


class HealthCheck(SpecModel):
    """Only the keys written are compared (AWS fills in the rest)."""

    enabled: bool | None = None
    path: str | None = Field(default=None, description="e.g. /health")
    protocol: Literal["HTTP", "HTTPS"] | None = None
    port: int | str | None = Field(default=None, description='a port, or "traffic-port"')
    intervalSeconds: int | None = Field(default=None, ge=5, le=300)
    timeoutSeconds: int | None = Field(default=None, ge=2, le=120)
    healthyThresholdCount: int | None = Field(default=None, ge=2, le=10)
    unhealthyThresholdCount: int | None = Field(default=None, ge=2, le=10)
    matcher: int | str | None = Field(default=None, description='HTTP codes: "200", '
                                                                '"200-399", "200,302"')


class TargetGroupSpec(SpecModel):
    """The group is named by the resource's `name`. Protocol, port, VPC and target type are
    fixed at creation: a change replaces the group, deleting it first (its name is unique),
    which AWS refuses while a listener or rule forwards to it."""

    protocol: Literal["HTTP", "HTTPS"] = Field(default="HTTP", description="immutable")
    port: int = Field(ge=1, le=65535, description="immutable")
    vpcId: str = Field(description="usually ${ref:ec2.Vpc/NAME.id} (immutable)")
    targetType: Literal["instance", "ip"] = Field(
        default="instance", description="ip for Fargate tasks; AWS's default instance "
                                        "(immutable)")
    healthCheck: HealthCheck | None = None
    attributes: dict[str, str | bool | int] | None = Field(
        default=None, description='e.g. "deregistration_delay.timeout_seconds": 30')
    tags: Tags | None = None


class TargetGroupInUse(Exception):
    """AWS refuses to delete a target group in use: said in words, with what to do."""


class TargetGroupDriver(NamedDriver):
    named = TARGET_GROUPS
    kind = "elbv2.TargetGroup"
    name_rule = ELB_NAME
    spec_model = TargetGroupSpec
    attributes = ("arn", "name", "arnSuffix")
    immutable = frozenset({"protocol", "port", "vpcId", "targetType"})
    references = ("ec2.Vpc",)

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = normalise_attributes(dict(spec))
        out.setdefault("protocol", "HTTP")
        out.setdefault("targetType", "instance")
        health = out.get("healthCheck")
        if isinstance(health, dict):
            out["healthCheck"] = {k: (str(v) if k in ("port", "matcher") and not is_unknown(v)
                                      else v) for k, v in health.items()}
        return out

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        """A replace deletes the group first (its name is unique): refused while in use."""
        if action == "replace":
            users = (live.attrs.get("loadBalancerArns") if live is not None else None) or []
            used = f" (used by {len(users)} load balancer(s) now)" if users else ""
            return f"deletes the group first, then makes it anew; {IN_USE_NOTE}{used}"
        return None

    def attrs_of(self, item: Item) -> dict[str, Any]:
        return _attrs(item)

    def make(self, desired: Desired, ctx: RunContext) -> str:
        spec = desired.spec
        args: dict[str, Any] = {"Name": desired.name, "Protocol": spec["protocol"],
                                "Port": spec["port"], "VpcId": spec["vpcId"],
                                "TargetType": spec["targetType"], "Tags": tag_list(desired),
                                **_health_args(spec.get("healthCheck"))}
        return str(ctx.client("elbv2").create_target_group(**args)["TargetGroups"][0][
            "TargetGroupArn"])

    def write_attributes(self, arn: str, desired: Desired, ctx: RunContext) -> None:
        ctx.client("elbv2").modify_target_group_attributes(
            TargetGroupArn=arn, Attributes=attribute_list(desired))

    def modify(self, desired: Desired, live: Observed, changed: list[str],
               ctx: RunContext) -> None:
        health = desired.spec.get("healthCheck")
        if "healthCheck" in changed and health:
            ctx.client("elbv2").modify_target_group(TargetGroupArn=live.attrs["arn"],
                                                    **_health_args(health))

    def delete(self, live: Observed, ctx: RunContext) -> None:
        arn = live.attrs["arn"]
        try:
            absent_ok(ctx.client("elbv2").delete_target_group, TargetGroupArn=arn,
                      absent=ABSENT)
        except errors.ClientError as err:
            if error_code(err) == "ResourceInUse":
                raise TargetGroupInUse(f"target group {live.attrs.get('name')} is in use: "
                                       f"{IN_USE_NOTE}") from err
            raise
        finally:
            TARGET_GROUPS.forget(ctx, arn)

    def read(self, item: Item, desired: Desired, ctx: RunContext) -> Observed:
        arn = item["TargetGroupArn"]
        tags = tags_of(ctx, arn)
        fields: dict[str, Any] = {
            "protocol": item.get("Protocol"),
            "port": item.get("Port"),
            "vpcId": item.get("VpcId"),
            "targetType": item.get("TargetType"),
            "healthCheck": _health(item),
            **observed_user_tags(desired, tags),
        }
        if desired.spec.get("attributes"):
            live = ctx.client("elbv2").describe_target_group_attributes(TargetGroupArn=arn)
            fields["attributes"] = declared_attributes(desired, live["Attributes"])
        return Observed(fields=fields, attrs=_attrs(item), tags=tags)


def _health(item: Item) -> dict[str, Any]:
    """The live health check in the spec's shape (all of it: the diff reads what git
    declares)."""
    health = {ours: item.get(theirs) for ours, theirs in _HEALTH.items()}
    health["matcher"] = (item.get("Matcher") or {}).get("HttpCode")
    return health


def _health_args(health: dict[str, Any] | None) -> dict[str, Any]:
    args = {_HEALTH[k]: v for k, v in (health or {}).items() if k in _HEALTH and v is not None}
    if (health or {}).get("matcher") is not None:
        args["Matcher"] = {"HttpCode": str(health["matcher"])}  # type: ignore[index]
    if "HealthCheckPort" in args:
        args["HealthCheckPort"] = str(args["HealthCheckPort"])
    return args


def _attrs(item: Item) -> dict[str, Any]:
    arn = item["TargetGroupArn"]
    return {"arn": arn, "name": item["TargetGroupName"], "arnSuffix": arn_suffix(arn),
            "loadBalancerArns": sorted(set(item.get("LoadBalancerArns") or []))}
