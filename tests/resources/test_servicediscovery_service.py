"""servicediscovery.Service against a moto server: convergence, drift, batching, deletion
out of band, and finding a service by (namespace, name)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.servicediscovery_service import ServiceDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = ServiceDriver()


@pytest.fixture
def namespace(aws: AwsEnv) -> str:
    """A private namespace made by hand: what the service's namespaceId ref reads."""
    vpc = aws.client("ec2").create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sd = aws.client("servicediscovery")
    sd.create_private_dns_namespace(Name="iq-theory.local", Vpc=vpc)
    return str(sd.list_namespaces()["Namespaces"][0]["Id"])


def desired(namespace_id: str, name: str = "api", **spec: Any) -> Desired:
    base = {"namespaceId": namespace_id,
            "dnsConfig": {"dnsRecords": [{"type": "A", "ttl": 10}]},
            "healthCheckCustomConfig": {"failureThreshold": 1},
            "description": "the api's tasks", "tags": {"app": "iq-theory"}}
    return Desired("servicediscovery.Service", name, TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv, namespace: str) -> None:
    want = desired(namespace)
    assert want.spec["dnsConfig"]["routingPolicy"] == "MULTIVALUE"  # AWS's default, written
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["id"].startswith("srv-")
    assert created.attrs["arn"].startswith("arn:aws:servicediscovery:")
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.tags is not None and live.tags["gitops:id"] == want.id


def test_a_second_create_finds_the_first(aws: AwsEnv, namespace: str) -> None:
    # moto accepts a second service of one name in a namespace (AWS refuses): the driver
    # reads first, so a repeated create never makes a twin.
    want = desired(namespace)
    first = DRIVER.create(want, aws.ctx())
    assert DRIVER.create(want, aws.ctx()).attrs["id"] == first.attrs["id"]
    assert len(aws.client("servicediscovery").list_services()["Services"]) == 1


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, Observed], None]
    path: str


DRIFT = [
    DriftCase("ttl", "a record's TTL changed by hand (UpdateService)",
              lambda c, live: c.update_service(Id=live.attrs["id"], Service={
                  "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 300}]}}),
              "spec.dnsConfig.dnsRecords[0].ttl"),
    # (records left out of UpdateService are deleted: a careful hand sends them too)
    DriftCase("description", "changed by hand",
              lambda c, live: c.update_service(Id=live.attrs["id"], Service={
                  "Description": "edited",
                  "DnsConfig": {"DnsRecords": [{"Type": "A", "TTL": 10}]}}),
              "spec.description"),
    DriftCase("tag changed", "a user tag changed by hand",
              lambda c, live: c.tag_resource(ResourceARN=live.attrs["arn"],
                                             Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, namespace: str, case: DriftCase) -> None:
    want = desired(namespace)
    created = DRIVER.create(want, aws.ctx())
    case.drift(aws.client("servicediscovery"), created)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_deleted_out_of_band_reads_absent_and_delete_succeeds_again(
        aws: AwsEnv, namespace: str) -> None:
    want = desired(namespace)
    live = DRIVER.create(want, aws.ctx())
    aws.client("servicediscovery").delete_service(Id=live.attrs["id"])
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())


def test_one_listing_per_namespace_serves_every_service(aws: AwsEnv, namespace: str) -> None:
    wants = [desired(namespace, name) for name in ("api", "frontend")]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(namespace, "absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(namespace, "absent"), ctx) is None
    assert ctx.aws.calls[("servicediscovery", "ListServices")] == 1


def test_inventory_keeps_the_stacks_services(aws: AwsEnv, namespace: str) -> None:
    DRIVER.create(desired(namespace), aws.ctx())
    aws.client("servicediscovery").create_service(
        Name="by-hand", NamespaceId=namespace,
        DnsConfig={"RoutingPolicy": "MULTIVALUE", "DnsRecords": [{"Type": "A", "TTL": 10}]})
    assert list(DRIVER.inventory(aws.ctx())) == ["servicediscovery.Service/api"]
