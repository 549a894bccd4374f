"""s3.Bucket: a bucket with its versioning, default encryption, public access block, object
ownership, policy, lifecycle rules and tags.

S3 has no batch read: each sub-configuration is its own call (GetBucketVersioning,
GetBucketEncryption, GetPublicAccessBlock, GetBucketOwnershipControls, GetBucketPolicy,
GetBucketLifecycleConfiguration, GetBucketTagging), for one bucket at a time. So observe
reads only what the spec declares: an undeclared sub-configuration is not compared and
costs no call. GetBucketTagging is always read (every tag, for ownership).

Bucket names are global across every AWS account, so one document shared by stacks (in
desired/base) names its bucket per stack with `bucket: iq-theory-assets-${values.env}`;
without `bucket` the resource's name is the bucket's. Refs read the AWS name (`name`).

Existence comes from one ListBuckets per run (paginated), shared by every bucket of the
stack and by the inventory: a bucket that is not there costs no further call, and AWS's
answer names each bucket's region (the `regionalDomainName` a CloudFront origin needs).
The stack's buckets are found through the shared tagging index and confirmed by it.

Each "not set" answer (NoSuchBucketPolicy, NoSuchTagSet...) reads as AWS's meaning of
an absent configuration: no public access block is four `false` flags, no ownership
controls is ObjectWriter, a never-versioned bucket keeps no versions (Suspended).

A bucket served by CloudFront (origin access control) cannot name its distribution's ARN
in its policy: the distribution names the bucket (`regionalDomainName`), so that would be
a cycle. Its policy names the stack's account instead (`AWS:SourceArn` ArnLike
`arn:aws:cloudfront::<account>:distribution/*`; each stack has an account of its own).

A bucket holds data: the driver never empties one. Deleting a bucket that still holds
objects fails with AWS's BucketNotEmpty, said in words that tell what to do.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import ID_KEY, STACK_KEY, as_key_value_list, from_key_value_list, user_tags
from controller.model import (
    Desired,
    ExactMap,
    FieldError,
    NameRule,
    Observed,
    SpecModel,
    Tags,
    is_unknown,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import Vanished, absent_ok
from controller.resources.policy_documents import normalise_policy, policy_json
from controller.resources.shapes import KmsKey
from controller.resources.tagged import by_id, stack_arns

NO_BUCKET = "NoSuchBucket"
LIST_PAGE = 10000  # ListBuckets answers at most 10,000 buckets per call
# The codes that mean "this sub-configuration is not set" (the bucket itself exists).
NOT_SET = {
    "serverSideEncryptionConfiguration": "ServerSideEncryptionConfigurationNotFoundError",
    "publicAccessBlockConfiguration": "NoSuchPublicAccessBlockConfiguration",
    "objectOwnership": "OwnershipControlsNotFoundError",
    "policy": "NoSuchBucketPolicy",
    "lifecycleConfiguration": "NoSuchLifecycleConfiguration",
    "tags": "NoSuchTagSet",
}
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy",
                       "restrictPublicBuckets")
NEW_BUCKET_BLOCK = dict.fromkeys(PUBLIC_ACCESS_FLAGS, True)
# spec keys of lifecycle rules that are not AWS's name with its first letter lowered
_IRREGULAR = {"id": "ID"}


BUCKET_NAME = NameRule(
    r"(?!xn--|sthree-|amzn-s3-demo-)(?!\d+\.\d+\.\d+\.\d+$)(?!.*\.\.)"
    r"(?!.*(?:-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
    "3-63 lower-case letters, digits, dots and hyphens, starting and ending with a letter "
    "or digit (unique across all of AWS)")


def _bucket_name(value: str) -> str:
    problem = BUCKET_NAME.check(value)
    if problem:
        raise ValueError(problem)
    return value


BucketName = Annotated[str, AfterValidator(_bucket_name)]


class _Gone(Exception):
    """The bucket went away between two of its reads: observe answers absent."""


class VersioningConfiguration(SpecModel):
    """Once enabled, a bucket can only be suspended (it never returns to unversioned)."""

    status: Literal["Enabled", "Suspended"]


class ServerSideEncryptionConfiguration(SpecModel):
    """The bucket's one default-encryption rule (S3 takes exactly one)."""

    sseAlgorithm: Literal["AES256", "aws:kms", "aws:kms:dsse"]
    kmsMasterKeyId: KmsKey | None = Field(
        default=None, description="with aws:kms only; AWS echoes what was written")
    bucketKeyEnabled: bool | None = Field(
        default=None, description="S3 Bucket Keys (fewer KMS requests); AWS default false")

    @model_validator(mode="after")
    def _key_is_kms_only(self) -> ServerSideEncryptionConfiguration:
        if self.kmsMasterKeyId and not self.sseAlgorithm.startswith("aws:kms"):
            raise FieldError(("kmsMasterKeyId",), "a KMS key goes with sseAlgorithm aws:kms "
                                                  "(or aws:kms:dsse), not AES256")
        return self


class PublicAccessBlockConfiguration(SpecModel):
    """Undeclared flags are left as they are; no block at all means all four false."""

    blockPublicAcls: bool | None = None
    ignorePublicAcls: bool | None = None
    blockPublicPolicy: bool | None = None
    restrictPublicBuckets: bool | None = None


class LifecycleTag(SpecModel):
    key: str
    value: str


class LifecycleAnd(SpecModel):
    prefix: str | None = None
    tags: list[LifecycleTag] | None = None
    objectSizeGreaterThan: int | None = Field(default=None, ge=0)
    objectSizeLessThan: int | None = Field(default=None, ge=1)


class LifecycleFilter(SpecModel):
    """Which objects a rule applies to; `{}` (or no filter) is every object."""

    prefix: str | None = None
    tag: LifecycleTag | None = None
    objectSizeGreaterThan: int | None = Field(default=None, ge=0)
    objectSizeLessThan: int | None = Field(default=None, ge=1)
    and_: LifecycleAnd | None = Field(default=None, alias="and")


class Expiration(SpecModel):
    days: int | None = Field(default=None, ge=1)
    date: str | None = Field(default=None, description="ISO 8601, midnight UTC")
    expiredObjectDeleteMarker: bool | None = None


class NoncurrentVersionExpiration(SpecModel):
    noncurrentDays: int = Field(ge=1, description="days after a version stops being current")
    newerNoncurrentVersions: int | None = Field(
        default=None, ge=1, description="keep this many newer noncurrent versions")


class AbortIncompleteMultipartUpload(SpecModel):
    daysAfterInitiation: int = Field(ge=1)


class Transition(SpecModel):
    days: int | None = Field(default=None, ge=0)
    date: str | None = None
    storageClass: str


class NoncurrentVersionTransition(SpecModel):
    noncurrentDays: int = Field(ge=0)
    storageClass: str
    newerNoncurrentVersions: int | None = Field(default=None, ge=1)


class LifecycleRule(SpecModel):
    """One rule, named by `id` (rules are compared in id order)."""

    id: str = Field(min_length=1, max_length=255)
    status: Literal["Enabled", "Disabled"]
    filter: LifecycleFilter | None = None
    expiration: Expiration | None = None
    noncurrentVersionExpiration: NoncurrentVersionExpiration | None = None
    abortIncompleteMultipartUpload: AbortIncompleteMultipartUpload | None = None
    transitions: list[Transition] | None = None
    noncurrentVersionTransitions: list[NoncurrentVersionTransition] | None = None


class LifecycleConfiguration(SpecModel):
    rules: list[LifecycleRule] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _unique_ids(self) -> LifecycleConfiguration:
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise FieldError(("rules",), "lifecycle rule ids must be unique")
        return self


class BucketSpec(SpecModel):
    """The bucket is made in the stack's region, named by `bucket` or else by the resource's
    `name`. `""` on policy or lifecycleConfiguration removes it."""

    bucket: BucketName | None = Field(
        default=None, description="the AWS name, global across AWS accounts (so one per "
        "stack: iq-theory-assets-${values.env}); default: the resource's name; immutable")
    versioningConfiguration: VersioningConfiguration | None = None
    serverSideEncryptionConfiguration: ServerSideEncryptionConfiguration | None = None
    publicAccessBlockConfiguration: PublicAccessBlockConfiguration | None = None
    objectOwnership: Literal["BucketOwnerEnforced", "BucketOwnerPreferred",
                             "ObjectWriter"] | None = Field(
        default=None, description="BucketOwnerEnforced turns ACLs off (AWS's default since 2023)")
    policy: dict[str, Any] | str | None = Field(
        default=None, description='bucket policy document, as a mapping or JSON text; "" '
                                  "removes it")
    lifecycleConfiguration: LifecycleConfiguration | Literal[""] | None = Field(
        default=None, description='"" removes every rule')
    tags: Tags | None = None


class BucketNotEmpty(Exception):
    """AWS refuses to delete a bucket that holds objects; the driver never empties one."""


class BucketDriver(Driver):
    kind = "s3.Bucket"
    # The resource's name is the bucket's unless `bucket` names it: a valid bucket name.
    name_rule = BUCKET_NAME
    spec_model = BucketSpec
    attributes = ("name", "arn", "regionalDomainName")
    immutable = frozenset({"bucket"})  # a bucket is never renamed: another name is another
    holds_data = True

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "policy" in out:
            out["policy"] = normalise_policy(out["policy"]) if out["policy"] != "" else None
        if "lifecycleConfiguration" in out:
            value = out["lifecycleConfiguration"]
            out["lifecycleConfiguration"] = (None if value in ("", None)
                                             else _lifecycle(value["rules"]))
        return out

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        """The bucket git names; else the one this resource made under another `bucket`
        (found by its gitops:id), so that renaming it in git reads as a replace of the
        bucket that holds the data, never as a second bucket beside a forgotten one."""
        name = bucket_name(desired)
        bucket = BUCKETS.get(ctx, name)
        if bucket is None:
            name = _renamed_from(ctx, desired) or name
            bucket = BUCKETS.get(ctx, name)
        if bucket is None:
            return None
        return _read(ctx, desired, _region(ctx, bucket), name)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        s3, spec = ctx.client("s3"), desired.spec
        region = ctx.aws.region
        config: dict[str, Any] = {"Tags": as_key_value_list(_writable(desired.tags()))}
        if region != "us-east-1":  # AWS refuses us-east-1 as a location constraint
            config["LocationConstraint"] = region
        args: dict[str, Any] = {"Bucket": bucket_name(desired),
                                "CreateBucketConfiguration": config}
        if spec.get("objectOwnership"):
            args["ObjectOwnership"] = spec["objectOwnership"]
        made_now = True
        try:
            s3.create_bucket(**args)
        except errors.ClientError as err:
            # A retry after a partial create: the bucket is ours, finish its settings.
            # (BucketAlreadyExists, another account's name, is raised as AWS says it.)
            if error_code(err) != "BucketAlreadyOwnedByYou":
                raise
            made_now = False
        BUCKETS.forget(ctx)
        given = ("bucket", "tags", "objectOwnership") if made_now else ("bucket", "tags")
        writes = [f for f, v in spec.items() if f not in given and v is not None]
        # A new bucket blocks all public access in AWS (since 2023): flags the spec leaves
        # out keep that default rather than turn false.
        _write(s3, desired, writes, {"publicAccessBlockConfiguration": NEW_BUCKET_BLOCK})
        live = _reread(ctx, desired, region)
        if not desired.tags().items() <= (live.tags or {}).items():
            # Tags in CreateBucketConfiguration are recent: where they were dropped, tag now.
            _put_tags(s3, bucket_name(desired), desired.tags())
            live = _reread(ctx, desired, region)
        return live

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        s3 = ctx.client("s3")
        _write(s3, desired, [f for f in changed if f != "tags"], live.fields)
        if "tags" in changed:
            _sync_tags(s3, desired, live.tags or {})
        return _reread(ctx, desired, live.attrs["region"])

    def delete(self, live: Observed, ctx: RunContext) -> None:
        name = live.attrs["name"]
        try:
            absent_ok(ctx.client("s3").delete_bucket, Bucket=name, absent=(NO_BUCKET,))
        except errors.ClientError as err:
            if error_code(err) == "BucketNotEmpty":
                raise BucketNotEmpty(
                    f"the bucket {name} still holds objects or object versions, and the "
                    "controller never empties a bucket: keep what must be kept elsewhere, empty "
                    "it (every object version and delete marker, e.g. `aws s3 rm "
                    f"s3://{name} --recursive` and then the versions listed by "
                    "`aws s3api list-object-versions`), then apply again") from err
            raise
        finally:
            BUCKETS.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The tagging index names the stack's buckets (one call shared by every kind); the
        run's one ListBuckets, the same observe reads, confirms they still exist."""
        found = []
        for arn, tags in stack_arns(ctx, "s3").items():
            name = arn.split(":", 5)[5]
            bucket = BUCKETS.get(ctx, name)
            if bucket is not None:
                found.append(Observed(fields={}, attrs=_attrs(name, _region(ctx, bucket)),
                                      tags=tags))
        return by_id(found, ctx)

    def at_risk(self, live: Observed) -> str | None:
        # Counting objects would cost a listing per bucket per run: words instead.
        return f"the bucket {live.attrs['name']} and every object and version in it"


def bucket_name(desired: Desired) -> str:
    """The AWS name: the spec's `bucket`, else the resource's name."""
    return str(desired.spec.get("bucket") or desired.name)


def _list_buckets(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Bucket name -> ListBuckets' entry, of every bucket of the account."""
    pages = ctx.client("s3").get_paginator("list_buckets").paginate(
        PaginationConfig={"PageSize": LIST_PAGE})
    return {b["Name"]: b for page in pages for b in page.get("Buckets", [])}


# Every bucket of the account, once per run: S3 has no narrower read of several buckets.
BUCKETS: Listing[dict[str, Any]] = Listing("s3.buckets", _list_buckets)


def _region(ctx: RunContext, bucket: dict[str, Any]) -> str:
    """AWS names each bucket's region in ListBuckets (the emulator does not: the stack's)."""
    return str(bucket.get("BucketRegion") or ctx.aws.region)


def _attrs(name: str, region: str) -> dict[str, Any]:
    partition, domain = "aws", "amazonaws.com"
    if region.startswith("cn-"):
        partition, domain = "aws-cn", "amazonaws.com.cn"
    elif region.startswith("us-gov-"):
        partition = "aws-us-gov"
    return {"name": name, "arn": f"arn:{partition}:s3:::{name}", "region": region,
            "regionalDomainName": f"{name}.s3.{region}.{domain}"}


def _renamed_from(ctx: RunContext, desired: Desired) -> str | None:
    """The AWS name of the stack's bucket tagged as `desired` (None: there is none)."""
    for arn, tags in stack_arns(ctx, "s3").items():
        if tags.get(ID_KEY) == desired.id and tags.get(STACK_KEY) == ctx.stack:
            return arn.split(":", 5)[5]
    return None


def _reread(ctx: RunContext, desired: Desired, region: str) -> Observed:
    """Read the bucket just written, without the run's listing (made before the write)."""
    live = _read(ctx, desired, region, bucket_name(desired))
    if live is None:
        raise Vanished(f"{desired.id} cannot be read back right after it was written")
    return live


def _read(ctx: RunContext, desired: Desired, region: str, name: str) -> Observed | None:
    """The bucket's tags and the sub-configurations the spec declares; None if gone."""
    s3, spec = ctx.client("s3"), desired.spec
    try:
        answer = _get(s3.get_bucket_tagging, name, NOT_SET["tags"])
        tags = from_key_value_list(answer["TagSet"] if answer else [])
        fields = {field: read(s3, name) for field, read in _READS.items() if field in spec}
    except _Gone:
        return None
    if "bucket" in spec:
        fields["bucket"] = name
    if "tags" in spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(name, region), tags=tags)


def _get(call: Any, name: str, not_set: str) -> Any:
    """`call(Bucket=name)`, None when the sub-configuration is not set; _Gone when the
    bucket itself is."""
    try:
        return call(Bucket=name)
    except errors.ClientError as err:
        if error_code(err) == not_set:
            return None
        if error_code(err) == NO_BUCKET:
            raise _Gone(name) from err
        raise


def _read_versioning(s3: Any, name: str) -> dict[str, Any]:
    answer = _get(s3.get_bucket_versioning, name, "")
    # A never-versioned bucket answers no Status: it keeps no versions, as Suspended.
    return {"status": answer.get("Status") or "Suspended"}


def _read_encryption(s3: Any, name: str) -> dict[str, Any] | None:
    answer = _get(s3.get_bucket_encryption, name, NOT_SET["serverSideEncryptionConfiguration"])
    rules = (answer or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules") or []
    if not rules:
        return None
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    return {"sseAlgorithm": default.get("SSEAlgorithm"),
            "kmsMasterKeyId": default.get("KMSMasterKeyID"),
            "bucketKeyEnabled": bool(rules[0].get("BucketKeyEnabled", False))}


def _read_public_access(s3: Any, name: str) -> dict[str, bool]:
    answer = _get(s3.get_public_access_block, name, NOT_SET["publicAccessBlockConfiguration"])
    config = (answer or {}).get("PublicAccessBlockConfiguration", {})
    return {flag: bool(config.get(_pascal_key(flag), False)) for flag in PUBLIC_ACCESS_FLAGS}


def _read_ownership(s3: Any, name: str) -> str:
    answer = _get(s3.get_bucket_ownership_controls, name, NOT_SET["objectOwnership"])
    rules = (answer or {}).get("OwnershipControls", {}).get("Rules") or []
    # No ownership controls: objects belong to their writer, as AWS did before 2023.
    return str(rules[0]["ObjectOwnership"]) if rules else "ObjectWriter"


def _read_policy(s3: Any, name: str) -> Any:
    answer = _get(s3.get_bucket_policy, name, NOT_SET["policy"])
    return normalise_policy(answer["Policy"]) if answer else None


def _read_lifecycle(s3: Any, name: str) -> dict[str, Any] | None:
    answer = _get(s3.get_bucket_lifecycle_configuration, name,
                  NOT_SET["lifecycleConfiguration"])
    rules = (answer or {}).get("Rules") or []
    return _lifecycle([_camel(r) for r in rules]) if rules else None


_READS = {
    "versioningConfiguration": _read_versioning,
    "serverSideEncryptionConfiguration": _read_encryption,
    "publicAccessBlockConfiguration": _read_public_access,
    "objectOwnership": _read_ownership,
    "policy": _read_policy,
    "lifecycleConfiguration": _read_lifecycle,
}


def _write(s3: Any, desired: Desired, fields: list[str], live: dict[str, Any]) -> None:
    """One S3 call per changed sub-configuration (tags apart)."""
    spec, name = desired.spec, bucket_name(desired)
    for field in fields:
        value: Any = spec.get(field)
        if field == "versioningConfiguration":
            s3.put_bucket_versioning(Bucket=name,
                                     VersioningConfiguration={"Status": value["status"]})
        elif field == "serverSideEncryptionConfiguration":
            s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
                "Rules": [_encryption_rule(value)]})
        elif field == "publicAccessBlockConfiguration":
            # The call sets all four flags: undeclared ones keep their live value.
            flags = {**(live.get(field) or {}), **value}
            s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
                _pascal_key(f): bool(flags.get(f, False)) for f in PUBLIC_ACCESS_FLAGS})
        elif field == "objectOwnership":
            s3.put_bucket_ownership_controls(
                Bucket=name, OwnershipControls={"Rules": [{"ObjectOwnership": value}]})
        elif field == "policy":
            if value is None:
                absent_ok(s3.delete_bucket_policy, Bucket=name)
            else:
                s3.put_bucket_policy(Bucket=name, Policy=policy_json(value))
        elif field == "lifecycleConfiguration":
            if value is None:
                absent_ok(s3.delete_bucket_lifecycle, Bucket=name)
            else:
                s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={
                    "Rules": [_pascal(dict(r)) for r in value["rules"]]})


def _encryption_rule(value: dict[str, Any]) -> dict[str, Any]:
    default = {"SSEAlgorithm": value["sseAlgorithm"]}
    if value.get("kmsMasterKeyId"):
        default["KMSMasterKeyID"] = value["kmsMasterKeyId"]
    rule: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": default}
    if value.get("bucketKeyEnabled") is not None:
        rule["BucketKeyEnabled"] = value["bucketKeyEnabled"]
    return rule


def _writable(tags: dict[str, str]) -> dict[str, str]:
    """Tags a caller may write: AWS's own `aws:` tags are refused by PutBucketTagging."""
    return {k: v for k, v in tags.items() if not k.startswith("aws:")}


def _put_tags(s3: Any, name: str, tags: dict[str, str]) -> None:
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": as_key_value_list(_writable(tags))})


def _sync_tags(s3: Any, desired: Desired, live_tags: dict[str, str]) -> None:
    """PutBucketTagging replaces the whole set: write what stays (the tags nobody manages
    when the spec has no `tags`), plus git's and the ownership tags, in one call."""
    keep = dict(live_tags)
    if "tags" in desired.spec:
        for key in set(user_tags(live_tags)) - set(desired.spec["tags"] or {}):
            keep.pop(key)
    _put_tags(s3, bucket_name(desired), {**keep, **desired.tags()})


def _lifecycle(rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Rules in id order; a filter is every key it has (`{}` or `{prefix: ""}`: every
    object), so a prefix added by hand to a whole-bucket rule shows."""
    out = []
    for rule in rules:
        rule = dict(rule)
        filter_ = dict(rule.get("filter") or {})
        if filter_.get("prefix") == "":
            del filter_["prefix"]
        rule["filter"] = ExactMap(filter_)
        if isinstance(rule.get("expiration"), dict):
            rule["expiration"] = _dated(rule["expiration"])
        if isinstance(rule.get("transitions"), list):
            rule["transitions"] = [_dated(t) for t in rule["transitions"]]
        out.append(rule)
    return {"rules": sorted(out, key=lambda r: str(r.get("id")))}


def _dated(action: dict[str, Any]) -> dict[str, Any]:
    """A lifecycle date as its day: S3 takes midnight UTC only, and answers a timestamp."""
    date = action.get("date")
    if isinstance(date, datetime.datetime | datetime.date):
        return {**action, "date": date.isoformat()[:10]}
    if isinstance(date, str) and not is_unknown(date):
        return {**action, "date": date[:10]}
    return action


def _pascal_key(key: str) -> str:
    return _IRREGULAR.get(key, key[:1].upper() + key[1:])


def _pascal(value: Any) -> Any:
    """A spec object (camelCase keys) as S3 spells it (PascalCase, `ID`)."""
    if isinstance(value, dict):
        return {_IRREGULAR.get(k, k[:1].upper() + k[1:]): _pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pascal(v) for v in value]
    return value


def _camel(value: Any) -> Any:
    """An S3 answer (PascalCase keys) in the spec's camelCase."""
    back = {v: k for k, v in _IRREGULAR.items()}
    if isinstance(value, dict):
        return {back.get(k, k[:1].lower() + k[1:]): _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value
