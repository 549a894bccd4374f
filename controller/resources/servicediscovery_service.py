"""servicediscovery.Service: a Cloud Map service (e.g. `api` in iq-theory.local), the
registry an ECS service registers its tasks in (`serviceRegistries: [{registryArn}]`), so
`api.iq-theory.local` answers the addresses of the api's running tasks.

Found by (namespace, name): names are unique per namespace, and one ListServices filtered
by NAMESPACE_ID per namespace and run (100 a page) serves every observe and the
inventory; the listing carries the DNS and health-check settings, so no GetService is
needed. Tags are one ListTagsForResource per service (no batched tag read).

UpdateService changes the DNS records' TTLs and the description in place (records left
out of it are deleted, so every update sends them all); the routing policy, the record
types and the custom health check are fixed at creation. AWS refuses
DeleteService while instances are registered (ECS deregisters its tasks when its service
goes: prune deletes ecs.Service, which refers to this kind, first).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from controller.aws.tags import as_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed, SpecModel, Tags, is_unknown
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.servicediscovery_privatednsnamespace import (
    NAMESPACES,
    NOT_FOUND,
    SERVICE,
    sd_tags,
    write_sd_tags,
)
from controller.resources.tagged import by_id

SD_NAME = NameRule(r"(?!-)[A-Za-z0-9_-]{1,63}", "a DNS label: 1-63 letters, digits, _ and -")


class DnsRecord(SpecModel):
    type: Literal["A", "AAAA", "SRV", "CNAME"] = Field(description="fixed at creation")
    ttl: int = Field(ge=0, le=2147483647, description="seconds; changes in place")


class DnsConfig(SpecModel):
    routingPolicy: Literal["MULTIVALUE", "WEIGHTED"] = Field(
        default="MULTIVALUE", description="fixed at creation")
    dnsRecords: list[DnsRecord] = Field(min_length=1)


class HealthCheckCustomConfig(SpecModel):
    failureThreshold: int | None = Field(default=None, ge=1, le=10)


class ServiceSpec(SpecModel):
    """The Cloud Map service is named by the resource's `name` (a DNS label)."""

    namespaceId: str = Field(
        description="usually ${ref:servicediscovery.PrivateDnsNamespace/x.id} (immutable)")
    dnsConfig: DnsConfig
    healthCheckCustomConfig: HealthCheckCustomConfig | None = Field(
        default=None, description="ECS reports task health (immutable)")
    description: str | None = Field(default=None, max_length=1024)
    tags: Tags | None = None


def _list(ctx: RunContext, namespace_id: str) -> dict[str, dict[str, Any]]:
    """One namespace's services by name."""
    pages = ctx.client(SERVICE).get_paginator("list_services").paginate(
        Filters=[{"Name": "NAMESPACE_ID", "Values": [namespace_id], "Condition": "EQ"}])
    return {s["Name"]: {**s, "NamespaceId": namespace_id}
            for page in pages for s in page["Services"]}


SERVICES: Listing[dict[str, Any]] = Listing("sd.services", _list)


def _namespace_of(desired: Desired) -> str | None:
    namespace = desired.spec.get("namespaceId")
    return namespace if isinstance(namespace, str) and not is_unknown(namespace) else None


class ServiceDriver(Driver):
    kind = "servicediscovery.Service"
    spec_model = ServiceSpec
    name_rule = SD_NAME
    attributes = ("id", "arn", "name")
    immutable = frozenset({"namespaceId", "healthCheckCustomConfig"})
    references = ("servicediscovery.PrivateDnsNamespace",)

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        dns = out.get("dnsConfig")
        if isinstance(dns, dict):
            out["dnsConfig"] = {"routingPolicy": "MULTIVALUE", **dns}  # AWS's default
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One ListServices per namespace.
        for namespace in sorted({n for n in map(_namespace_of, desired) if n is not None}):
            SERVICES.all(ctx, namespace)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        namespace = _namespace_of(desired)
        if namespace is None:
            return None  # the namespace is not created yet, so neither is the service
        service = SERVICES.get(ctx, desired.name, namespace)
        return None if service is None else _observed(service, desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        namespace = desired.spec["namespaceId"]
        SERVICES.forget(ctx, namespace)
        existing = self.observe(desired, ctx)  # the emulator would make a second one
        if existing is not None:
            return existing
        spec = desired.spec
        args: dict[str, Any] = {"Name": desired.name, "NamespaceId": namespace,
                                "DnsConfig": _dns_config(spec["dnsConfig"]),
                                "Tags": as_key_value_list(desired.tags())}
        custom = spec.get("healthCheckCustomConfig")
        if custom is not None:
            threshold = custom.get("failureThreshold")
            args["HealthCheckCustomConfig"] = {} if threshold is None else {
                "FailureThreshold": threshold}
        if spec.get("description") is not None:
            args["Description"] = spec["description"]
        ctx.client(SERVICE).create_service(**args)
        SERVICES.forget(ctx, namespace)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        if {"dnsConfig", "description"} & set(changed):
            # Records left out of an UpdateService are deleted (AWS's rule): they are always
            # sent. Only their TTLs change in place: a routing policy or record type that
            # differs is refused by AWS, and its error says so.
            change: dict[str, Any] = {"DnsConfig": {"DnsRecords": _dns_config(
                desired.spec["dnsConfig"])["DnsRecords"]}}
            if desired.spec.get("description") is not None:
                change["Description"] = desired.spec["description"]
            ctx.client(SERVICE).update_service(Id=live.attrs["id"], Service=change)
        if "tags" in changed:
            write_sd_tags(ctx, live.attrs["arn"], desired, live)
        SERVICES.forget(ctx, desired.spec["namespaceId"])
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """DeleteService; AWS answers ResourceInUse while instances are registered."""
        absent_ok(ctx.client(SERVICE).delete_service, Id=live.attrs["id"], absent=NOT_FOUND)
        SERVICES.forget(ctx, live.attrs["namespaceId"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The services of every private namespace of the account (one ListServices each,
        after the namespaces' listing), kept when their tags say this stack."""
        return by_id(self._found(ctx), ctx)

    def _found(self, ctx: RunContext) -> Iterator[Observed]:
        for same_name in NAMESPACES.all(ctx).values():
            for namespace in same_name:
                for service in SERVICES.all(ctx, namespace["Id"]).values():
                    yield Observed(fields={}, attrs=_attrs(service),
                                   tags=sd_tags(ctx, service["Arn"]))


def _dns_config(dns: dict[str, Any]) -> dict[str, Any]:
    return {"RoutingPolicy": dns.get("routingPolicy", "MULTIVALUE"),
            "DnsRecords": [{"Type": r["type"], "TTL": r["ttl"]} for r in dns["dnsRecords"]]}


def _attrs(service: dict[str, Any]) -> dict[str, Any]:
    return {"id": service["Id"], "arn": service["Arn"], "name": service["Name"],
            "namespaceId": service["NamespaceId"]}


def _observed(service: dict[str, Any], desired: Desired, ctx: RunContext) -> Observed:
    tags = sd_tags(ctx, service["Arn"], desired)
    dns = service.get("DnsConfig") or {}
    fields: dict[str, Any] = {
        "namespaceId": service["NamespaceId"],
        "dnsConfig": {"routingPolicy": dns.get("RoutingPolicy"),
                      "dnsRecords": [{"type": r.get("Type"), "ttl": r.get("TTL")}
                                     for r in dns.get("DnsRecords") or []]},
        "description": service.get("Description"),
    }
    custom = service.get("HealthCheckCustomConfig")
    if custom is not None:
        fields["healthCheckCustomConfig"] = {"failureThreshold": custom.get("FailureThreshold")}
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(service), tags=tags)
