"""acm.Certificate: a public ACM certificate, requested with DNS validation, found by its tags.

ACM lets one account hold several certificates for the same domain (a renewal
made by hand, a replace in progress), so the domain cannot be the identity: the
controller finds its certificate by the ownership tags, through the Resource
Groups Tagging API index every kind shares (one call per run), and confirms each
candidate with ACM's own read, since the index may still list a deleted one. ACM
has no batch describe: a certificate costs a DescribeCertificate and a
ListTagsForCertificate (its tags are read from ACM, not the lagging index, as the
engine's ownership check before a delete relies on them).

Everything ACM lets a caller write about a certificate at request time is fixed
for its life (domain, alternative names, validation method, key algorithm): a
change is a replace, create-first, so the load balancer listener moves to the new
certificate before the old one is deleted. Only the tags change in place.

The resource's `name` is a label, not the domain (names cannot hold values, and
the domain differs per stack): `domainName` is required and holds it.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import ID_KEY, STACK_KEY, as_key_value_list, from_key_value_list, user_tags
from controller.model import READY, Desired, Observed, Readiness, SpecModel, Tags
from controller.resources.base import Driver, Identity, ReplaceOrder, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import Vanished, absent_ok, sync_tags
from controller.resources.shapes import has_ref
from controller.resources.tagged import by_id, owned_id, stack_arns

# ACM has no batch describe: one certificate per DescribeCertificate, each read once per run.
_CHUNK = 1
# Statuses after which the certificate will never be usable, in ACM's words.
DEAD = frozenset({"FAILED", "VALIDATION_TIMED_OUT", "REVOKED", "EXPIRED", "INACTIVE"})
# list_certificates lists RSA_2048 certificates only unless asked for every key type.
_KEY_TYPES = ["RSA_1024", "RSA_2048", "RSA_3072", "RSA_4096", "EC_prime256v1",
              "EC_secp384r1", "EC_secp521r1"]
_DOMAIN = re.compile(r"(\*\.)?([A-Za-z0-9-]{1,63}\.)+[A-Za-z0-9-]{1,63}", re.ASCII)
_IN_USE = "ResourceInUseException"


def _check_domain(text: str) -> str:
    if has_ref(text) or (len(text) <= 253 and _DOMAIN.fullmatch(text)):
        return text
    raise ValueError("expected a fully qualified domain name such as app.example.com, "
                     "or a wildcard such as *.example.com")


DomainName = Annotated[str, AfterValidator(_check_domain)]


class CertificateSpec(SpecModel):
    """A public certificate ACM issues once its validation records exist in DNS.

    Every field but `tags` is fixed at request time: changing one replaces the
    certificate (create-first). Fields not written are not compared, so an adopted
    certificate keeps what it has.
    """

    domainName: DomainName = Field(description="the certificate's subject, e.g. "
                                               "app.example.com (immutable)")
    subjectAlternativeNames: list[DomainName] | None = Field(
        default=None, max_length=100,
        description="other names it covers, a set; the domain name is always one of them "
                    "(immutable)")
    validationMethod: Literal["DNS", "EMAIL"] | None = Field(
        default=None, description="DNS (what create uses when omitted) or EMAIL (immutable)")
    keyAlgorithm: Literal["RSA_2048", "EC_prime256v1", "EC_secp384r1"] | None = Field(
        default=None, description="AWS's default is RSA_2048 (immutable)")
    tags: Tags | None = None


def _describe(ctx: RunContext, arns: list[str]) -> dict[str, dict[str, Any]]:
    """Certificates by ARN, with every tag; a deleted one (still in the index) is left out."""
    acm = ctx.client("acm")
    found: dict[str, dict[str, Any]] = {}
    for arn in arns:
        answer = absent_ok(acm.describe_certificate, CertificateArn=arn)
        tags = answer and absent_ok(acm.list_tags_for_certificate, CertificateArn=arn)
        if answer is not None and tags is not None:
            found[arn] = {"cert": answer["Certificate"],
                          "tags": from_key_value_list(tags.get("Tags"))}
    return found


CERTIFICATES: ByNames[dict[str, Any]] = ByNames("acm.certificates", _describe, _CHUNK)


class CertificateDriver(Driver):
    kind = "acm.Certificate"
    spec_model = CertificateSpec
    attributes = ("arn",)
    immutable = frozenset({"domainName", "subjectAlternativeNames", "validationMethod",
                           "keyAlgorithm"})
    identity: ClassVar[Identity] = "tags"
    # AWS refuses a listener on a certificate not yet issued: what uses it waits for ISSUED
    ready_before_use = True

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Alternative names as a sorted set holding the domain name (ACM lists it among
        them, and returns them in any order); key algorithms in one spelling."""
        out = dict(spec)
        if out.get("subjectAlternativeNames") is not None:
            out["subjectAlternativeNames"] = _names(out["subjectAlternativeNames"],
                                                    out.get("domainName"))
        if out.get("keyAlgorithm") is not None:
            out["keyAlgorithm"] = _key_algorithm(out["keyAlgorithm"])
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        wanted = {d.id for d in desired}
        CERTIFICATES.prime(ctx, [arn for rid, arns in _index(ctx).items() if rid in wanted
                                 for arn in arns])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        for arn in _arns_of(ctx, desired.id):
            found = CERTIFICATES.get(ctx, arn)
            if found is not None:
                return _observed(found, desired)
        return None

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        """`adopt:` takes the certificate's ARN (ACM's only id)."""
        found = CERTIFICATES.get(ctx, aws_id) if aws_id.startswith("arn:") else None
        return None if found is None else _observed(found, desired)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        arn = _made_before(desired, ctx)
        if arn is None:
            args: dict[str, Any] = {
                "DomainName": desired.spec["domainName"],
                "ValidationMethod": desired.spec.get("validationMethod") or "DNS",
                "Tags": as_key_value_list(desired.tags()),
                # Per request, not per resource: botocore's retries of this one request
                # reuse it (no twin from a lost answer), while a certificate deleted and
                # requested again within the hour is not answered with the dead one's ARN.
                "IdempotencyToken": uuid.uuid4().hex,
            }
            if desired.spec.get("subjectAlternativeNames"):
                args["SubjectAlternativeNames"] = list(desired.spec["subjectAlternativeNames"])
            if desired.spec.get("keyAlgorithm"):
                args["KeyAlgorithm"] = desired.spec["keyAlgorithm"]
            arn = ctx.client("acm").request_certificate(**args)["CertificateArn"]
        with ctx.lock:  # the index lags behind a new certificate: this run knows its ARN
            ctx.cache[("acm.created", desired.id)] = arn
        return self._reread(desired, arn, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """Only tags change in place: every other field is immutable (a replace)."""
        if "tags" in changed:
            self._write_tags(desired, live, ctx)
        return self._reread(desired, live.attrs["arn"], ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """AWS refuses to delete a certificate a load balancer or distribution still uses:
        the error then names them, so a person knows what to move first."""
        arn = live.attrs["arn"]
        acm = ctx.client("acm")
        try:
            absent_ok(acm.delete_certificate, CertificateArn=arn)
        except errors.ClientError as err:
            if error_code(err) != _IN_USE:
                raise
            answer = absent_ok(acm.describe_certificate, CertificateArn=arn) or {}
            users = answer.get("Certificate", {}).get("InUseBy") or []
            message = (f"certificate {arn} is still in use by "
                       f"{', '.join(users) or 'another AWS resource'}: move them to another "
                       "certificate first")
            raise errors.ClientError({"Error": {"Code": _IN_USE, "Message": message}},
                              "DeleteCertificate") from err
        finally:
            CERTIFICATES.forget(ctx, arn)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The index names the candidates (one call shared by every kind); ACM's own read,
        the same the observes of this run made, confirms each one."""
        arns = [arn for found in _index(ctx).values() for arn in found]
        CERTIFICATES.prime(ctx, arns)
        live = (CERTIFICATES.get(ctx, arn) for arn in arns)
        return by_id((_found(c) for c in live if c is not None), ctx)

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """ISSUED is ready; PENDING_VALIDATION waits for the DNS records it names; a
        certificate that can never be used (failed, timed out, revoked, expired) failed."""
        status = str(live.attrs.get("status") or "")
        if status == "ISSUED":
            return READY
        if status in DEAD:
            why = live.attrs.get("failureReason")
            return Readiness("failed", f"certificate {status}" + (f": {why}" if why else ""))
        if status == "PENDING_VALIDATION":
            return Readiness("progressing", _validation_note(live.attrs))
        return Readiness("progressing", f"certificate {status or 'status unknown'}")

    def retag(self, live: Observed, tags: dict[str, str], ctx: RunContext) -> None:
        ctx.client("acm").add_tags_to_certificate(CertificateArn=live.attrs["arn"],
                                                  Tags=as_key_value_list(tags))
        CERTIFICATES.forget(ctx, live.attrs["arn"])

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Several certificates may exist for one domain: the new one is requested first,
        so what uses the old one moves over before it is deleted."""
        return "create_first"

    def _write_tags(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        acm, arn = ctx.client("acm"), live.attrs["arn"]
        sync_tags(
            desired, live.tags or {},
            write=lambda tags: acm.add_tags_to_certificate(CertificateArn=arn,
                                                           Tags=as_key_value_list(tags)),
            remove=lambda keys: acm.remove_tags_from_certificate(
                CertificateArn=arn, Tags=[{"Key": key} for key in keys]),
        )

    def _reread(self, desired: Desired, arn: str, ctx: RunContext) -> Observed:
        """Read the certificate by ARN after a write: the index may not list it yet."""
        CERTIFICATES.forget(ctx, arn)
        found = CERTIFICATES.get(ctx, arn)
        if found is None:
            raise Vanished(f"{desired.id} cannot be read back right after it was written")
        return _observed(found, desired)


def _index(ctx: RunContext) -> dict[str, list[str]]:
    """gitops:id -> the ARNs the tagging index lists for it (normally one)."""
    found: dict[str, list[str]] = {}
    for arn, tags in sorted(stack_arns(ctx, "acm", "certificate/").items()):
        rid = owned_id(tags, ctx.stack)
        if rid is not None:
            found.setdefault(rid, []).append(arn)
    return found


def _arns_of(ctx: RunContext, rid: str) -> list[str]:
    """The candidates for `rid`: one this run created first, then the index's."""
    with ctx.lock:
        created = ctx.cache.get(("acm.created", rid))
    listed = _index(ctx).get(rid, [])
    return [created, *[a for a in listed if a != created]] if created else listed


def _made_before(desired: Desired, ctx: RunContext) -> str | None:
    """A certificate an earlier create of this resource requested, its answer lost: found
    by ACM's own listing of the domain (the index lags behind new certificates)."""
    acm = ctx.client("acm")
    pages = acm.get_paginator("list_certificates").paginate(Includes={"keyTypes": _KEY_TYPES})
    for summary in (s for page in pages for s in page["CertificateSummaryList"]):
        if summary.get("DomainName") != desired.spec["domainName"]:
            continue
        if summary.get("Status") in DEAD:
            continue
        answer = absent_ok(acm.list_tags_for_certificate,
                           CertificateArn=summary["CertificateArn"]) or {}
        tags = from_key_value_list(answer.get("Tags"))
        if tags.get(STACK_KEY) == ctx.stack and tags.get(ID_KEY) == desired.id:
            return str(summary["CertificateArn"])
    return None


def _names(names: list[str], domain: str | None) -> list[str]:
    return sorted({*names, *([domain] if domain else [])})


def _key_algorithm(value: str) -> str:
    """ACM's request takes RSA_2048, its describe answers RSA-2048: one spelling."""
    return value.replace("-", "_")


def _attrs(cert: dict[str, Any]) -> dict[str, Any]:
    records = []
    for option in cert.get("DomainValidationOptions") or []:
        record = option.get("ResourceRecord")
        if record and record not in records:
            records.append(record)
    return {
        "arn": cert["CertificateArn"],
        "id": cert["CertificateArn"],  # what `adopt:` takes
        "status": cert.get("Status"),
        "failureReason": cert.get("FailureReason"),
        "validationRecords": [{"name": r.get("Name"), "type": r.get("Type"),
                               "value": r.get("Value")} for r in records],
        "validationEmails": sorted({e for o in cert.get("DomainValidationOptions") or []
                                    for e in o.get("ValidationEmails") or []}),
        "inUseBy": list(cert.get("InUseBy") or []),
    }


def _validation_note(attrs: dict[str, Any]) -> str:
    """What a person must do for ACM to issue: the DNS records to create, in ACM's words."""
    records = attrs.get("validationRecords") or []
    if records:
        return "waiting for DNS validation: " + "; ".join(
            f"create {r['type'] or 'CNAME'} {str(r['name']).rstrip('.')} -> "
            f"{str(r['value']).rstrip('.')}" for r in records)
    emails = attrs.get("validationEmails") or []
    if emails:
        return "waiting for email validation: sent to " + ", ".join(emails)
    return "waiting for validation: ACM has not published the DNS records to create yet"


def _found(entry: dict[str, Any]) -> Observed:
    """A certificate as the inventory lists it: no desired state to shape fields by."""
    return Observed(fields={}, attrs=_attrs(entry["cert"]), tags=entry["tags"])


def _observed(entry: dict[str, Any], desired: Desired) -> Observed:
    cert, tags = entry["cert"], entry["tags"]
    methods = [o["ValidationMethod"] for o in cert.get("DomainValidationOptions") or []
               if o.get("ValidationMethod")]
    fields: dict[str, Any] = {
        "domainName": cert.get("DomainName"),
        "subjectAlternativeNames": _names(cert.get("SubjectAlternativeNames") or [],
                                          cert.get("DomainName")),
        "validationMethod": methods[0] if methods else None,
        "keyAlgorithm": _key_algorithm(str(cert.get("KeyAlgorithm") or "")) or None,
    }
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(cert), tags=tags)
