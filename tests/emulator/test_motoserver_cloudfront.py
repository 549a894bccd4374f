"""The emulator's CloudFront answers what AWS answers (controller/motoserver.py's
fill_cloudfront_*): origins keep their S3 config and origin access control, behaviours
with a cache policy carry no legacy cache settings, an ACM certificate reads as the
distribution's own, ETags version every write, and origin access controls are unique,
versioned and kept while in use. boto3 over HTTP, like every other call."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import AwsEnv

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CERT = "arn:aws:acm:us-east-1:111111111111:certificate/0f1e2d3c"
BUCKET = "iq-theory-assets-dev.s3.us-east-1.amazonaws.com"
ALB = "iq-theory-alb-1.us-east-1.elb.amazonaws.com"


@pytest.fixture
def cloudfront(aws: AwsEnv) -> Any:
    return aws.client("cloudfront")


def _control(cloudfront: Any, name: str = "assets") -> str:
    return str(cloudfront.create_origin_access_control(OriginAccessControlConfig={
        "Name": name, "SigningProtocol": "sigv4", "SigningBehavior": "always",
        "OriginAccessControlOriginType": "s3"})["OriginAccessControl"]["Id"])


def _config(control: str, reference: str = "r") -> dict[str, Any]:
    """The stack's shape: an S3 origin signed by a control, the ALB, cache policies."""
    return {
        "CallerReference": reference, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 2, "Items": [
            {"Id": "assets", "DomainName": BUCKET, "OriginPath": "",
             "S3OriginConfig": {"OriginAccessIdentity": ""},
             "OriginAccessControlId": control},
            {"Id": "alb", "DomainName": ALB, "OriginPath": "",
             "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443,
                                    "OriginProtocolPolicy": "https-only",
                                    "OriginSslProtocols": {"Quantity": 1,
                                                           "Items": ["TLSv1.2"]}},
             "ConnectionAttempts": 2, "ConnectionTimeout": 5, "ResponseCompletionTimeout": 60,
             "OriginShield": {"Enabled": True, "OriginShieldRegion": "us-east-1"}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "alb",
                                 "ViewerProtocolPolicy": "redirect-to-https",
                                 "CachePolicyId": CACHING_DISABLED,
                                 "OriginRequestPolicyId": ALL_VIEWER_EXCEPT_HOST},
        "CacheBehaviors": {"Quantity": 1, "Items": [
            {"PathPattern": "/assets/*", "TargetOriginId": "assets",
             "ViewerProtocolPolicy": "redirect-to-https", "CachePolicyId": CACHING_DISABLED,
             "Compress": True}]},
        "ViewerCertificate": {"ACMCertificateArn": CERT, "SSLSupportMethod": "sni-only",
                              "MinimumProtocolVersion": "TLSv1.2_2021"},
    }


def _create(cloudfront: Any, config: dict[str, Any]) -> tuple[str, str]:
    """(id, ETag) of a distribution made with tags, as the driver makes it."""
    made = cloudfront.create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": config, "Tags": {"Items": [{"Key": "app", "Value": "x"}]}})
    return made["Distribution"]["Id"], made["ETag"]


def _origins(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["Id"]: o for o in config["Origins"]["Items"]}


def _every_read(cloudfront: Any, dist_id: str) -> list[dict[str, Any]]:
    """The config as GetDistribution, GetDistributionConfig and ListDistributions answer."""
    listed = cloudfront.list_distributions()["DistributionList"]["Items"]
    return [cloudfront.get_distribution(Id=dist_id)["Distribution"]["DistributionConfig"],
            cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"],
            next(item for item in listed if item["Id"] == dist_id)]


# ---- origins -------------------------------------------------------------------------


def test_an_origin_keeps_its_s3_config_and_access_control_through_create_and_update(
        cloudfront: Any) -> None:
    control = _control(cloudfront)
    dist_id, etag = _create(cloudfront, _config(control))
    for config in _every_read(cloudfront, dist_id):
        assets, alb = _origins(config)["assets"], _origins(config)["alb"]
        assert assets["S3OriginConfig"] == {"OriginAccessIdentity": ""}
        assert assets["OriginAccessControlId"] == control
        assert "S3OriginConfig" not in alb and alb["OriginAccessControlId"] == ""  # AWS: ""
        assert alb["ResponseCompletionTimeout"] == 60
        # what moto already kept, kept still
        assert alb["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
        assert (alb["ConnectionAttempts"], alb["ConnectionTimeout"]) == (2, 5)
        assert alb["OriginShield"] == {"Enabled": True, "OriginShieldRegion": "us-east-1"}
    config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    config["Comment"] = "edited"
    updated = cloudfront.update_distribution(Id=dist_id, IfMatch=etag,
                                             DistributionConfig=config)
    assert _origins(updated["Distribution"]["DistributionConfig"])["assets"][
        "OriginAccessControlId"] == control
    for config in _every_read(cloudfront, dist_id):
        assert _origins(config)["assets"]["OriginAccessControlId"] == control
        assert _origins(config)["assets"]["S3OriginConfig"] == {"OriginAccessIdentity": ""}


def test_an_update_can_detach_the_access_control(cloudfront: Any) -> None:
    dist_id, _ = _create(cloudfront, _config(_control(cloudfront)))
    answer = cloudfront.get_distribution_config(Id=dist_id)
    config = answer["DistributionConfig"]
    _origins(config)["assets"]["OriginAccessControlId"] = ""
    cloudfront.update_distribution(Id=dist_id, IfMatch=answer["ETag"],
                                   DistributionConfig=config)
    for read in _every_read(cloudfront, dist_id):
        assert _origins(read)["assets"]["OriginAccessControlId"] == ""


@pytest.mark.parametrize(("origin", "code"), [
    ({"OriginAccessControlId": "E2QWRUHEXAMPLE"}, "InvalidOriginAccessControl"),
    ({"S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/E1"}},
     "IllegalOriginAccessConfiguration"),
])
def test_what_aws_refuses_of_an_origins_access(cloudfront: Any, origin: dict[str, Any],
                                               code: str) -> None:
    config = _config(_control(cloudfront))
    config["Origins"]["Items"][0].update(origin)
    with pytest.raises(ClientError) as err:
        _create(cloudfront, config)
    assert err.value.response["Error"]["Code"] == code
    assert cloudfront.list_distributions()["DistributionList"]["Quantity"] == 0


# ---- behaviours and the certificate --------------------------------------------------


def test_a_behaviour_with_a_cache_policy_has_no_legacy_cache_settings(
        cloudfront: Any) -> None:
    dist_id, _ = _create(cloudfront, _config(_control(cloudfront)))
    for config in _every_read(cloudfront, dist_id):
        default, assets = config["DefaultCacheBehavior"], config["CacheBehaviors"]["Items"][0]
        for behaviour in (default, assets):
            assert not {"ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL"} & set(behaviour)
            assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert default["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
        assert "OriginRequestPolicyId" not in assets  # never set: not answered
        assert default["Compress"] is False and assets["Compress"] is True  # AWS: false


def test_a_cache_policy_with_legacy_settings_is_refused(cloudfront: Any) -> None:
    config = _config(_control(cloudfront))
    config["DefaultCacheBehavior"]["MinTTL"] = 0
    with pytest.raises(ClientError) as err:
        _create(cloudfront, config)
    assert err.value.response["Error"]["Code"] == "InvalidArgument"


def test_an_acm_certificate_is_the_distributions_own(cloudfront: Any) -> None:
    dist_id, _ = _create(cloudfront, _config(_control(cloudfront)))
    for config in _every_read(cloudfront, dist_id):
        cert = config["ViewerCertificate"]
        assert cert["ACMCertificateArn"] == CERT
        assert cert["CloudFrontDefaultCertificate"] is False
        assert (cert["Certificate"], cert["CertificateSource"]) == (CERT, "acm")
        assert (cert["SSLSupportMethod"], cert["MinimumProtocolVersion"]) == (
            "sni-only", "TLSv1.2_2021")
        assert "IAMCertificateId" not in cert


def test_without_a_certificate_it_is_cloudfronts_default(cloudfront: Any) -> None:
    config = _config(_control(cloudfront))
    del config["ViewerCertificate"]
    dist_id, _ = _create(cloudfront, config)
    cert = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"][
        "ViewerCertificate"]
    assert cert["CloudFrontDefaultCertificate"] is True
    assert cert["CertificateSource"] == "cloudfront" and "ACMCertificateArn" not in cert


# ---- versions: ETag, IfMatch, status, delete ------------------------------------------


def test_each_update_answers_a_new_etag_and_a_stale_one_is_refused(cloudfront: Any) -> None:
    dist_id, created = _create(cloudfront, _config(_control(cloudfront)))
    config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    updated = cloudfront.update_distribution(Id=dist_id, IfMatch=created,
                                             DistributionConfig={**config, "Comment": "a"})
    assert updated["ETag"] != created
    assert updated["Distribution"]["Status"] == "InProgress"  # deployed again
    assert cloudfront.get_distribution(Id=dist_id)["ETag"] == updated["ETag"]
    assert cloudfront.get_distribution_config(Id=dist_id)["ETag"] == updated["ETag"]
    with pytest.raises(ClientError) as err:
        cloudfront.update_distribution(Id=dist_id, IfMatch=created,
                                       DistributionConfig={**config, "Comment": "b"})
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"][
        "Comment"] == "a"


def test_only_a_disabled_distribution_is_deleted_and_with_its_current_etag(
        cloudfront: Any) -> None:
    dist_id, etag = _create(cloudfront, _config(_control(cloudfront)))
    with pytest.raises(ClientError) as err:
        cloudfront.delete_distribution(Id=dist_id, IfMatch=etag)
    assert err.value.response["Error"]["Code"] == "DistributionNotDisabled"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    disabled = cloudfront.update_distribution(Id=dist_id, IfMatch=etag,
                                              DistributionConfig={**config, "Enabled": False})
    with pytest.raises(ClientError) as err:
        cloudfront.delete_distribution(Id=dist_id, IfMatch=etag)  # the version before
    assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    cloudfront.delete_distribution(Id=dist_id, IfMatch=disabled["ETag"])
    assert cloudfront.list_distributions()["DistributionList"]["Quantity"] == 0


# ---- origin access controls ------------------------------------------------------------


def test_a_control_name_is_unique(cloudfront: Any) -> None:
    _control(cloudfront, "assets")
    with pytest.raises(ClientError) as err:
        _control(cloudfront, "assets")
    assert err.value.response["Error"]["Code"] == "OriginAccessControlAlreadyExists"
    other = _control(cloudfront, "other")
    answer = cloudfront.get_origin_access_control(Id=other)
    with pytest.raises(ClientError) as err:
        cloudfront.update_origin_access_control(
            Id=other, IfMatch=answer["ETag"], OriginAccessControlConfig={
                **answer["OriginAccessControl"]["OriginAccessControlConfig"],
                "Name": "assets"})
    assert err.value.response["Error"]["Code"] == "OriginAccessControlAlreadyExists"
    listed = cloudfront.list_origin_access_controls()["OriginAccessControlList"]
    assert sorted(i["Name"] for i in listed["Items"]) == ["assets", "other"]


def test_a_controls_etag_versions_its_updates(cloudfront: Any) -> None:
    control = _control(cloudfront)
    answer = cloudfront.get_origin_access_control(Id=control)
    config = answer["OriginAccessControl"]["OriginAccessControlConfig"]
    updated = cloudfront.update_origin_access_control(
        Id=control, IfMatch=answer["ETag"],
        OriginAccessControlConfig={**config, "SigningBehavior": "never"})
    assert updated["ETag"] != answer["ETag"]
    for stale in (lambda: cloudfront.update_origin_access_control(
                      Id=control, IfMatch=answer["ETag"], OriginAccessControlConfig=config),
                  lambda: cloudfront.delete_origin_access_control(Id=control,
                                                                  IfMatch=answer["ETag"])):
        with pytest.raises(ClientError) as err:
            stale()
        assert err.value.response["Error"]["Code"] == "PreconditionFailed"
    cloudfront.delete_origin_access_control(Id=control, IfMatch=updated["ETag"])
    assert cloudfront.list_origin_access_controls()["OriginAccessControlList"][
        "Quantity"] == 0


def test_a_control_an_origin_names_is_not_deleted(cloudfront: Any) -> None:
    control = _control(cloudfront)
    dist_id, etag = _create(cloudfront, _config(control))
    oac_etag = cloudfront.get_origin_access_control(Id=control)["ETag"]
    with pytest.raises(ClientError) as err:
        cloudfront.delete_origin_access_control(Id=control, IfMatch=oac_etag)
    assert err.value.response["Error"]["Code"] == "OriginAccessControlInUse"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
    config = cloudfront.get_distribution_config(Id=dist_id)["DistributionConfig"]
    _origins(config)["assets"]["OriginAccessControlId"] = ""
    cloudfront.update_distribution(Id=dist_id, IfMatch=etag, DistributionConfig=config)
    cloudfront.delete_origin_access_control(Id=control, IfMatch=oac_etag)  # unused now
