"""s3.Bucket against a moto server: convergence, drift per sub-configuration, reads only of
what the spec declares, one listing for N buckets, deletion out of band, a non-empty
bucket's delete, normalisation."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.base import RunContext
from controller.resources.s3_bucket import BucketDriver, BucketNotEmpty
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = BucketDriver()
NAME = "iq-theory-assets-dev"
ACCOUNT = "111111111111"
ARN = f"arn:aws:s3:::{NAME}"


def _policy(name: str = NAME) -> dict[str, Any]:
    """What desired/base/assets.yaml declares: CloudFront of this account only, TLS only."""
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "CloudFrontReadsAssets", "Effect": "Allow",
         "Principal": {"Service": "cloudfront.amazonaws.com"},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/assets/*",
         "Condition": {"ArnLike": {
             "AWS:SourceArn": f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"}}},
        {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}


def spec(name: str = NAME) -> dict[str, Any]:
    return {
        "versioningConfiguration": {"status": "Enabled"},
        "serverSideEncryptionConfiguration": {"sseAlgorithm": "AES256"},
        "publicAccessBlockConfiguration": {
            "blockPublicAcls": True, "ignorePublicAcls": True,
            "blockPublicPolicy": True, "restrictPublicBuckets": True},
        "objectOwnership": "BucketOwnerEnforced",
        "policy": _policy(name),
        "lifecycleConfiguration": {"rules": [
            {"id": "old-versions", "status": "Enabled", "filter": {"prefix": ""},
             "noncurrentVersionExpiration": {"noncurrentDays": 30}},
            {"id": "abandoned-uploads", "status": "Enabled",
             "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}}]},
        "tags": {"app": "iq-theory", "env": "dev"},
    }


def desired(name: str = NAME, stack: str = TEST_STACK, **fields: Any) -> Desired:
    return Desired("s3.Bucket", name, stack, DRIVER.normalise({**spec(name), **fields}))


def bare(name: str = NAME, **fields: Any) -> Desired:
    return Desired("s3.Bucket", name, TEST_STACK, DRIVER.normalise(fields))


def _tags(aws: AwsEnv, name: str = NAME) -> dict[str, str]:
    tag_set = aws.client("s3").get_bucket_tagging(Bucket=name)["TagSet"]
    return {t["Key"]: t["Value"] for t in tag_set}


def _no_diff(want: Desired, live: Observed | None) -> None:
    assert live is not None
    assert diff_fields(want.spec, live.fields) == []


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    _no_diff(want, created)
    _no_diff(want, DRIVER.observe(want, aws.ctx()))
    assert created.attrs == {"name": NAME, "arn": ARN, "region": "us-east-1",
                             "regionalDomainName": f"{NAME}.s3.us-east-1.amazonaws.com"}
    # moto drops CreateBucketConfiguration.Tags (AWS keeps them): the driver tags afterwards
    # when the read-back lacks them, so the bucket is ours either way.
    tags = _tags(aws)
    assert tags["gitops:id"] == f"s3.Bucket/{NAME}" and tags["gitops:stack"] == TEST_STACK
    assert tags["app"] == "iq-theory"


def test_bucket_names_the_aws_bucket_of_a_document_shared_by_stacks(aws: AwsEnv) -> None:
    # desired/base names the resource once; each stack's bucket is `bucket` (names are global).
    want = Desired("s3.Bucket", "iq-theory-assets", TEST_STACK,
                   DRIVER.normalise({**spec(), "bucket": NAME}))
    created = DRIVER.create(want, aws.ctx())
    _no_diff(want, created)
    assert created.fields["bucket"] == NAME and created.attrs["name"] == NAME
    assert _tags(aws)["gitops:id"] == "s3.Bucket/iq-theory-assets"
    assert list(DRIVER.inventory(aws.ctx())) == ["s3.Bucket/iq-theory-assets"]
    assert "bucket" in DRIVER.immutable  # another name is another bucket: a replace


def test_the_policy_denies_plain_http(aws: AwsEnv) -> None:
    # moto evaluates Deny statements: the aws:SecureTransport deny refuses a plain-HTTP put.
    DRIVER.create(desired(), aws.ctx())
    assert aws.server.url.startswith("http://")
    with pytest.raises(ClientError, match=r"403|AccessDenied"):
        aws.client("s3").put_object(Bucket=NAME, Key="assets/notes/x.png", Body=b"x")


def _suspend(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=NAME, VersioningConfiguration={"Status": "Suspended"})


def _kms(s3: Any) -> None:
    s3.put_bucket_encryption(Bucket=NAME, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]})


def _open_policy(s3: Any) -> None:
    s3.put_public_access_block(Bucket=NAME, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True})


def _reader_added(s3: Any) -> None:
    policy = _policy()
    policy["Statement"][0]["Principal"] = {"Service": "cloudfront.amazonaws.com",
                                           "AWS": "arn:aws:iam::999999999999:root"}
    s3.put_bucket_policy(Bucket=NAME, Policy=json.dumps(policy))


def _days(s3: Any) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=NAME, LifecycleConfiguration={"Rules": [
        {"ID": "old-versions", "Status": "Enabled", "Filter": {},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
        {"ID": "abandoned-uploads", "Status": "Enabled", "Filter": {},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})


def _prefix(s3: Any) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=NAME, LifecycleConfiguration={"Rules": [
        {"ID": "old-versions", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
        {"ID": "abandoned-uploads", "Status": "Enabled", "Filter": {},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]})


def _tag(s3: Any, **changes: str | None) -> None:
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=NAME)["TagSet"]}
    tags.update(changes)
    s3.put_bucket_tagging(Bucket=NAME, Tagging={"TagSet": [
        {"Key": k, "Value": v} for k, v in tags.items() if v is not None]})


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("versioning suspended", "a versioned bucket suspended by hand", _suspend,
              "spec.versioningConfiguration.status"),
    DriftCase("encryption changed", "the default encryption rule rewritten", _kms,
              "spec.serverSideEncryptionConfiguration.sseAlgorithm"),
    DriftCase("one public access flag off", "each flag is compared", _open_policy,
              "spec.publicAccessBlockConfiguration.blockPublicPolicy"),
    DriftCase("ownership controls deleted", "none reads as ObjectWriter (ACLs on)",
              lambda s3: s3.delete_bucket_ownership_controls(Bucket=NAME),
              "spec.objectOwnership"),
    DriftCase("policy deleted", "no policy reads as None",
              lambda s3: s3.delete_bucket_policy(Bucket=NAME), "spec.policy"),
    DriftCase("policy principal added", "a policy compares parsed, every statement key",
              # statements sort by their text: the Deny ("s3:*") comes first
              _reader_added, "spec.policy.Statement[1].Principal.AWS"),
    DriftCase("lifecycle deleted", "no lifecycle reads as None",
              lambda s3: s3.delete_bucket_lifecycle(Bucket=NAME), "spec.lifecycleConfiguration"),
    DriftCase("noncurrent days changed", "a rule's number, rules in id order", _days,
              "spec.lifecycleConfiguration.rules[1].noncurrentVersionExpiration.noncurrentDays"),
    DriftCase("prefix added to a whole-bucket rule", "a filter is exact: {} is every object",
              _prefix, "spec.lifecycleConfiguration.rules[1].filter.prefix"),
    DriftCase("tag changed", "a user tag changed by hand", lambda s3: _tag(s3, app="x"),
              "spec.tags.app"),
    DriftCase("tag removed", "a missing tag is drift too", lambda s3: _tag(s3, env=None),
              "spec.tags.env"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    gateway = aws.gateway()  # one per test: making boto3 clients is the slow part
    DRIVER.create(want, RunContext(gateway, TEST_STACK))
    case.drift(aws.client("s3"))
    live = DRIVER.observe(want, RunContext(gateway, TEST_STACK))
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    before = Counter(gateway.calls)
    fixed = DRIVER.update(want, live, top_level_fields(changes), RunContext(gateway, TEST_STACK))
    _no_diff(want, fixed)
    _no_diff(want, DRIVER.observe(want, RunContext(gateway, TEST_STACK)))
    writes = [op for (_, op) in gateway.calls - before if op.startswith(("Put", "Delete"))]
    assert len(writes) == 1, writes  # only the changed sub-configuration is written
    assert _tags(aws)["gitops:id"] == f"s3.Bucket/{NAME}"


def test_undeclared_sub_configurations_cost_no_call(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    ctx = aws.ctx()
    live = DRIVER.observe(bare(tags={"app": "iq-theory"}), ctx)
    assert live is not None and set(live.fields) == {"tags"}
    assert dict(ctx.aws.calls) == {("s3", "ListBuckets"): 1, ("s3", "GetBucketTagging"): 1}


def test_one_listing_serves_every_bucket_and_an_absent_one_costs_no_call(aws: AwsEnv) -> None:
    names = [f"iq-theory-b{i}" for i in range(3)]
    for name in names:
        aws.client("s3").create_bucket(Bucket=name)
    ctx = aws.ctx()
    want = [bare(n, versioningConfiguration={"status": "Enabled"}) for n in names]
    assert all(DRIVER.observe(w, ctx) is not None for w in want)
    assert DRIVER.observe(bare("iq-theory-absent"), ctx) is None
    # S3 has no batch read: versioning and tags are read per bucket, existence once.
    assert ctx.aws.calls[("s3", "ListBuckets")] == 1
    assert ctx.aws.calls[("s3", "GetBucketTagging")] == 3
    assert ctx.aws.calls[("s3", "GetBucketVersioning")] == 3


def test_deleted_out_of_band_reads_absent(aws: AwsEnv) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.observe(want, ctx)  # the run's listing still names it
    aws.client("s3").delete_bucket(Bucket=NAME)
    assert DRIVER.observe(want, ctx) is None  # NoSuchBucket on its first own read
    assert DRIVER.observe(want, aws.ctx()) is None


def test_a_bucket_holding_objects_is_never_emptied(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(policy=""), aws.ctx())
    aws.client("s3").put_object(Bucket=NAME, Key="assets/notes/a.png", Body=b"png")
    with pytest.raises(BucketNotEmpty, match=f"{NAME} still holds objects.*apply again"):
        DRIVER.delete(live, aws.ctx())
    assert aws.client("s3").list_objects_v2(Bucket=NAME)["KeyCount"] == 1
    assert DRIVER.at_risk(live) == f"the bucket {NAME} and every object and version in it"


def test_delete_of_an_empty_bucket_and_of_one_already_gone(aws: AwsEnv) -> None:
    live = DRIVER.create(desired(), aws.ctx())
    DRIVER.delete(live, aws.ctx())
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(desired(), aws.ctx()) is None


def test_inventory_finds_the_stacks_buckets_through_the_tagging_index(aws: AwsEnv) -> None:
    # moto's tagging index lists S3 buckets, as AWS's does.
    live = DRIVER.create(desired(), aws.ctx())
    DRIVER.create(desired("iq-theory-other", "other-stack"), aws.ctx("other-stack"))
    aws.client("s3").create_bucket(Bucket="not-ours-at-all")
    owned = DRIVER.inventory(aws.ctx())
    assert list(owned) == [f"s3.Bucket/{NAME}"]
    assert owned[f"s3.Bucket/{NAME}"].attrs == live.attrs
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.inventory(aws.ctx()) == {}


def test_tags_sync_in_one_put_keeping_what_git_does_not_manage(aws: AwsEnv) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    _tag(aws.client("s3"), extra="1")
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    DRIVER.update(want, live, ["tags"], aws.ctx())
    assert "extra" not in _tags(aws) and "gitops:id" in _tags(aws)
    # A spec without `tags` leaves the user's tags alone (adoption writes ownership only).
    _tag(aws.client("s3"), extra="1")
    untagged = bare(versioningConfiguration={"status": "Enabled"})
    DRIVER.update(untagged, DRIVER.observe(untagged, aws.ctx()), ["tags"],  # type: ignore[arg-type]
                  aws.ctx())
    assert _tags(aws)["extra"] == "1"


def test_undeclared_public_access_flags_keep_their_live_value(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    _open_policy(aws.client("s3"))
    want = bare(publicAccessBlockConfiguration={"blockPublicAcls": False})
    live = DRIVER.observe(want, aws.ctx())
    DRIVER.update(want, live, ["publicAccessBlockConfiguration"], aws.ctx())  # type: ignore[arg-type]
    config = aws.client("s3").get_public_access_block(Bucket=NAME)[
        "PublicAccessBlockConfiguration"]
    assert config == {"BlockPublicAcls": False, "IgnorePublicAcls": True,
                      "BlockPublicPolicy": False, "RestrictPublicBuckets": True}


def test_a_new_bucket_keeps_awss_public_access_default_for_flags_left_out(aws: AwsEnv) -> None:
    want = bare(publicAccessBlockConfiguration={"blockPublicAcls": True})
    DRIVER.create(want, aws.ctx())
    config = aws.client("s3").get_public_access_block(Bucket=NAME)[
        "PublicAccessBlockConfiguration"]
    assert set(config.values()) == {True}


def test_a_bare_bucket_reads_as_aws_means_its_absent_settings(aws: AwsEnv) -> None:
    # moto's new bucket has no encryption or public access block (AWS has defaulted both on
    # since 2023): each "not set" code reads as what AWS means by it.
    aws.client("s3").create_bucket(Bucket=NAME)
    want = bare(versioningConfiguration={"status": "Suspended"},
                serverSideEncryptionConfiguration={"sseAlgorithm": "AES256"},
                publicAccessBlockConfiguration={"blockPublicAcls": False},
                objectOwnership="ObjectWriter", policy="", lifecycleConfiguration="", tags={})
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    assert [c.path for c in diff_fields(want.spec, live.fields)] == [
        "spec.serverSideEncryptionConfiguration"]
    assert live.tags == {}


def test_normalise_meets_observe() -> None:
    text = json.dumps(_policy())
    assert DRIVER.normalise({"policy": text}) == DRIVER.normalise({"policy": _policy()})
    assert DRIVER.normalise({"policy": "", "lifecycleConfiguration": ""}) == {
        "policy": None, "lifecycleConfiguration": None}
    rules = DRIVER.normalise(spec())["lifecycleConfiguration"]["rules"]
    assert [r["id"] for r in rules] == ["abandoned-uploads", "old-versions"]
    assert rules[0]["filter"] == {} and rules[1]["filter"] == {}  # prefix "" is every object


def test_a_lifecycle_date_reads_back_as_written(aws: AwsEnv) -> None:
    # S3 answers the date as a timestamp: both sides compare as the day.
    want = bare(lifecycleConfiguration={"rules": [
        {"id": "end", "status": "Enabled", "expiration": {"date": "2030-01-01T00:00:00Z"},
         "transitions": [{"date": "2029-01-01", "storageClass": "GLACIER"}]}]})
    _no_diff(want, DRIVER.create(want, aws.ctx()))


@pytest.mark.parametrize(("name", "ok"), [
    ("iq-theory-assets-prod", True), ("ab", False), ("Upper-case", False),
    ("192.168.1.1", False), ("a..b", False), ("xn--bucket", False), ("-start", False),
    ("bucket-s3alias", False)])
def test_name_rule(name: str, ok: bool) -> None:
    assert (DRIVER.name_rule.check(name) is None) == ok


def test_spec_model_refuses_a_key_without_kms() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="KMS key"):
        DRIVER.spec_model.model_validate({"serverSideEncryptionConfiguration": {
            "sseAlgorithm": "AES256", "kmsMasterKeyId": "alias/x"}})
    with pytest.raises(ValidationError, match="3-63 lower-case"):
        DRIVER.spec_model.model_validate({"bucket": "Not_A_Bucket"})
    with pytest.raises(ValidationError, match="unique"):
        DRIVER.spec_model.model_validate({"lifecycleConfiguration": {"rules": [
            {"id": "a", "status": "Enabled"}, {"id": "a", "status": "Disabled"}]}})
