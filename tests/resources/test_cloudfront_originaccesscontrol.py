"""cloudfront.OriginAccessControl against a moto server: convergence, drift, the ownership
marker in the description (CloudFront cannot tag an OAC), adoption, batching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.cloudfront_originaccesscontrol import OriginAccessControlDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = OriginAccessControlDriver()
NAME = "iq-theory-assets"
KIND = "cloudfront.OriginAccessControl"
MARKER = f"(gitops:stack={TEST_STACK} gitops:id={KIND}/{NAME})"


def desired(name: str = NAME, **spec: Any) -> Desired:
    base = {"description": "signs the CDN's requests to the assets bucket",
            "signingProtocol": "sigv4", "signingBehavior": "always",
            "originAccessControlOriginType": "s3"}
    return Desired(KIND, name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def _live(aws: AwsEnv, name: str = NAME) -> tuple[str, dict[str, Any], str]:
    """(id, config, ETag) of the control named `name`."""
    cloudfront = aws.client("cloudfront")
    items = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    oac_id = next(i["Id"] for i in items if i["Name"] == name)
    answer = cloudfront.get_origin_access_control(Id=oac_id)
    return oac_id, answer["OriginAccessControl"]["OriginAccessControlConfig"], answer["ETag"]


def _edit(aws: AwsEnv, **config: str) -> None:
    oac_id, live, etag = _live(aws)
    aws.client("cloudfront").update_origin_access_control(
        Id=oac_id, IfMatch=etag, OriginAccessControlConfig={**live, **config})


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["arn"] == (f"arn:aws:cloudfront::{aws.account}:"
                                    f"origin-access-control/{created.attrs['id']}")
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    # CloudFront cannot tag an OAC: the ownership tags are a marker in the description
    _, config, _ = _live(aws)
    assert config["Description"] == f"{want.spec['description']} {MARKER}"
    assert live.tags is not None and live.tags["gitops:id"] == want.id
    assert live.tags["gitops:stack"] == TEST_STACK


def test_create_never_makes_a_second_control_of_the_name(aws: AwsEnv) -> None:
    # a retried create (its answer lost) finds the control: names are unique in AWS
    first = DRIVER.create(desired(), aws.ctx())
    again = DRIVER.create(desired(), aws.ctx())
    assert again.attrs["id"] == first.attrs["id"]
    items = aws.client("cloudfront").list_origin_access_controls()["OriginAccessControlList"]
    assert items["Quantity"] == 1


@dataclass
class DriftCase:
    name: str
    why: str
    config: dict[str, str]
    path: str


DRIFT = [
    DriftCase("signing off", "a scalar of the config", {"SigningBehavior": "never"},
              "spec.signingBehavior"),
    DriftCase("description edited", "the user's text, the marker kept",
              {"Description": f"edited {MARKER}"}, "spec.description"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    _edit(aws, **case.config)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert fixed.tags == live.tags  # the marker survives the update


def test_a_control_made_by_hand_is_adopted_with_its_description(aws: AwsEnv) -> None:
    aws.client("cloudfront").create_origin_access_control(OriginAccessControlConfig={
        "Name": NAME, "Description": "made by hand", "SigningProtocol": "sigv4",
        "SigningBehavior": "always", "OriginAccessControlOriginType": "s3"})
    want = desired()
    del want.spec["description"]  # git leaves the description to whoever wrote it
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.tags == {}  # no marker: unowned, adoptable
    adopted = DRIVER.update(want, live, ["tags"], aws.ctx())
    assert adopted.tags is not None and adopted.tags["gitops:id"] == want.id
    assert adopted.fields["description"] == "made by hand"
    assert set(DRIVER.inventory(aws.ctx())) == {want.id}


def test_another_stacks_control_reads_as_theirs(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    _edit(aws, Description=MARKER.replace(TEST_STACK, "other"))
    live = DRIVER.observe(desired(), aws.ctx())
    assert live is not None and live.tags is not None
    assert live.tags["gitops:stack"] == "other"
    assert DRIVER.inventory(aws.ctx()) == {}  # never pruned by this stack


def test_deleted_out_of_band_reads_absent(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(), aws.ctx())
    oac_id, _, etag = _live(aws)
    aws.client("cloudfront").delete_origin_access_control(Id=oac_id, IfMatch=etag)
    assert DRIVER.observe(desired(), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # what is gone: succeeds


def test_delete_and_inventory(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(), aws.ctx())
    assert set(DRIVER.inventory(aws.ctx())) == {f"{KIND}/{NAME}"}
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.inventory(aws.ctx()) == {}


def test_one_listing_answers_every_control(aws: AwsEnv) -> None:
    wants = [desired(f"oac-{i}") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired("absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired("absent"), ctx) is None
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    assert ctx.aws.calls[("cloudfront", "ListOriginAccessControls")] == 1




def test_a_control_a_distribution_uses_is_not_deleted(aws: AwsEnv) -> None:
    # AWS refuses (OriginAccessControlInUse) while an origin names it: the control stays,
    # and prune deletes it once the distribution has gone
    live = DRIVER.create(desired(), aws.ctx())
    aws.client("cloudfront").create_distribution(DistributionConfig={
        "CallerReference": "uses-it", "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "assets", "DomainName": "b.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""},
            "OriginAccessControlId": live.attrs["id"]}]},
        "DefaultCacheBehavior": {"TargetOriginId": "assets",
                                 "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})
    with pytest.raises(ClientError) as err:
        DRIVER.delete(live, aws.ctx())
    assert err.value.response["Error"]["Code"] == "OriginAccessControlInUse"
    assert set(DRIVER.inventory(aws.ctx())) == {f"{KIND}/{NAME}"}
