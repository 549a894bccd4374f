"""servicediscovery.PrivateDnsNamespace: a Cloud Map private DNS namespace (e.g.
iq-theory.local) in one VPC, where ECS services register their tasks by name.

Found by its name (the DNS name): one ListNamespaces of the account's private namespaces
per run (100 a page) serves every observe and the inventory. Tags are one
ListTagsForResource per namespace (Cloud Map has no batched tag read). The VPC is not in
any namespace read: it is the VPC of the namespace's private hosted zone (Route 53
GetHostedZone, one call per namespace found); a zone that lists no VPC (only the emulator
has those) tells nothing, and git's VPC is taken as read.

CreatePrivateDnsNamespace is asynchronous: it answers an OperationId, and the namespace
is listed once the operation succeeds (the emulator: at once; AWS: a minute or so).
`create` does not wait: while the operation is not SUCCESS it returns the namespace as
requested, without id, and `readiness` says progressing in Cloud Map's words, so what
refers to it waits. A create in a later run that finds the operation still going reads
DuplicateRequest, and reports that operation the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed, Readiness, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.tagged import by_id, stack_tags

SERVICE = "servicediscovery"
NOT_FOUND = ("NamespaceNotFound", "ServiceNotFound", "OperationNotFound")
DNS_NAME = NameRule(r"(?!-)[A-Za-z0-9-]{1,63}(\.(?!-)[A-Za-z0-9-]{1,63})*\.?",
                    "a DNS name: labels of 1-63 letters, digits and hyphens, joined by dots")
SUCCESS, FAIL = "SUCCESS", "FAIL"


class PrivateDnsNamespaceSpec(SpecModel):
    """The namespace is named by the resource's `name`, its DNS domain."""

    vpc: str = Field(description="the VPC id, usually ${ref:ec2.Vpc/x.id} (immutable)")
    description: str | None = Field(default=None, max_length=1024)
    tags: Tags | None = None


def _list(ctx: RunContext, _: str) -> dict[str, list[dict[str, Any]]]:
    """The account's private DNS namespaces by name (a name may repeat in other VPCs)."""
    pages = ctx.client(SERVICE).get_paginator("list_namespaces").paginate(
        Filters=[{"Name": "TYPE", "Values": ["DNS_PRIVATE"], "Condition": "EQ"}])
    found: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        for namespace in page["Namespaces"]:
            found.setdefault(namespace["Name"].rstrip("."), []).append(namespace)
    return found


NAMESPACES: Listing[list[dict[str, Any]]] = Listing("sd.namespaces", _list)


def sd_tags(ctx: RunContext, arn: str, desired: Desired | None = None) -> dict[str, str]:
    """Every tag of a Cloud Map namespace or service, read once per run (observe, then the
    inventory, share it); from the stack's tagging index when they agree with `desired`
    (tagged.stack_tags)."""
    return ctx.cached(("sd.tags", arn), lambda: stack_tags(
        ctx, arn, desired, lambda: from_key_value_list(
            ctx.client(SERVICE).list_tags_for_resource(ResourceARN=arn)["Tags"])))


def write_sd_tags(ctx: RunContext, arn: str, desired: Desired, live: Observed) -> None:
    client = ctx.client(SERVICE)
    sync_tags(desired, live.tags or {},
              write=lambda tags: client.tag_resource(ResourceARN=arn,
                                                     Tags=as_key_value_list(tags)),
              remove=lambda keys: client.untag_resource(ResourceARN=arn, TagKeys=keys))
    ctx.forget(("sd.tags", arn))


def _zone_vpcs(ctx: RunContext, zone: str) -> list[str]:
    """The VPCs of a namespace's private hosted zone (Route 53), read once per run."""
    def load() -> list[str]:
        answer = ctx.client("route53").get_hosted_zone(Id=zone)
        return [v["VPCId"] for v in answer.get("VPCs") or []]
    return ctx.cached(("sd.zone-vpcs", zone), load)


def _zone(namespace: dict[str, Any]) -> str | None:
    zone = ((namespace.get("Properties") or {}).get("DnsProperties") or {}).get("HostedZoneId")
    return zone.rsplit("/", 1)[-1] if zone else None  # the emulator prefixes /hostedzone/


class PrivateDnsNamespaceDriver(Driver):
    kind = "servicediscovery.PrivateDnsNamespace"
    spec_model = PrivateDnsNamespaceSpec
    name_rule = DNS_NAME
    attributes = ("id", "arn", "hostedZoneId", "name")
    immutable = frozenset({"vpc"})
    references = ("ec2.Vpc",)

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        NAMESPACES.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        namespace = self._find(desired, ctx)
        return None if namespace is None else self._observed(namespace, desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        NAMESPACES.forget(ctx)
        existing = self.observe(desired, ctx)
        if existing is not None:
            return existing
        args: dict[str, Any] = {"Name": desired.name, "Vpc": desired.spec["vpc"],
                                "Tags": as_key_value_list(desired.tags())}
        if desired.spec.get("description") is not None:
            args["Description"] = desired.spec["description"]
        client = ctx.client(SERVICE)
        try:
            operation_id = client.create_private_dns_namespace(**args)["OperationId"]
        except errors.ClientError as err:
            # A create of an earlier run still going: AWS names its operation.
            if error_code(err) != "DuplicateRequest":
                raise
            operation_id = err.response.get("DuplicateOperationId")
            if not operation_id:
                raise
        operation = client.get_operation(OperationId=operation_id)["Operation"]
        if operation["Status"] != SUCCESS:
            return _pending(desired, operation)
        NAMESPACES.forget(ctx)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        if "description" in changed and desired.spec.get("description") is not None:
            # Asynchronous too, but a description is a record of Cloud Map's own: the
            # emulator and AWS both read it back at once.
            ctx.client(SERVICE).update_private_dns_namespace(
                Id=live.attrs["id"], Namespace={"Description": desired.spec["description"]})
        if "tags" in changed:
            write_sd_tags(ctx, live.attrs["arn"], desired, live)
        NAMESPACES.forget(ctx)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """DeleteNamespace (asynchronous); AWS refuses while services remain in it (prune
        deletes the servicediscovery.Service resources first)."""
        if live.attrs.get("id"):
            absent_ok(ctx.client(SERVICE).delete_namespace, Id=live.attrs["id"],
                      absent=NOT_FOUND)
        NAMESPACES.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The account's private namespaces (the listing observe reads), kept when their
        tags say this stack: one ListTagsForResource each."""
        return by_id(self._found(ctx), ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """Progressing while create's operation is SUBMITTED or PENDING; failed on FAIL."""
        operation = live.attrs.get("operation")
        if not operation:
            return Readiness()
        status, what = operation.get("Status"), operation.get("Type", "CREATE_NAMESPACE")
        if status == FAIL:
            return Readiness("failed", f"{what} FAIL: {operation.get('ErrorMessage', '')}")
        return Readiness("progressing", f"{what} {status} (operation {operation.get('Id')})")

    def _find(self, desired: Desired, ctx: RunContext) -> dict[str, Any] | None:
        """The namespace of this name; of several, the one in git's VPC."""
        same_name = NAMESPACES.get(ctx, desired.name.rstrip(".")) or []
        if len(same_name) <= 1:
            return same_name[0] if same_name else None
        for namespace in same_name:
            if desired.spec.get("vpc") in self._vpcs(namespace, ctx):
                return namespace
        return same_name[0]

    def _vpcs(self, namespace: dict[str, Any], ctx: RunContext) -> list[str]:
        zone = _zone(namespace)
        return _zone_vpcs(ctx, zone) if zone else []

    def _found(self, ctx: RunContext) -> Iterator[Observed]:
        for same_name in NAMESPACES.all(ctx).values():
            for namespace in same_name:
                yield Observed(fields={}, attrs=_attrs(namespace),
                               tags=sd_tags(ctx, namespace["Arn"]))

    def _observed(self, namespace: dict[str, Any], desired: Desired,
                  ctx: RunContext) -> Observed:
        tags = sd_tags(ctx, namespace["Arn"], desired)
        vpcs = self._vpcs(namespace, ctx)
        wanted = desired.spec.get("vpc")
        fields: dict[str, Any] = {
            # A zone in several VPCs is in git's if it is in any of them.
            "vpc": wanted if wanted in vpcs or not vpcs else vpcs[0],
            "description": namespace.get("Description"),
        }
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        return Observed(fields=fields, attrs=_attrs(namespace), tags=tags)


def _attrs(namespace: dict[str, Any]) -> dict[str, Any]:
    return {"id": namespace["Id"], "arn": namespace["Arn"], "name": namespace["Name"],
            "hostedZoneId": _zone(namespace)}


def _pending(desired: Desired, operation: dict[str, Any]) -> Observed:
    """A namespace AWS is still creating: as git asked for it, without id until listed."""
    return Observed(fields=dict(desired.spec),
                    attrs={"name": desired.name, "operation": {
                        k: operation.get(k) for k in ("Id", "Type", "Status", "ErrorMessage")}},
                    tags=desired.tags())
