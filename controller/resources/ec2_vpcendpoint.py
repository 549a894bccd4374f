"""ec2.VpcEndpoint: a gateway or interface endpoint of an AWS service in a VPC, found by tags.

Private subnets reach S3 through a gateway endpoint (a route in their route
tables) and ECR, CloudWatch Logs, Secrets Manager or SQS through interface
endpoints (network interfaces in the subnets, behind security groups, with the
service's public DNS name answered privately). The VPC, the service and the
endpoint type are fixed; the route tables, subnets, security groups, private DNS
and policy change in place through one ModifyVpcEndpoint call.

Deleted endpoints stay listed as `deleted` for a while: the shared tag-filtered
describe (ec2_common) already treats them as gone.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import NOT_FOUND_CODES
from controller.model import READY, Desired, FieldError, Observed, Readiness, SpecModel, Tags
from controller.resources import common
from controller.resources.base import ReplaceOrder, RunContext
from controller.resources.ec2_common import (
    Item,
    TaggedCollection,
    TaggedEc2Driver,
    ec2_arn,
    observed_tags,
    tags_of,
)
from controller.resources.policy_documents import normalise_policy, policy_json

ENDPOINTS = TaggedCollection("describe_vpc_endpoints", "VpcEndpoints", "vpc-endpoint",
                             "VpcEndpointId", "delete_vpc_endpoints")
_NOT_FOUND = ("InvalidVpcEndpointId.NotFound", "InvalidVpcEndpoint.NotFound")
# The set-valued fields: spec field -> (CreateVpcEndpoint's parameter, ModifyVpcEndpoint's
# parameters adding to and removing from the set)
_SETS = {
    "routeTableIds": ("RouteTableIds", "AddRouteTableIds", "RemoveRouteTableIds"),
    "subnetIds": ("SubnetIds", "AddSubnetIds", "RemoveSubnetIds"),
    "securityGroupIds": ("SecurityGroupIds", "AddSecurityGroupIds", "RemoveSecurityGroupIds"),
}
# Endpoint states (AWS answers them in lower camel case) that will not become available.
FAILED = frozenset({"failed", "rejected", "expired"})


class VpcEndpointSpec(SpecModel):
    """A gateway endpoint takes `routeTableIds`; an interface endpoint takes `subnetIds`
    (one per zone), `securityGroupIds` and `privateDnsEnabled`. Lists are sets: order
    does not matter. Fields not written are left as AWS has them (an interface
    endpoint without groups gets the VPC's default group; the default policy allows
    everything)."""

    vpcId: str = Field(description="usually ${ref:ec2.Vpc/NAME.id} (immutable)")
    serviceName: str = Field(description="e.g. com.amazonaws.us-east-1.s3 (immutable)")
    vpcEndpointType: Literal["Gateway", "Interface"] = Field(description="immutable")
    routeTableIds: list[str] | None = Field(default=None, description="Gateway only")
    subnetIds: list[str] | None = Field(default=None, description="Interface only")
    securityGroupIds: list[str] | None = Field(default=None, description="Interface only")
    privateDnsEnabled: bool | None = Field(
        default=None, description="Interface only: the service's public name resolves to "
                                  "the endpoint inside the VPC (needs VPC DNS hostnames)")
    policy: dict[str, Any] | str | None = Field(
        default=None, description="IAM-grammar policy document (JSON or YAML map)")
    tags: Tags | None = None

    @model_validator(mode="after")
    def _fields_of_its_type(self) -> VpcEndpointSpec:
        """AWS refuses a gateway endpoint's interface fields and the other way round."""
        other = ({"subnetIds", "securityGroupIds", "privateDnsEnabled"}
                 if self.vpcEndpointType == "Gateway" else {"routeTableIds"})
        for name in sorted(other):
            if getattr(self, name) is not None:
                raise FieldError((name,), f"a {self.vpcEndpointType} endpoint has no {name}")
        return self


class VpcEndpointDriver(TaggedEc2Driver):
    kind = "ec2.VpcEndpoint"
    spec_model = VpcEndpointSpec
    attributes = ("id", "arn")
    immutable = frozenset({"vpcId", "serviceName", "vpcEndpointType"})
    references = ("ec2.Vpc", "ec2.Subnet", "ec2.SecurityGroup", "ec2.RouteTable")
    collection = ENDPOINTS

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        for name in _SETS:
            if out.get(name) is not None:
                out[name] = _as_set(out[name])
        if out.get("policy") is not None:
            out["policy"] = normalise_policy(out["policy"])
        return out

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        endpoint_id = item["VpcEndpointId"]
        return {"id": endpoint_id,
                "arn": ec2_arn(ctx, item.get("OwnerId", ""), "vpc-endpoint", endpoint_id),
                "state": item.get("State"),
                "dnsNames": [e["DnsName"] for e in item.get("DnsEntries") or []
                             if e.get("DnsName")]}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {
            "vpcId": item.get("VpcId"),
            "serviceName": item.get("ServiceName"),
            "vpcEndpointType": item.get("VpcEndpointType"),
            "routeTableIds": _as_set(item.get("RouteTableIds") or []),
            "subnetIds": _as_set(item.get("SubnetIds") or []),
            "securityGroupIds": _as_set([g["GroupId"] for g in item.get("Groups") or []]),
            "privateDnsEnabled": bool(item.get("PrivateDnsEnabled", False)),
            "policy": normalise_policy(item.get("PolicyDocument")),
            **observed_tags(desired, item),
        }
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        """By id (`adopt: vpce-...`): EC2's not-found code for endpoints is its own."""
        answer = common.absent_ok(ctx.client("ec2").describe_vpc_endpoints,
                                  VpcEndpointIds=[aws_id], absent=_NOT_FOUND)
        items: list[Item] = (answer or {}).get("VpcEndpoints", [])
        item = next((i for i in items if i.get("State") != "deleted"), None)
        return None if item is None else self.read(desired, item, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        endpoint = ENDPOINTS.owned_fresh(desired, ctx)
        if endpoint is None:
            spec = desired.spec
            args: dict[str, Any] = {
                "VpcId": spec["vpcId"],
                "ServiceName": spec["serviceName"],
                "VpcEndpointType": spec["vpcEndpointType"],
                "TagSpecifications": ENDPOINTS.tag_specifications(desired),
                # Per request: botocore's retries of this request make no twin, while an
                # endpoint deleted and made again is never answered with the dead one.
                "ClientToken": uuid.uuid4().hex,
            }
            for name, (param, _, _) in _SETS.items():
                if spec.get(name):
                    args[param] = list(spec[name])
            if spec.get("privateDnsEnabled") is not None:
                args["PrivateDnsEnabled"] = spec["privateDnsEnabled"]
            if spec.get("policy") is not None:
                args["PolicyDocument"] = policy_json(spec["policy"])
            endpoint = ctx.client("ec2").create_vpc_endpoint(**args)["VpcEndpoint"]
        return self.reread(desired, endpoint["VpcEndpointId"], ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """One ModifyVpcEndpoint for every changed field but the tags: sets by what to add
        and what to remove, so what AWS did meanwhile is not undone wholesale."""
        endpoint_id = live.attrs["id"]
        spec = desired.spec
        args: dict[str, Any] = {}
        for name, (_, add, remove) in _SETS.items():
            if name in changed and spec.get(name) is not None:
                want, have = set(spec[name]), set(live.fields.get(name) or [])
                if want - have:
                    args[add] = sorted(want - have)
                if have - want:
                    args[remove] = sorted(have - want)
        if "privateDnsEnabled" in changed and spec.get("privateDnsEnabled") is not None:
            args["PrivateDnsEnabled"] = spec["privateDnsEnabled"]
        if "policy" in changed and spec.get("policy") is not None:
            args["PolicyDocument"] = policy_json(spec["policy"])
        if args:
            ctx.client("ec2").modify_vpc_endpoint(VpcEndpointId=endpoint_id, **args)
        if "tags" in changed:
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, endpoint_id, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """DeleteVpcEndpoints answers per endpoint in `Unsuccessful` instead of failing:
        not-found there is already gone, anything else is raised as AWS's error (a
        ClientError, as a failed call would be)."""
        endpoint_id = live.attrs["id"]
        answer = common.absent_ok(ctx.client("ec2").delete_vpc_endpoints,
                                  VpcEndpointIds=[endpoint_id], absent=_NOT_FOUND) or {}
        self.forget(ctx, endpoint_id)
        for failure in answer.get("Unsuccessful") or []:
            error = failure.get("Error") or {}
            code = str(error.get("Code", "Unknown"))
            if code in _NOT_FOUND or code in NOT_FOUND_CODES:
                continue
            message = f"{endpoint_id}: {error.get('Message', '')}"
            raise errors.ClientError({"Error": {"Code": code, "Message": message}},
                              "DeleteVpcEndpoints")

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """available is ready; pending (and pendingAcceptance, for a service that accepts
        connections by hand) is on its way; failed, rejected or expired will never be."""
        state = str(live.attrs.get("state") or "")
        if state.lower() == "available":
            return READY
        if state.lower() in FAILED:
            return Readiness("failed", f"endpoint {state}")
        return Readiness("progressing", f"endpoint {state or 'state unknown'}")

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Two endpoints of one service in one VPC collide (the same prefix-list route in a
        route table, the same private DNS name): the old one goes first, unless the new one
        is in another VPC or for another service."""
        for name in ("vpcId", "serviceName"):
            if name in live.fields and desired.spec.get(name) != live.fields[name]:
                return "create_first"
        return "delete_first"


def _as_set(values: list[Any]) -> list[Any]:
    return sorted(dict.fromkeys(values), key=str)
