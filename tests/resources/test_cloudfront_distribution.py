"""cloudfront.Distribution against a moto server: convergence, drift, the ETag update that
keeps undeclared fields, the disable-then-delete, batching, identity, readiness.

The emulator keeps an origin's S3 config and origin access control, versions each write
with a new ETag and refuses to delete an enabled distribution, as AWS does
(tests/emulator/test_motoserver_cloudfront.py). It deploys within one read where AWS
takes minutes: InProgress is injected into its answers where a test needs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, ExactMap, Observed
from controller.resources import cloudfront_common as shape
from controller.resources.base import RunContext
from controller.resources.cloudfront_distribution import (
    DeleteNotFinished,
    DistributionDriver,
    DistributionSpec,
)
from controller.spec.loader import without_nulls
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = DistributionDriver()
NAME = "iq-theory-cdn"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
CERT = "arn:aws:acm:us-east-1:111111111111:certificate/0f1e2d3c"


def spec(**edits: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "enabled": True,
        "comment": "IQ Theory: assets from S3, the rest from the ALB",
        "aliases": ["app.iq-theory.example"],
        "origins": [
            {"id": "assets", "domainName": "iq-theory-assets-dev.s3.us-east-1.amazonaws.com",
             "s3OriginConfig": {"originAccessIdentity": ""}},
            {"id": "alb", "domainName": "iq-theory-alb-1.us-east-1.elb.amazonaws.com",
             "customOriginConfig": {"originProtocolPolicy": "https-only",
                                    "originSslProtocols": ["TLSv1.2"]}},
        ],
        "defaultCacheBehavior": {
            "targetOriginId": "alb", "viewerProtocolPolicy": "redirect-to-https",
            "cachePolicyId": CACHING_DISABLED, "originRequestPolicyId": ALL_VIEWER_EXCEPT_HOST,
            "allowedMethods": list(reversed(ALL_METHODS)), "compress": True},
        "cacheBehaviors": [
            {"pathPattern": "/assets/*", "targetOriginId": "assets",
             "viewerProtocolPolicy": "redirect-to-https", "cachePolicyId": CACHING_OPTIMIZED,
             "compress": True},
            {"pathPattern": "/api/*", "targetOriginId": "alb",
             "viewerProtocolPolicy": "redirect-to-https", "cachePolicyId": CACHING_DISABLED,
             "originRequestPolicyId": ALL_VIEWER_EXCEPT_HOST, "allowedMethods": ALL_METHODS},
        ],
        "viewerCertificate": {"acmCertificateArn": CERT, "sslSupportMethod": "sni-only",
                              "minimumProtocolVersion": "TLSv1.2_2021"},
        "priceClass": "PriceClass_100",
        "httpVersion": "http2and3",
        "tags": {"app": "iq-theory"},
    }
    return {k: v for k, v in {**base, **edits}.items() if v is not None}


def desired(name: str = NAME, **edits: Any) -> Desired:
    """As the loader hands it over: validated, only the fields written, normalised."""
    model = DistributionSpec.model_validate(spec(**edits))
    written = without_nulls(model.model_dump(mode="json", exclude_unset=True, by_alias=True))
    return Desired("cloudfront.Distribution", name, TEST_STACK, DRIVER.normalise(written))


def _config(aws: AwsEnv, dist_id: str) -> tuple[dict[str, Any], str]:
    answer = aws.client("cloudfront").get_distribution_config(Id=dist_id)
    return answer["DistributionConfig"], answer["ETag"]


def _edit(aws: AwsEnv, dist_id: str, change: Callable[[dict[str, Any]], None]) -> None:
    """Change the live config by hand, the way the console does (whole config, ETag)."""
    config, etag = _config(aws, dist_id)
    change(config)
    aws.client("cloudfront").update_distribution(Id=dist_id, IfMatch=etag,
                                                 DistributionConfig=config)


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert set(DRIVER.attributes) <= set(created.attrs)
    assert created.attrs["domainName"].endswith(".cloudfront.net")
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.tags is not None and live.tags["gitops:id"] == want.id
    config, _ = _config(aws, created.attrs["id"])
    # the create's idempotency key: the stack and the resource id
    assert config["CallerReference"] == f"{TEST_STACK}/{want.id}"
    assert config["DefaultCacheBehavior"]["CachePolicyId"] == CACHING_DISABLED


def test_a_repeated_create_answers_the_distribution_it_made(aws: AwsEnv) -> None:
    # The first create's answer lost: the same caller reference makes CloudFront answer
    # DistributionAlreadyExists naming the first one, which is taken (no twin).
    want = desired()
    first = DRIVER.create(want, aws.ctx())
    again = DRIVER.create(want, aws.ctx())
    assert again.attrs["id"] == first.attrs["id"]
    items = aws.client("cloudfront").list_distributions()["DistributionList"]["Items"]
    assert len(items) == 1


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[dict[str, Any]], None]
    path: str


def _origin(config: dict[str, Any], origin_id: str) -> dict[str, Any]:
    return next(o for o in config["Origins"]["Items"] if o["Id"] == origin_id)


def _behaviour(config: dict[str, Any], pattern: str) -> dict[str, Any]:
    return next(b for b in config["CacheBehaviors"]["Items"] if b["PathPattern"] == pattern)


DRIFT = [
    DriftCase("price class", "a scalar of the config",
              lambda c: c.update(PriceClass="PriceClass_All"), "spec.priceClass"),
    DriftCase("disabled by hand", "enabled is declared",
              lambda c: c.update(Enabled=False), "spec.enabled"),
    DriftCase("alias removed", "aliases are a set, unwrapped from {Quantity, Items}",
              lambda c: c.update(Aliases={"Quantity": 0}), "spec.aliases"),
    DriftCase("api caching turned on", "a behaviour matched by its path pattern",
              lambda c: _behaviour(c, "/api/*").update(CachePolicyId=CACHING_OPTIMIZED),
              "spec.cacheBehaviors[1].cachePolicyId"),
    DriftCase("origin over http", "an origin matched by id (origins sort by id: alb first)",
              lambda c: _origin(c, "alb")["CustomOriginConfig"].update(
                  OriginProtocolPolicy="http-only"),
              "spec.origins[0].customOriginConfig.originProtocolPolicy"),
    DriftCase("old tls policy", "a key of the viewer certificate",
              lambda c: c["ViewerCertificate"].update(MinimumProtocolVersion="TLSv1"),
              "spec.viewerCertificate.minimumProtocolVersion"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    dist_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    _edit(aws, dist_id, case.drift)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_tags_drift_is_corrected_and_stale_ones_removed(aws: AwsEnv) -> None:
    want = desired()
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    cloudfront = aws.client("cloudfront")
    cloudfront.tag_resource(Resource=arn, Tags={"Items": [{"Key": "app", "Value": "x"},
                                                          {"Key": "extra", "Value": "1"}]})
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    # the engine compares tags as an exact map: a tag added by hand is drift too
    want.spec["tags"] = ExactMap(want.spec["tags"])
    paths = [c.path for c in diff_fields(want.spec, live.fields)]
    assert paths == ["spec.tags.app", "spec.tags.extra"]
    DRIVER.update(want, live, ["tags"], aws.ctx())
    tags = {t["Key"]: t["Value"] for t in
            cloudfront.list_tags_for_resource(Resource=arn)["Tags"]["Items"]}
    assert tags["app"] == "iq-theory" and "extra" not in tags and tags["gitops:id"] == want.id


def test_update_keeps_what_git_does_not_declare(aws: AwsEnv) -> None:
    # CloudFront has no partial update: the driver merges into the live config, so a
    # default root object, an origin's retries and a custom header set by hand stay.
    want = desired()
    dist_id = DRIVER.create(want, aws.ctx()).attrs["id"]

    def by_hand(config: dict[str, Any]) -> None:
        config["DefaultRootObject"] = "index.html"
        config["PriceClass"] = "PriceClass_200"
        alb = _origin(config, "alb")
        alb["ConnectionAttempts"] = 2
        alb["CustomHeaders"] = {"Quantity": 1, "Items": [{"HeaderName": "X-From-Cdn",
                                                          "HeaderValue": "1"}]}
    _edit(aws, dist_id, by_hand)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    DRIVER.update(want, live, ["priceClass", "origins"], aws.ctx())
    config, _ = _config(aws, dist_id)
    assert config["PriceClass"] == "PriceClass_100"
    assert config["DefaultRootObject"] == "index.html"
    alb = _origin(config, "alb")
    assert alb["ConnectionAttempts"] == 2
    assert alb["CustomHeaders"]["Items"][0]["HeaderName"] == "X-From-Cdn"


def test_deleted_out_of_band_reads_absent(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    _edit(aws, live.attrs["id"], lambda c: c.update(Enabled=False))  # AWS deletes no other
    _, etag = _config(aws, live.attrs["id"])
    aws.client("cloudfront").delete_distribution(Id=live.attrs["id"], IfMatch=etag)
    assert DRIVER.observe(want, aws.ctx()) is None
    assert DRIVER.inventory(aws.ctx()) == {}
    DRIVER.delete(live, aws.ctx())  # what is gone: succeeds


def _in_progress(*, parsed: dict[str, Any], **_: Any) -> None:
    """moto is Deployed at once: AWS takes minutes after each write."""
    if "Distribution" in parsed:
        parsed["Distribution"]["Status"] = "InProgress"


def test_delete_disables_first_and_deletes_once_deployed(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    deploying = RunContext(aws.gateway([("after-call.cloudfront.GetDistribution",
                                         _in_progress)]), TEST_STACK)
    with pytest.raises(DeleteNotFinished, match="delete again once deployed"):
        DRIVER.delete(live, deploying)
    config, _ = _config(aws, live.attrs["id"])
    assert config["Enabled"] is False  # disabled, still there, still ours
    assert want.id in DRIVER.inventory(aws.ctx())
    # the next run: disabled and Deployed, so it is deleted
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.inventory(aws.ctx()) == {}
    # AWS (and the emulator) refuse to delete an enabled distribution: it was disabled first
    calls = deploying.aws.calls
    assert calls[("cloudfront", "UpdateDistribution")] == 1
    assert calls[("cloudfront", "DeleteDistribution")] == 0


def test_prefetch_reads_every_distribution_in_one_listing(aws: AwsEnv) -> None:
    # aliases are unique across CloudFront: the others have none
    wants = [desired(f"cdn-{i}", aliases=None, viewerCertificate=None) for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    absent = desired("absent", aliases=None)
    DRIVER.prefetch([*wants, absent], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(absent, ctx) is None
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    calls = ctx.aws.calls
    assert calls[("cloudfront", "ListDistributions")] == 1
    assert calls[("resourcegroupstaggingapi", "GetResources")] == 1
    # CloudFront has no batch tag read: one per distribution of the stack (not of the account)
    assert calls[("cloudfront", "ListTagsForResource")] == 3
    assert calls[("cloudfront", "GetDistribution")] == 0


def test_adopt_finds_a_distribution_by_id(aws: AwsEnv) -> None:
    want = desired()
    config = shape.merged({"Comment": "", "Enabled": True, "Origins": shape.wrap([]),
                           "DefaultCacheBehavior": {}, "CallerReference": "by-hand"},
                          want.spec, list(want.spec))
    made = aws.client("cloudfront").create_distribution(DistributionConfig=config)
    dist_id = made["Distribution"]["Id"]
    assert DRIVER.observe(want, aws.ctx()) is None  # not ours: not found by tags
    found = DRIVER.find(dist_id, want, aws.ctx())
    assert found is not None and found.tags == {}
    assert diff_fields(want.spec, found.fields) == [
        c for c in diff_fields(want.spec, found.fields) if c.path == "spec.tags.app"]
    adopted = DRIVER.update(want, found, ["tags"], aws.ctx())
    assert adopted.tags is not None and adopted.tags["gitops:id"] == want.id
    assert DRIVER.observe(want, aws.ctx()) is not None


def _signed(aws: AwsEnv) -> Desired:
    """The fixture with its S3 origin signed by an origin access control (made here: AWS
    refuses an id that names none)."""
    control = aws.client("cloudfront").create_origin_access_control(
        OriginAccessControlConfig={"Name": "assets", "SigningProtocol": "sigv4",
                                   "SigningBehavior": "always",
                                   "OriginAccessControlOriginType": "s3"})
    origins = spec()["origins"]
    origins[0] = {**origins[0], "originAccessControlId": control["OriginAccessControl"]["Id"]}
    return desired(origins=origins)


def test_the_origin_access_control_round_trips(aws: AwsEnv) -> None:
    want = _signed(aws)
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assets = _origin(_config(aws, created.attrs["id"])[0], "assets")
    assert assets["OriginAccessControlId"] == want.spec["origins"][1]["originAccessControlId"]
    assert assets["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_an_access_control_detached_by_hand_is_drift_and_reattached(aws: AwsEnv) -> None:
    want = _signed(aws)
    dist_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    _edit(aws, dist_id, lambda c: _origin(c, "assets").update(OriginAccessControlId=""))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    # origins sort by id: alb, then assets
    assert [c.path for c in changes] == ["spec.origins[1].originAccessControlId"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_an_update_of_other_fields_keeps_the_access_control(aws: AwsEnv) -> None:
    want = _signed(aws)
    dist_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    _edit(aws, dist_id, lambda c: c.update(PriceClass="PriceClass_All"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    DRIVER.update(want, live, ["priceClass"], aws.ctx())
    assets = _origin(_config(aws, dist_id)[0], "assets")
    assert assets["OriginAccessControlId"] == want.spec["origins"][1]["originAccessControlId"]


# --- pure: normalisation, the merge, readiness, validation ---------------------------------


def test_sets_in_any_order_and_wrapped_lists_compare_equal() -> None:
    want = desired(aliases=["www.iq-theory.example", "app.iq-theory.example"])
    live = shape.merged({"Comment": "", "Enabled": True, "Origins": shape.wrap([]),
                         "DefaultCacheBehavior": {}}, want.spec, list(want.spec))
    live["Aliases"]["Items"].reverse()
    live["DefaultCacheBehavior"]["AllowedMethods"]["Items"].reverse()
    live["Origins"]["Items"].reverse()
    untagged = {k: v for k, v in want.spec.items() if k != "tags"}
    assert diff_fields(untagged, shape.read(live)) == []


def test_the_merge_writes_what_aws_requires() -> None:
    want = desired()
    live = {"Comment": "", "Enabled": True, "Origins": shape.wrap([]),
            "DefaultCacheBehavior": {"TargetOriginId": "alb", "ForwardedValues": {},
                                     "MinTTL": 0, "DefaultTTL": 86400, "MaxTTL": 1},
            "ViewerCertificate": {"CloudFrontDefaultCertificate": True,
                                  "CertificateSource": "cloudfront"}}
    config = shape.merged(live, want.spec, list(want.spec))
    default = config["DefaultCacheBehavior"]
    # a cache policy and the legacy TTLs/forwarded values are never sent together
    assert not {"ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL"} & set(default)
    assert default["AllowedMethods"]["Quantity"] == 7
    assets = next(o for o in config["Origins"]["Items"] if o["Id"] == "assets")
    assert assets["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # an S3 origin
    cert = config["ViewerCertificate"]
    assert cert["CloudFrontDefaultCertificate"] is False and "CertificateSource" not in cert
    assert [b["PathPattern"] for b in config["CacheBehaviors"]["Items"]] == ["/assets/*",
                                                                           "/api/*"]
    assert config["Aliases"] == {"Quantity": 1, "Items": ["app.iq-theory.example"]}


def test_moving_an_s3_origin_to_an_access_control_clears_its_identity() -> None:
    # AWS refuses an origin with both (IllegalOriginAccessConfiguration); what else the
    # live S3 config holds (a read timeout set by hand) stays
    live = {"Id": "assets", "DomainName": "b.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/E1",
                               "OriginReadTimeout": 60}}
    signed = shape.origin(live, {"id": "assets", "domainName": live["DomainName"],
                                 "originAccessControlId": "E2OAC"})
    assert signed["S3OriginConfig"] == {"OriginAccessIdentity": "", "OriginReadTimeout": 60}
    assert signed["OriginAccessControlId"] == "E2OAC"
    unsigned = shape.origin(live, {"id": "assets", "domainName": live["DomainName"]})
    assert unsigned["S3OriginConfig"] == live["S3OriginConfig"]  # undeclared: kept


@pytest.mark.parametrize(("status", "state"), [
    ("Deployed", "ready"), ("InProgress", "progressing")])
def test_readiness_is_the_deployment_status(status: str, state: str) -> None:
    live = Observed(fields={}, attrs={"id": "E1", "arn": "a", "domainName": "d",
                                      "status": status})
    readiness = DRIVER.readiness(desired(), live)
    assert readiness.state == state
    assert readiness.ready or "deploying to edge locations" in readiness.reason


@pytest.mark.parametrize(("edits", "message"), [
    ({"defaultCacheBehavior": {"targetOriginId": "nowhere", "cachePolicyId": "x",
                               "viewerProtocolPolicy": "allow-all"}}, "no origin has the id"),
    ({"viewerCertificate": {"acmCertificateArn":
                            "arn:aws:acm:eu-west-1:111111111111:certificate/x"}}, "us-east-1"),
    ({"cacheBehaviors": [{"pathPattern": "/a", "targetOriginId": "alb", "cachePolicyId": "x",
                          "viewerProtocolPolicy": "allow-all", "allowedMethods": ["GET"]}]},
     "GET, HEAD"),
])
def test_what_aws_would_refuse_is_a_validation_error(edits: dict[str, Any],
                                                     message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DistributionSpec.model_validate(spec(**edits))


def test_a_certificate_ref_is_accepted_before_apply() -> None:
    DistributionSpec.model_validate(spec(viewerCertificate={
        "acmCertificateArn": "${ref:acm.Certificate/iq-theory-app.arn}"}))
