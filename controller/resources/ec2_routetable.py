"""ec2.RouteTable: a VPC route table, its routes and its subnets, found by its ownership tags.

`routes` and `subnetIds`, when declared, are managed exactly and compare as sets:
a route or an association made by hand is drift. What AWS puts in a table itself
is never drift: the VPC's `local` route, routes propagated from a virtual private
gateway, and the prefix-list routes of gateway VPC endpoints. The main
association (the VPC's default table) is not a subnet association and is ignored.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.model import (
    READY,
    Desired,
    FieldError,
    Observed,
    Readiness,
    SpecModel,
    Tags,
    is_unknown,
)
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
from controller.resources.shapes import Ipv4Cidr

NOT_FOUND = "InvalidRouteTableID.NotFound"
ROUTE_TABLES = TaggedCollection(
    "describe_route_tables", "RouteTables", "route-table", "RouteTableId", "delete_route_table",
    absent=(NOT_FOUND,),
)
# A route's target as AWS names it -> as the spec does. The two first are what a spec
# declares; the rest only name what someone added by hand, so the plan shows it.
TARGETS = {
    "GatewayId": "gatewayId",
    "NatGatewayId": "natGatewayId",
    "TransitGatewayId": "transitGatewayId",
    "VpcPeeringConnectionId": "vpcPeeringConnectionId",
    "NetworkInterfaceId": "networkInterfaceId",
    "InstanceId": "instanceId",
    "EgressOnlyInternetGatewayId": "egressOnlyInternetGatewayId",
    "LocalGatewayId": "localGatewayId",
    "CarrierGatewayId": "carrierGatewayId",
    "CoreNetworkArn": "coreNetworkArn",
}
DECLARED_TARGETS = ("gatewayId", "natGatewayId")
# Routes AWS adds: the VPC's local route(s), and routes a VPN gateway propagates.
AWS_ORIGINS = ("CreateRouteTable", "EnableVgwRoutePropagation")
HOLDING = ("associating", "associated")


class Route(SpecModel):
    """One IPv4 route: a destination block and exactly one target."""

    destinationCidrBlock: Ipv4Cidr = Field(description="e.g. 0.0.0.0/0")
    gatewayId: str | None = Field(
        default=None, description="an internet gateway, ${ref:ec2.InternetGateway/NAME.id}")
    natGatewayId: str | None = Field(
        default=None, description="a NAT gateway, ${ref:ec2.NatGateway/NAME.id}")

    @model_validator(mode="after")
    def _one_target(self) -> Route:
        if (self.gatewayId is None) == (self.natGatewayId is None):
            raise ValueError("a route needs exactly one of gatewayId or natGatewayId")
        return self


class RouteTableSpec(SpecModel):
    """The table's `Name` tag is set to the resource's `name` on create. Omit `routes` or
    `subnetIds` to leave them unmanaged; declared, they are exactly what AWS holds
    (besides the routes AWS adds itself). A subnet has one explicit table: listing it
    here moves it from the table it had."""

    vpcId: str = Field(description="usually ${ref:ec2.Vpc/NAME.id} (immutable)")
    routes: list[Route] | None = Field(
        default=None, description="IPv4 routes besides the VPC's local one; order does not "
                                  "matter")
    subnetIds: list[str] | None = Field(
        default=None, description="subnets using this table, usually ${ref:ec2.Subnet/NAME.id}; "
                                  "order does not matter")
    tags: Tags | None = None

    @model_validator(mode="after")
    def _no_twins(self) -> RouteTableSpec:
        seen: set[str] = set()
        for i, route in enumerate(self.routes or []):
            if route.destinationCidrBlock in seen:  # AWS: RouteAlreadyExists
                raise FieldError(("routes", i, "destinationCidrBlock"),
                                 f"a second route to {route.destinationCidrBlock}: a table "
                                 "holds one route per destination")
            seen.add(route.destinationCidrBlock)
        subnets = self.subnetIds or []
        for i, subnet in enumerate(subnets):
            if subnet in subnets[:i]:
                raise FieldError(("subnetIds", i), "this subnet is listed twice")
        return self


class RouteTableDriver(TaggedEc2Driver):
    kind = "ec2.RouteTable"
    spec_model = RouteTableSpec
    attributes = ("id", "arn")
    immutable = frozenset({"vpcId"})
    references = ("ec2.Vpc", "ec2.Subnet", "ec2.InternetGateway", "ec2.NatGateway")
    collection = ROUTE_TABLES

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if out.get("routes") is not None:
            out["routes"] = canonical_routes(out["routes"])
        if out.get("subnetIds") is not None:
            out["subnetIds"] = canonical_ids(out["subnetIds"])
        return out

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        table_id = item["RouteTableId"]
        states = [(a.get("AssociationState") or {}) for a in item.get("Associations") or []
                  if not a.get("Main")]
        return {"id": table_id, "arn": ec2_arn(ctx, item["OwnerId"], "route-table", table_id),
                "associationStates": [(s.get("State", ""), s.get("StatusMessage", ""))
                                      for s in states]}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {"vpcId": item["VpcId"], **observed_tags(desired, item)}
        if "routes" in desired.spec:
            fields["routes"] = canonical_routes(list(_managed_routes(item).values()))
        if "subnetIds" in desired.spec:
            fields["subnetIds"] = canonical_ids(list(_subnet_associations(item)))
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        table = ROUTE_TABLES.owned_fresh(desired, ctx)
        if table is None:
            table = ctx.client("ec2").create_route_table(
                VpcId=desired.spec["vpcId"],
                TagSpecifications=ROUTE_TABLES.tag_specifications(desired))["RouteTable"]
        live = self.reread(desired, table["RouteTableId"], ctx)
        declared = [f for f in ("routes", "subnetIds") if desired.spec.get(f) is not None]
        return self.update(desired, live, declared, ctx) if declared else live

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        table_id = live.attrs["id"]
        routes, subnets = (desired.spec.get(f) if f in changed else None
                           for f in ("routes", "subnetIds"))
        item = _describe(ctx, table_id) if routes is not None or subnets is not None else None
        if item is not None and routes is not None:  # the live routes and association ids
            _sync_routes(ctx, table_id, routes, _managed_routes(item))
        if item is not None and subnets is not None:
            _sync_subnets(ctx, table_id, subnets, _subnet_associations(item))
        if "tags" in changed:
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, table_id, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Disassociate its subnets (AWS refuses to delete a table in use), then delete. Read
        afresh: the inventory's listing may predate an association."""
        item = _describe(ctx, live.attrs["id"])
        if item is None:
            return
        ec2 = ctx.client("ec2")
        for association in item.get("Associations") or []:
            if not association.get("Main"):
                common.absent_ok(ec2.disassociate_route_table,
                                 AssociationId=association["RouteTableAssociationId"],
                                 absent=("InvalidAssociationID.NotFound",))
        super().delete(live, ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        for state, message in live.attrs.get("associationStates") or []:
            if state == "failed":
                return Readiness("failed", f"subnet association failed: {message or state}")
            if state in ("associating", "disassociating"):
                return Readiness("progressing", f"subnet {state}")
        return READY

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Tables have no unique name: the new one comes first, and subnets move to it."""
        return "create_first"


def canonical_routes(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Routes as a set: each one's destination and set target, ordered by destination."""
    clean = [{key: value for key, value in route.items() if value is not None}
             for route in routes]
    return sorted(clean, key=lambda route: str(route.get("destinationCidrBlock", "")))


def canonical_ids(ids: list[str]) -> list[str]:
    """Ids as a set: sorted, once each. Ids known only after apply all stay (they are
    equal as text, not as resources) and come last."""
    known = sorted({i for i in ids if not is_unknown(i)})
    return known + [i for i in ids if is_unknown(i)]


def _describe(ctx: RunContext, table_id: str) -> Item | None:
    answer = common.absent_ok(ctx.client("ec2").describe_route_tables, absent=(NOT_FOUND,),
                              RouteTableIds=[table_id])
    tables: list[Item] = (answer or {}).get("RouteTables") or []
    return tables[0] if tables else None


def _managed_routes(item: Item) -> dict[str, dict[str, Any]]:
    """destination -> route in spec form, of the routes a spec manages: IPv4 routes not
    added by AWS itself (prefix-list routes of gateway endpoints have no CIDR)."""
    routes: dict[str, dict[str, Any]] = {}
    for route in item.get("Routes") or []:
        destination = route.get("DestinationCidrBlock")
        if not destination or route.get("Origin") in AWS_ORIGINS:
            continue
        if route.get("GatewayId") == "local":
            continue
        target = next(((spec_key, route[key]) for key, spec_key in TARGETS.items()
                       if route.get(key)), None)
        routes[destination] = {"destinationCidrBlock": destination,
                               **(dict([target]) if target else {})}
    return routes


def _subnet_associations(item: Item) -> dict[str, str]:
    """subnet id -> association id, of the table's explicit subnet associations."""
    return {a["SubnetId"]: a["RouteTableAssociationId"]
            for a in item.get("Associations") or []
            if not a.get("Main") and a.get("SubnetId")
            and (a.get("AssociationState") or {}).get("State", "associated") in HOLDING}


def _target(route: dict[str, Any]) -> dict[str, str]:
    """The route's target as CreateRoute / ReplaceRoute take it."""
    return {"GatewayId": route["gatewayId"]} if route.get("gatewayId") else \
        {"NatGatewayId": route["natGatewayId"]}


def _sync_routes(ctx: RunContext, table_id: str, desired: list[dict[str, Any]],
                 live: dict[str, dict[str, Any]]) -> None:
    """Make the routes exactly `desired`: new and changed routes first (ReplaceRoute keeps
    the destination routed throughout), then the ones git no longer lists."""
    ec2 = ctx.client("ec2")
    wanted = {route["destinationCidrBlock"]: route for route in desired}
    for destination, route in wanted.items():
        have = live.get(destination)
        if have is None:
            ec2.create_route(RouteTableId=table_id, DestinationCidrBlock=destination,
                             **_target(route))
        elif any(have.get(key) != route.get(key) for key in DECLARED_TARGETS) \
                or set(have) - {"destinationCidrBlock", *DECLARED_TARGETS}:
            ec2.replace_route(RouteTableId=table_id, DestinationCidrBlock=destination,
                              **_target(route))
    for destination in sorted(set(live) - set(wanted)):
        common.absent_ok(ec2.delete_route, RouteTableId=table_id,
                         DestinationCidrBlock=destination, absent=("InvalidRoute.NotFound",))


def _sync_subnets(ctx: RunContext, table_id: str, desired: list[str],
                  live: dict[str, str]) -> None:
    """Associate the subnets git adds (moving one from another table where it had one),
    then disassociate the ones it no longer lists (they fall back to the main table)."""
    ec2 = ctx.client("ec2")
    for subnet in desired:
        if subnet not in live:
            _associate(ec2, table_id, subnet)
    for subnet in sorted(set(live) - set(desired)):
        common.absent_ok(ec2.disassociate_route_table, AssociationId=live[subnet],
                         absent=("InvalidAssociationID.NotFound",))


def _associate(ec2: Any, table_id: str, subnet: str) -> None:
    """Associate `subnet`; when another table holds it, move its association here."""
    try:
        ec2.associate_route_table(RouteTableId=table_id, SubnetId=subnet)
        return
    except errors.ClientError as err:
        if error_code(err) != "Resource.AlreadyAssociated":
            raise
    held = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])["RouteTables"]
    association = next(a["RouteTableAssociationId"] for table in held
                       for a in table.get("Associations") or [] if a.get("SubnetId") == subnet)
    ec2.replace_route_table_association(AssociationId=association, RouteTableId=table_id)
