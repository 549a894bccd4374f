"""servicediscovery.PrivateDnsNamespace against a moto server: convergence, drift, batching,
deletion out of band, and the asynchronous create (readiness from its operation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.base import RunContext
from controller.resources.servicediscovery_privatednsnamespace import PrivateDnsNamespaceDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = PrivateDnsNamespaceDriver()
NAME = "iq-theory.local"


def vpc(aws: AwsEnv, cidr: str = "10.0.0.0/16") -> str:
    return str(aws.client("ec2").create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"])


def desired(vpc_id: str, name: str = NAME, **spec: Any) -> Desired:
    base = {"vpc": vpc_id, "description": "IQ Theory services", "tags": {"app": "iq-theory"}}
    return Desired("servicediscovery.PrivateDnsNamespace", name, TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired(vpc(aws))
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["id"].startswith("ns-") and created.attrs["hostedZoneId"]
    assert DRIVER.readiness(want, created).ready
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.tags is not None and live.tags["gitops:id"] == want.id


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, Observed], None]
    path: str


DRIFT = [
    DriftCase("description", "changed by hand (UpdatePrivateDnsNamespace)",
              lambda c, live: c.update_private_dns_namespace(
                  Id=live.attrs["id"], Namespace={"Description": "edited"}),
              "spec.description"),
    DriftCase("tag changed", "a user tag changed by hand",
              lambda c, live: c.tag_resource(ResourceARN=live.attrs["arn"],
                                             Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired(vpc(aws))
    created = DRIVER.create(want, aws.ctx())
    case.drift(aws.client("servicediscovery"), created)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_deleted_out_of_band_reads_absent_and_delete_succeeds_again(aws: AwsEnv) -> None:
    want = desired(vpc(aws))
    live = DRIVER.create(want, aws.ctx())
    aws.client("servicediscovery").delete_namespace(Id=live.attrs["id"])
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())


def test_one_listing_serves_every_namespace(aws: AwsEnv) -> None:
    # moto allows one private namespace per VPC (AWS: one per name and VPC).
    wants = [desired(vpc(aws, f"10.{i}.0.0/16"), f"n{i}.local") for i in range(2)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired("vpc-0", "absent.local")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired("vpc-0", "absent.local"), ctx) is None
    assert ctx.aws.calls[("servicediscovery", "ListNamespaces")] == 1


def test_the_vpc_is_read_from_the_hosted_zone(aws: AwsEnv) -> None:
    # moto's hosted zone of a namespace lists no VPC (AWS's always lists its VPCs): a zone
    # without VPCs tells nothing, and git's VPC stands. The Route 53 read is still made.
    want = desired(vpc(aws))
    DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    live = DRIVER.observe(want, ctx)
    assert live is not None and live.fields["vpc"] == want.spec["vpc"]
    assert ctx.aws.calls[("route53", "GetHostedZone")] == 1


class PendingOperation:
    """AWS creates a namespace asynchronously (moto: SUCCESS at once): GetOperation answers
    PENDING, as AWS does for its first minute or so."""

    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-call.servicediscovery.GetOperation", self._pending)]

    def _pending(self, **_: Any) -> tuple[Any, dict[str, Any]]:
        return _ok(), {"Operation": {
            "Id": "op-1", "Type": "CREATE_NAMESPACE", "Status": "PENDING"}}


def test_create_does_not_wait_and_reads_progressing(aws: AwsEnv) -> None:
    want = desired(vpc(aws))
    ctx = RunContext(aws.gateway(PendingOperation().hooks()), TEST_STACK)
    created = DRIVER.create(want, ctx)
    assert diff_fields(want.spec, created.fields) == []
    assert "id" not in created.attrs  # what refers to it waits for it
    readiness = DRIVER.readiness(want, created)
    assert readiness.state == "progressing" and "CREATE_NAMESPACE PENDING" in readiness.reason


@pytest.mark.parametrize(("status", "state"), [
    ("SUBMITTED", "progressing"), ("PENDING", "progressing"), ("FAIL", "failed")])
def test_readiness_is_the_operations_status(status: str, state: str) -> None:
    live = Observed(fields={}, attrs={"name": NAME, "operation": {
        "Id": "op-1", "Type": "CREATE_NAMESPACE", "Status": status, "ErrorMessage": "quota"}})
    readiness = DRIVER.readiness(None, live)
    assert readiness.state == state and status in readiness.reason


def _ok() -> AWSResponse:
    """An empty 200: what a stand-in answers before botocore would send the request."""
    return AWSResponse("", 200, HTTPHeaders(), None)
