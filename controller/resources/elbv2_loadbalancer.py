"""elbv2.LoadBalancer: an Application Load Balancer, its subnets, security groups,
attributes and tags, found by its name (unique per account and region).

All load balancers are read by one listing per run (a by-name describe fails as a whole
on one absent name), their tags by describe_tags 20 at a time; attributes are read per
load balancer, and only when the spec declares some (AWS has no batch read of them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.model import Desired, Observed, Readiness, SpecModel, Tags
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

LOAD_BALANCERS = Named("describe_load_balancers", "LoadBalancers", "LoadBalancerName",
                       "LoadBalancerArn", "loadbalancer/app/")
PROTECTION = "deletion_protection.enabled"


class LoadBalancerSpec(SpecModel):
    """The load balancer is named by the resource's `name`. `attributes` holds the load
    balancer attributes git manages (`deletion_protection.enabled`, `access_logs.s3.*`,
    `idle_timeout.timeout_seconds`...): only the keys written are compared."""

    scheme: Literal["internet-facing", "internal"] = Field(
        default="internet-facing", description="immutable: a change replaces")
    type: Literal["application"] = Field(default="application",
                                         description="immutable: a change replaces")
    subnets: list[str] = Field(min_length=2, description="a set: subnets of two or more "
                                                         "zones, usually ${ref:ec2.Subnet/NAME.id}")
    securityGroups: list[str] | None = Field(
        default=None, description="a set, usually ${ref:ec2.SecurityGroup/NAME.id}")
    ipAddressType: Literal["ipv4", "dualstack", "dualstack-without-public-ipv4"] = "ipv4"
    attributes: dict[str, str | bool | int] | None = Field(
        default=None, description='attribute -> value, e.g. "deletion_protection.enabled": true')
    tags: Tags | None = None


class DeletionProtected(Exception):
    """AWS refuses to delete a load balancer whose deletion protection is on; the driver
    says so rather than turn the protection off behind the user's back."""


class LoadBalancerDriver(NamedDriver):
    named = LOAD_BALANCERS
    kind = "elbv2.LoadBalancer"
    name_rule = ELB_NAME
    spec_model = LoadBalancerSpec
    attributes = ("arn", "dnsName", "canonicalHostedZoneId", "name", "arnSuffix")
    immutable = frozenset({"scheme", "type"})
    references = ("ec2.Subnet", "ec2.SecurityGroup")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = normalise_attributes(dict(spec))
        # the model's defaults (AWS's too), dropped from the spec by exclude_unset
        out.setdefault("scheme", "internet-facing")
        out.setdefault("type", "application")
        out.setdefault("ipAddressType", "ipv4")
        for field in ("subnets", "securityGroups"):  # sets
            if isinstance(out.get(field), list):
                out[field] = sorted(set(out[field]), key=str)
        return out

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        if action == "replace" and live is not None and \
                (live.fields.get("attributes") or {}).get(PROTECTION) == "true":
            return ("deletion protection is on: AWS refuses the delete a replace starts "
                    f"with; set {PROTECTION}: false in git and apply first")
        return None

    def attrs_of(self, item: Item) -> dict[str, Any]:
        return _attrs(item)

    def make(self, desired: Desired, ctx: RunContext) -> str:
        spec = desired.spec
        args: dict[str, Any] = {"Name": desired.name, "Subnets": spec["subnets"],
                                "Scheme": spec["scheme"], "Type": spec["type"],
                                "IpAddressType": spec["ipAddressType"],
                                "Tags": tag_list(desired)}
        if spec.get("securityGroups") is not None:
            args["SecurityGroups"] = spec["securityGroups"]
        return str(ctx.client("elbv2").create_load_balancer(**args)["LoadBalancers"][0][
            "LoadBalancerArn"])

    def write_attributes(self, arn: str, desired: Desired, ctx: RunContext) -> None:
        ctx.client("elbv2").modify_load_balancer_attributes(
            LoadBalancerArn=arn, Attributes=attribute_list(desired))

    def modify(self, desired: Desired, live: Observed, changed: list[str],
               ctx: RunContext) -> None:
        elbv2, arn, spec = ctx.client("elbv2"), live.attrs["arn"], desired.spec
        if "subnets" in changed:
            elbv2.set_subnets(LoadBalancerArn=arn, Subnets=spec["subnets"])
        if "securityGroups" in changed and spec.get("securityGroups") is not None:
            elbv2.set_security_groups(LoadBalancerArn=arn, SecurityGroups=spec["securityGroups"])
        if "ipAddressType" in changed:
            elbv2.set_ip_address_type(LoadBalancerArn=arn, IpAddressType=spec["ipAddressType"])

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Refused, in words, while deletion protection is on (read first: AWS's refusal is
        the authority, but the emulator does not enforce it); never turned off here."""
        elbv2, arn = ctx.client("elbv2"), live.attrs["arn"]
        attributes = absent_ok(elbv2.describe_load_balancer_attributes, LoadBalancerArn=arn,
                               absent=ABSENT)
        if attributes is None:
            return  # already gone
        if {a["Key"]: a.get("Value") for a in attributes["Attributes"]}.get(PROTECTION) == "true":
            raise DeletionProtected(_protected(live))
        try:
            absent_ok(elbv2.delete_load_balancer, LoadBalancerArn=arn, absent=ABSENT)
        except errors.ClientError as err:
            if error_code(err) == "OperationNotPermitted":
                raise DeletionProtected(_protected(live)) from err
            raise
        finally:
            LOAD_BALANCERS.forget(ctx, arn)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """AWS's state: provisioning (a few minutes after create), active, active_impaired
        (serving, unable to scale), failed."""
        state, reason = live.attrs.get("state"), live.attrs.get("stateReason") or ""
        if state == "provisioning":
            return Readiness("progressing", "load balancer provisioning")
        if state == "failed":
            return Readiness("failed", f"load balancer failed: {reason}".rstrip(": "))
        return Readiness(reason=f"load balancer {state}" if state else "")

    def read(self, item: Item, desired: Desired, ctx: RunContext) -> Observed:
        arn = item["LoadBalancerArn"]
        tags = tags_of(ctx, arn)
        fields: dict[str, Any] = {
            "scheme": item.get("Scheme"),
            "type": item.get("Type"),
            "subnets": sorted(z["SubnetId"] for z in item.get("AvailabilityZones") or []
                              if z.get("SubnetId")),
            "securityGroups": sorted(item.get("SecurityGroups") or []),
            "ipAddressType": item.get("IpAddressType"),
            **observed_user_tags(desired, tags),
        }
        if desired.spec.get("attributes"):
            live = ctx.client("elbv2").describe_load_balancer_attributes(LoadBalancerArn=arn)
            fields["attributes"] = declared_attributes(desired, live["Attributes"])
        return Observed(fields=fields, attrs=_attrs(item), tags=tags)


def _attrs(item: Item) -> dict[str, Any]:
    state = item.get("State") or {}
    arn = item["LoadBalancerArn"]
    return {"arn": arn, "dnsName": item.get("DNSName"),
            # CloudWatch's LoadBalancer dimension: `app/NAME/ID`, the ARN's tail
            "arnSuffix": arn_suffix(arn).removeprefix("loadbalancer/"),
            "canonicalHostedZoneId": item.get("CanonicalHostedZoneId"),
            "name": item["LoadBalancerName"], "state": state.get("Code"),
            "stateReason": state.get("Reason")}


def _protected(live: Observed) -> str:
    return (f"load balancer {live.attrs.get('name')} has deletion protection on "
            f"({PROTECTION} = true): AWS refuses to delete it. Set {PROTECTION}: false in "
            "git and apply, then delete it; the controller never turns protection off by "
            "itself")
