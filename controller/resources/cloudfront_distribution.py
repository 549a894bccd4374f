"""cloudfront.Distribution: a CDN in front of the stack's origins (an S3 bucket signed by
an origin access control, the load balancer), found by its ownership tags.

Identity is "tags": a distribution has no name, only an id AWS makes. The stack's
distributions are named by the tagging index (one GetResources call every kind shares),
confirmed and read from one ListDistributions (paged: the summaries carry every field
the spec has), and their tags read from CloudFront itself (ListTagsForResource), since
the index lags and the engine's ownership check before a delete relies on them.
`adopt: E2ABC...` takes over a distribution by its id.

Create is CreateDistributionWithTags (a distribution is never visible untagged) with a
CallerReference made from the stack and the resource id: CloudFront refuses a second
create with the same reference (DistributionAlreadyExists, naming the first one), so a
retried create (botocore's after a timeout, or the next run's while the index has not
caught up with the first) finds the distribution it made instead of making a twin. A
reference still held by a distribution deleted since is extended with that one's id
(`stack/id~E2OLD`), the same way on every retry.

Update: GetDistributionConfig gives the whole config and its ETag; the declared fields
are written into it (cloudfront_common.merged: list items matched by id or path, so
undeclared fields keep their live values) and UpdateDistribution sends it with
IfMatch. Every field changes in place: nothing is immutable. Each write redeploys to
every edge location: the distribution is InProgress (progressing) until Deployed.

Delete: AWS deletes only a disabled, Deployed distribution. The driver never waits, so
the first delete disables it and raises DeleteNotFinished ("delete again once
deployed"): the change reads as failed with that reason, the distribution keeps its
ownership tags, and the next run's prune (or replace) finds it again and deletes it once
it is Deployed. A delete that reported success without deleting would let a
delete-first replace create a second distribution of the same id.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import as_key_value_list, from_key_value_list, not_owned, user_tags
from controller.model import READY, Desired, FieldError, Observed, Readiness, SpecModel, Tags
from controller.resources import cloudfront_common as shape
from controller.resources.base import Driver, Identity, RunContext
from controller.resources.batch import ByNames, Listing
from controller.resources.common import Vanished, absent_ok, sync_tags
from controller.resources.shapes import ArnRule, has_ref
from controller.resources.tagged import by_id, owned_id, stack_arns

SERVICE = "cloudfront"
NO_SUCH = ("NoSuchDistribution", "NoSuchResource")
_ALREADY = "DistributionAlreadyExists"
_NAMED = re.compile(r"Already exists:\s*(?P<id>[A-Z0-9]+)")
_REFERENCE_TRIES = 4  # a reference extended past this many deleted distributions: an error

Method = Literal["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
_ALLOWED = ({"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"},
            {"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"})
_CACHED = ({"GET", "HEAD"}, {"GET", "HEAD", "OPTIONS"})
_CERTIFICATE = ArnRule("an ACM certificate ARN in us-east-1",
                       "arn:aws:acm:us-east-1:123456789012:certificate/ID",
                       {"acm": ("certificate/",)}, ref="${ref:acm.Certificate/NAME.arn}")


class DeleteNotFinished(Exception):
    """A delete AWS finishes later (a distribution disabling): run it again then."""


class S3OriginConfig(SpecModel):
    originAccessIdentity: str = Field(
        default="", description="a legacy origin access identity; \"\" with an OAC")


class CustomOriginConfig(SpecModel):
    """An HTTP origin (a load balancer). Ports default to 80 and 443 at create."""

    originProtocolPolicy: Literal["http-only", "https-only", "match-viewer"]
    httpPort: int | None = Field(default=None, ge=1, le=65535)
    httpsPort: int | None = Field(default=None, ge=1, le=65535)
    originSslProtocols: list[Literal["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2"]] | None = Field(
        default=None, min_length=1, description="a set; TLSv1.2 at create")
    originReadTimeout: int | None = Field(default=None, ge=1, le=180, description="seconds")
    originKeepaliveTimeout: int | None = Field(default=None, ge=1, le=180, description="seconds")


class Origin(SpecModel):
    """Where CloudFront fetches from. Without `customOriginConfig` it is an S3 origin."""

    id: str = Field(min_length=1, description="the name behaviours target it by")
    domainName: str = Field(description="e.g. ${ref:s3.Bucket/NAME.regionalDomainName} or "
                                        "${ref:elbv2.LoadBalancer/NAME.dnsName}")
    originPath: str | None = None
    originAccessControlId: str | None = Field(
        default=None, description="${ref:cloudfront.OriginAccessControl/NAME.id}; \"\" removes it")
    s3OriginConfig: S3OriginConfig | None = None
    customOriginConfig: CustomOriginConfig | None = None
    connectionAttempts: int | None = Field(default=None, ge=1, le=3)
    connectionTimeout: int | None = Field(default=None, ge=1, le=10, description="seconds")

    @model_validator(mode="after")
    def _one_kind(self) -> Origin:
        if self.s3OriginConfig is not None and self.customOriginConfig is not None:
            raise FieldError(("customOriginConfig",), "an origin is S3 (s3OriginConfig) or "
                                                      "custom (customOriginConfig), not both")
        return self


class DefaultCacheBehavior(SpecModel):
    """How requests are served. A cache policy is required: CloudFront's legacy cache
    settings (forwarded values, TTLs) are not supported."""

    targetOriginId: str
    viewerProtocolPolicy: Literal["allow-all", "https-only", "redirect-to-https"]
    cachePolicyId: str = Field(description="e.g. 4135ea2d-6df8-44a3-9df3-4b5a84be39ad "
                                           "(the managed CachingDisabled)")
    originRequestPolicyId: str | None = Field(default=None, description="\"\" removes it")
    responseHeadersPolicyId: str | None = Field(default=None, description="\"\" removes it")
    allowedMethods: list[Method] | None = Field(default=None, description="a set; GET, HEAD "
                                                                          "when omitted")
    cachedMethods: list[Literal["GET", "HEAD", "OPTIONS"]] | None = None
    compress: bool | None = Field(default=None, description="AWS's default is false")

    @model_validator(mode="after")
    def _method_sets(self) -> DefaultCacheBehavior:
        if self.allowedMethods is not None and set(self.allowedMethods) not in _ALLOWED:
            raise FieldError(("allowedMethods",), "CloudFront allows GET, HEAD; or GET, HEAD, "
                                                  "OPTIONS; or all seven methods")
        if self.cachedMethods is not None and set(self.cachedMethods) not in _CACHED:
            raise FieldError(("cachedMethods",), "CloudFront caches GET, HEAD; or GET, HEAD, "
                                                 "OPTIONS")
        return self


class CacheBehavior(DefaultCacheBehavior):
    pathPattern: str = Field(min_length=1, description="e.g. /api/*; the list's order is "
                                                       "the order CloudFront matches in")


class ViewerCertificate(SpecModel):
    acmCertificateArn: str | None = Field(
        default=None, description="${ref:acm.Certificate/NAME.arn}: CloudFront takes "
                                  "certificates from us-east-1 only")
    cloudFrontDefaultCertificate: bool | None = None
    sslSupportMethod: Literal["sni-only", "vip", "static-ip"] | None = None
    minimumProtocolVersion: Literal["TLSv1", "TLSv1_2016", "TLSv1.1_2016", "TLSv1.2_2018",
                                    "TLSv1.2_2019", "TLSv1.2_2021", "TLSv1.2_2025",
                                    "TLSv1.3_2025"] | None = None

    @model_validator(mode="after")
    def _us_east_1(self) -> ViewerCertificate:
        arn = self.acmCertificateArn
        if arn and not has_ref(arn) and (not _CERTIFICATE.fits(arn)
                                         or arn.split(":")[3] != "us-east-1"):
            raise FieldError(("acmCertificateArn",), "expected " + _CERTIFICATE.message())
        return self


class DistributionSpec(SpecModel):
    """Only the fields written are compared; the rest keep what AWS has."""

    enabled: bool | None = Field(default=None, description="true at create when omitted")
    comment: str | None = Field(default=None, max_length=128)
    aliases: list[str] | None = Field(default=None, description="the domains it serves (a set)")
    origins: list[Origin] = Field(min_length=1, description="a set, by id")
    defaultCacheBehavior: DefaultCacheBehavior
    cacheBehaviors: list[CacheBehavior] | None = Field(
        default=None, description="in the order CloudFront matches paths")
    viewerCertificate: ViewerCertificate | None = None
    priceClass: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] | None = None
    httpVersion: Literal["http1.1", "http2", "http3", "http2and3"] | None = None
    isIPV6Enabled: bool | None = None
    webACLId: str | None = Field(default=None, description="a WAF web ACL ARN; \"\" removes it")
    tags: Tags | None = None

    @model_validator(mode="after")
    def _targets(self) -> DistributionSpec:
        ids = [o.id for o in self.origins]
        for i, origin_id in enumerate(ids):
            if origin_id in ids[:i]:
                raise FieldError(("origins", i, "id"), f"origin ids are unique: {origin_id} "
                                                       "is used twice")
        if self.defaultCacheBehavior.targetOriginId not in ids:
            raise FieldError(("defaultCacheBehavior", "targetOriginId"),
                             f"no origin has the id {self.defaultCacheBehavior.targetOriginId}")
        patterns: list[str] = []
        for i, behaviour in enumerate(self.cacheBehaviors or []):
            if behaviour.targetOriginId not in ids:
                raise FieldError(("cacheBehaviors", i, "targetOriginId"),
                                 f"no origin has the id {behaviour.targetOriginId}")
            if behaviour.pathPattern in patterns:
                raise FieldError(("cacheBehaviors", i, "pathPattern"),
                                 f"{behaviour.pathPattern} has a behaviour already")
            patterns.append(behaviour.pathPattern)
        return self


def _list(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every distribution of the account by id (summaries: no per-distribution read)."""
    pages = ctx.client(SERVICE).get_paginator("list_distributions").paginate()
    return {item["Id"]: item for page in pages
            for item in page["DistributionList"].get("Items") or []}


def _tags(ctx: RunContext, arns: list[str]) -> dict[str, dict[str, str]]:
    """Every tag of each distribution, from CloudFront (not the lagging index)."""
    found: dict[str, dict[str, str]] = {}
    for arn in arns:
        answer = absent_ok(ctx.client(SERVICE).list_tags_for_resource, Resource=arn,
                           absent=NO_SUCH)
        if answer is not None:
            found[arn] = from_key_value_list(answer["Tags"].get("Items"))
    return found


DISTRIBUTIONS: Listing[dict[str, Any]] = Listing("cloudfront.distributions", _list)
TAGS: ByNames[dict[str, str]] = ByNames("cloudfront.tags", _tags, 1)  # no batch tag read


class DistributionDriver(Driver):
    kind = "cloudfront.Distribution"
    spec_model = DistributionSpec
    attributes = ("id", "arn", "domainName")
    identity: ClassVar[Identity] = "tags"
    references = ("cloudfront.OriginAccessControl", "s3.Bucket", "elbv2.LoadBalancer",
                  "acm.Certificate")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        return shape.normalise(spec)

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        wanted = {d.id for d in desired}
        arns = [arn for rid, found in _index(ctx).items() if rid in wanted for arn in found]
        if arns:
            DISTRIBUTIONS.all(ctx)
            TAGS.prime(ctx, arns)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        for arn in _index(ctx).get(desired.id, []):
            found = _confirmed(ctx, arn)
            if found is not None and owned_id(found[1], ctx.stack) == desired.id:
                return _observed(found[0], found[1], desired)
        return None

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        """`adopt:` takes the distribution's id (E2ABC...)."""
        return _read_one(ctx, aws_id, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        base = {"Comment": "", "Enabled": True, "Origins": shape.wrap([]),
                "DefaultCacheBehavior": {}}
        config = shape.merged(base, desired.spec, list(desired.spec))
        dist_id = _create(ctx, desired, config)
        return self._reread(desired, dist_id, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        cloudfront, dist_id = ctx.client(SERVICE), live.attrs["id"]
        fields = [f for f in changed if f != "tags" and f in desired.spec]
        if fields:
            answer = cloudfront.get_distribution_config(Id=dist_id)
            config = shape.merged(answer["DistributionConfig"], desired.spec, fields)
            cloudfront.update_distribution(Id=dist_id, IfMatch=answer["ETag"],
                                           DistributionConfig=config)
        if "tags" in changed:
            arn = live.attrs["arn"]
            sync_tags(desired, live.tags or {},
                      write=lambda tags: cloudfront.tag_resource(
                          Resource=arn, Tags={"Items": as_key_value_list(tags)}),
                      remove=lambda keys: cloudfront.untag_resource(
                          Resource=arn, TagKeys={"Items": keys}))
        return self._reread(desired, dist_id, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Disable, then (once AWS has deployed that) delete: see the module's docstring."""
        cloudfront, dist_id = ctx.client(SERVICE), live.attrs["id"]
        DISTRIBUTIONS.forget(ctx)
        answer = absent_ok(cloudfront.get_distribution_config, Id=dist_id, absent=NO_SUCH)
        if answer is None:
            return
        if answer["DistributionConfig"].get("Enabled"):
            cloudfront.update_distribution(
                Id=dist_id, IfMatch=answer["ETag"],
                DistributionConfig={**answer["DistributionConfig"], "Enabled": False})
        current = absent_ok(cloudfront.get_distribution, Id=dist_id, absent=NO_SUCH)
        if current is None:
            return
        status = current["Distribution"].get("Status")
        if status != "Deployed":
            raise DeleteNotFinished(
                f"distribution {dist_id} is disabled and deploying that to the edge locations "
                f"({status}): CloudFront deletes only a disabled, Deployed distribution, so "
                "delete again once deployed (about 15 minutes): the next run does")
        absent_ok(cloudfront.delete_distribution, Id=dist_id, IfMatch=current["ETag"],
                  absent=NO_SUCH)
        TAGS.forget(ctx, live.attrs["arn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The index names the candidates; the listing and CloudFront's tags, the same the
        observes of this run read, confirm them."""
        found = (_confirmed(ctx, arn) for arns in _index(ctx).values() for arn in arns)
        return by_id((Observed(fields={}, attrs=_attrs(item), tags=tags)
                      for item, tags in (f for f in found if f is not None)), ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """Each write is deployed to every edge location: InProgress until Deployed."""
        status = str(live.attrs.get("status") or "")
        if status == "Deployed":
            return READY
        if status == "InProgress":
            return Readiness("progressing", "deploying to edge locations (InProgress)")
        return Readiness("progressing", f"distribution {status or 'status unknown'}")

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        if action in ("create", "update") and [f for f in changed if f != "tags"]:
            return "CloudFront deploys it to every edge location: InProgress for minutes"
        return None

    def retag(self, live: Observed, tags: dict[str, str], ctx: RunContext) -> None:
        ctx.client(SERVICE).tag_resource(Resource=live.attrs["arn"],
                                         Tags={"Items": as_key_value_list(tags)})
        TAGS.forget(ctx, live.attrs["arn"])

    def _reread(self, desired: Desired, dist_id: str, ctx: RunContext) -> Observed:
        """Read by id after a write: the index and this run's listing do not show it yet."""
        DISTRIBUTIONS.forget(ctx)
        observed = _read_one(ctx, dist_id, desired)
        if observed is None:
            raise Vanished(f"{desired.id} cannot be read back right after it was written")
        return observed


def _index(ctx: RunContext) -> dict[str, list[str]]:
    """gitops:id -> the ARNs the tagging index lists for it (normally one)."""
    found: dict[str, list[str]] = {}
    for arn, tags in sorted(stack_arns(ctx, "cloudfront", "distribution/").items()):
        rid = owned_id(tags, ctx.stack)
        if rid is not None:
            found.setdefault(rid, []).append(arn)
    return found


def _confirmed(ctx: RunContext, arn: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The listed summary and CloudFront's own tags of an indexed ARN, or None when it is
    gone (the index keeps a deleted distribution a while)."""
    item = DISTRIBUTIONS.get(ctx, arn.rsplit("/", 1)[-1])
    tags = TAGS.get(ctx, arn) if item is not None else None
    return None if item is None or tags is None else (item, tags)


def _read_one(ctx: RunContext, dist_id: str, desired: Desired) -> Observed | None:
    answer = absent_ok(ctx.client(SERVICE).get_distribution, Id=dist_id, absent=NO_SUCH)
    if answer is None:
        return None
    dist = answer["Distribution"]
    TAGS.forget(ctx, dist["ARN"])
    tags = TAGS.get(ctx, dist["ARN"])
    if tags is None:
        return None
    return _observed({**dist["DistributionConfig"], **dist}, tags, desired)


def _observed(item: dict[str, Any], tags: dict[str, str], desired: Desired) -> Observed:
    """A summary (or a distribution with its config spread in) as observe returns it."""
    fields = shape.read(item)
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(item), tags=tags)


def _attrs(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["Id"], "arn": item["ARN"], "domainName": item["DomainName"],
            "status": item.get("Status"), "enabled": item.get("Enabled")}


def caller_reference(desired: Desired, *, held_by: tuple[str, ...] = ()) -> str:
    """The create's idempotency key: the stack and resource id, extended with the ids of
    deleted distributions that still hold the shorter reference."""
    return "~".join([f"{desired.stack}/{desired.id}", *held_by])


def _create(ctx: RunContext, desired: Desired, config: dict[str, Any]) -> str:
    """Create (tagged) and return the id; a reference already used answers the
    distribution it made, when that one is still this resource's."""
    cloudfront = ctx.client(SERVICE)
    held_by: tuple[str, ...] = ()
    for _ in range(_REFERENCE_TRIES):
        reference = caller_reference(desired, held_by=held_by)
        try:
            answer = cloudfront.create_distribution_with_tags(DistributionConfigWithTags={
                "DistributionConfig": {**config, "CallerReference": reference},
                "Tags": {"Items": as_key_value_list(desired.tags())}})
            return str(answer["Distribution"]["Id"])
        except errors.ClientError as err:
            named = _NAMED.search(str(err.response.get("Error", {}).get("Message", "")))
            if error_code(err) != _ALREADY or named is None:
                raise
            made = _read_one(ctx, named["id"], desired)
            if made is None:  # deleted since: its reference is not reusable
                held_by = (*held_by, named["id"])
                continue
            why = not_owned(made.tags or {}, ctx.stack, desired.id)
            if why:
                raise errors.ClientError({"Error": {"Code": _ALREADY, "Message": (
                    f"distribution {named['id']} was created with {desired.id}'s caller "
                    f"reference {reference!r}, but {why}: not taken over; adopt it with "
                    "`adopt:` or delete it")}}, "CreateDistributionWithTags") from err
            return named["id"]
    raise errors.ClientError({"Error": {"Code": _ALREADY, "Message": (
        f"the caller references of {desired.id} are held by {_REFERENCE_TRIES} deleted "
        "distributions")}}, "CreateDistributionWithTags")
