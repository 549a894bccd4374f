"""A CloudFront distribution's config between AWS's shape and the spec's: pure functions.

CloudFront wraps every list as `{Quantity, Items}` and has no partial update: an
UpdateDistribution sends the whole config. So the spec holds natural lists, `read`
turns a live config (or a ListDistributions summary, which has the same shape) into
the spec's form, and `merged` writes the declared fields into the live config, each
list item matched to its live twin (origins by id, behaviours by path pattern) so the
fields git does not declare keep their live values. Sets (aliases, methods, TLS
protocols, origins) are sorted on both sides; cache behaviours keep their order, which
is their precedence.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

Config = dict[str, Any]

# What a behaviour with a cache policy must not carry (CloudFront's legacy cache settings)
LEGACY_CACHE = ("ForwardedValues", "MinTTL", "DefaultTTL", "MaxTTL")
DEFAULT_METHODS = ["GET", "HEAD"]
# spec field -> DistributionConfig key, for the scalars written as they are
SCALARS = {"comment": "Comment", "enabled": "Enabled", "priceClass": "PriceClass",
           "httpVersion": "HttpVersion", "isIPV6Enabled": "IsIPV6Enabled",
           "webACLId": "WebACLId"}


def wrap(items: Iterable[Any]) -> dict[str, Any]:
    """A CloudFront list: `{Quantity, Items}` (no Items when empty, as AWS answers it)."""
    listed = list(items)
    return {"Quantity": len(listed), "Items": listed} if listed else {"Quantity": 0}


def unwrap(value: Any) -> list[Any]:
    return list((value or {}).get("Items") or [])


# ---- live -> spec ----------------------------------------------------------------------

def read(config: Config) -> dict[str, Any]:
    """A live config (or summary) in the spec's canonical form, every field the spec has."""
    fields: dict[str, Any] = {spec: config.get(api) for spec, api in SCALARS.items()
                              if api in config}
    fields["comment"] = config.get("Comment") or ""
    fields["aliases"] = sorted(unwrap(config.get("Aliases")))
    fields["origins"] = sorted((read_origin(o) for o in unwrap(config.get("Origins"))),
                               key=lambda o: str(o["id"]))
    fields["defaultCacheBehavior"] = read_behaviour(config.get("DefaultCacheBehavior") or {})
    fields["cacheBehaviors"] = [read_behaviour(b) for b in unwrap(config.get("CacheBehaviors"))]
    fields["viewerCertificate"] = read_certificate(config.get("ViewerCertificate") or {})
    return fields


def read_origin(origin: Config) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": origin["Id"], "domainName": origin["DomainName"],
        "originPath": origin.get("OriginPath") or "",
        "originAccessControlId": origin.get("OriginAccessControlId") or "",
        "connectionAttempts": origin.get("ConnectionAttempts", 3),
        "connectionTimeout": origin.get("ConnectionTimeout", 10),
    }
    if "S3OriginConfig" in origin:
        out["s3OriginConfig"] = {"originAccessIdentity":
                                 origin["S3OriginConfig"].get("OriginAccessIdentity") or ""}
    custom = origin.get("CustomOriginConfig")
    if custom is not None:
        out["customOriginConfig"] = {
            "httpPort": custom.get("HTTPPort"), "httpsPort": custom.get("HTTPSPort"),
            "originProtocolPolicy": custom.get("OriginProtocolPolicy"),
            "originSslProtocols": sorted(unwrap(custom.get("OriginSslProtocols"))),
            "originReadTimeout": custom.get("OriginReadTimeout", 30),
            "originKeepaliveTimeout": custom.get("OriginKeepaliveTimeout", 5),
        }
    return out


def read_behaviour(behaviour: Config) -> dict[str, Any]:
    methods = behaviour.get("AllowedMethods") or {}
    out: dict[str, Any] = {
        "targetOriginId": behaviour.get("TargetOriginId"),
        "viewerProtocolPolicy": behaviour.get("ViewerProtocolPolicy"),
        "cachePolicyId": behaviour.get("CachePolicyId") or "",
        "originRequestPolicyId": behaviour.get("OriginRequestPolicyId") or "",
        "responseHeadersPolicyId": behaviour.get("ResponseHeadersPolicyId") or "",
        "compress": bool(behaviour.get("Compress", False)),
        "allowedMethods": sorted(unwrap(methods)) or DEFAULT_METHODS,
        "cachedMethods": sorted(unwrap(methods.get("CachedMethods"))) or DEFAULT_METHODS,
    }
    if "PathPattern" in behaviour:
        out = {"pathPattern": behaviour["PathPattern"], **out}
    return out


def read_certificate(cert: Config) -> dict[str, Any]:
    return {
        "acmCertificateArn": cert.get("ACMCertificateArn") or "",
        "cloudFrontDefaultCertificate": bool(cert.get("CloudFrontDefaultCertificate", False)),
        "sslSupportMethod": cert.get("SSLSupportMethod") or "",
        "minimumProtocolVersion": cert.get("MinimumProtocolVersion") or "",
    }


def normalise(spec: dict[str, Any]) -> dict[str, Any]:
    """The desired spec in `read`'s order: sets sorted, origins by id."""
    out = copy.deepcopy(spec)
    if out.get("aliases") is not None:
        out["aliases"] = sorted(set(out["aliases"]))
    if out.get("origins") is not None:
        out["origins"] = sorted(out["origins"], key=lambda o: str(o.get("id")))
        for origin in out["origins"]:
            custom = origin.get("customOriginConfig") or {}
            if custom.get("originSslProtocols") is not None:
                custom["originSslProtocols"] = sorted(set(custom["originSslProtocols"]))
    behaviours = [out.get("defaultCacheBehavior"), *(out.get("cacheBehaviors") or [])]
    for behaviour in (b for b in behaviours if b):
        for key in ("allowedMethods", "cachedMethods"):
            if behaviour.get(key) is not None:
                behaviour[key] = sorted(set(behaviour[key]))
    return out


# ---- spec -> live ----------------------------------------------------------------------

def merged(live: Config, spec: dict[str, Any], fields: Iterable[str]) -> Config:
    """`live` with the spec's `fields` written in (what UpdateDistribution sends)."""
    config = copy.deepcopy(live)
    for name in fields:
        if name not in spec or name == "tags":
            continue
        want = spec[name]
        if name in SCALARS:
            config[SCALARS[name]] = want
        elif name == "aliases":
            config["Aliases"] = wrap(want)
        elif name == "origins":
            olds = {o["Id"]: o for o in unwrap(config.get("Origins"))}
            config["Origins"] = wrap(origin(olds.get(o["id"], {}), o) for o in want)
        elif name == "defaultCacheBehavior":
            config["DefaultCacheBehavior"] = behaviour(config.get("DefaultCacheBehavior") or {},
                                                       want)
        elif name == "cacheBehaviors":
            olds = {b["PathPattern"]: b for b in unwrap(config.get("CacheBehaviors"))}
            config["CacheBehaviors"] = wrap(behaviour(olds.get(b["pathPattern"], {}), b)
                                            for b in want)
        elif name == "viewerCertificate":
            config["ViewerCertificate"] = certificate(config.get("ViewerCertificate") or {},
                                                      want)
    return config


def origin(live: Config, want: dict[str, Any]) -> Config:
    """One origin: the live one of the same id (custom headers, shield, timeouts kept)
    with the declared keys written. Without a custom origin config it is an S3 origin,
    which AWS wants with an S3OriginConfig (an empty identity when an OAC signs)."""
    out = copy.deepcopy(live)
    out["Id"], out["DomainName"] = want["id"], want["domainName"]
    out.setdefault("OriginPath", "")
    for key, api in (("originPath", "OriginPath"), ("connectionAttempts", "ConnectionAttempts"),
                     ("connectionTimeout", "ConnectionTimeout")):
        if key in want:
            out[api] = want[key]
    if "originAccessControlId" in want:
        out["OriginAccessControlId"] = want["originAccessControlId"]
    if "customOriginConfig" in want:
        out.pop("S3OriginConfig", None)
        out["CustomOriginConfig"] = custom_origin(out.get("CustomOriginConfig") or {},
                                                  want["customOriginConfig"])
    elif "s3OriginConfig" in want or "CustomOriginConfig" not in out:
        out["S3OriginConfig"] = s3_origin(out, want.get("s3OriginConfig") or {})
    return out


def s3_origin(live_origin: Config, want: dict[str, Any]) -> Config:
    """An S3 origin's config: the live one (its read timeout kept) with the declared
    identity. Undeclared, a live identity stays unless a control signs the origin: AWS
    refuses an origin with both (IllegalOriginAccessConfiguration), so moving from an
    identity to a control clears the identity."""
    live = copy.deepcopy(live_origin.get("S3OriginConfig") or {})
    identity = want.get("originAccessIdentity")
    if identity is None:
        identity = ("" if live_origin.get("OriginAccessControlId")
                    else live.get("OriginAccessIdentity") or "")
    return {**live, "OriginAccessIdentity": identity}


def custom_origin(live: Config, want: dict[str, Any]) -> Config:
    out = {"HTTPPort": 80, "HTTPSPort": 443,
           "OriginSslProtocols": wrap(["TLSv1.2"]), **copy.deepcopy(live)}
    for key, api in (("httpPort", "HTTPPort"), ("httpsPort", "HTTPSPort"),
                     ("originProtocolPolicy", "OriginProtocolPolicy"),
                     ("originReadTimeout", "OriginReadTimeout"),
                     ("originKeepaliveTimeout", "OriginKeepaliveTimeout")):
        if key in want:
            out[api] = want[key]
    if "originSslProtocols" in want:
        out["OriginSslProtocols"] = wrap(want["originSslProtocols"])
    return out


def behaviour(live: Config, want: dict[str, Any]) -> Config:
    """One cache behaviour: the live one of the same path pattern with the declared keys
    written. A cache policy replaces the legacy TTLs and forwarded values (AWS refuses
    both at once); a policy id of "" removes that policy."""
    out = copy.deepcopy(live)
    if "pathPattern" in want:
        out["PathPattern"] = want["pathPattern"]
    out["TargetOriginId"] = want["targetOriginId"]
    out["ViewerProtocolPolicy"] = want["viewerProtocolPolicy"]
    out["CachePolicyId"] = want["cachePolicyId"]
    for key in LEGACY_CACHE:
        out.pop(key, None)
    for key, api in (("originRequestPolicyId", "OriginRequestPolicyId"),
                     ("responseHeadersPolicyId", "ResponseHeadersPolicyId")):
        value = want[key] if key in want else out.get(api)
        if value:
            out[api] = value
        else:
            out.pop(api, None)
    if "compress" in want:
        out["Compress"] = want["compress"]
    if "allowedMethods" in want or "cachedMethods" in want:
        methods = out.get("AllowedMethods") or {}
        allowed = want.get("allowedMethods") or unwrap(methods) or DEFAULT_METHODS
        cached = (want.get("cachedMethods") or unwrap(methods.get("CachedMethods"))
                  or DEFAULT_METHODS)
        out["AllowedMethods"] = {**wrap(allowed), "CachedMethods": wrap(cached)}
    return out


def certificate(live: Config, want: dict[str, Any]) -> Config:
    """The viewer certificate: an ACM certificate excludes CloudFront's default one (and
    the deprecated Certificate/CertificateSource pair AWS still echoes)."""
    out = copy.deepcopy(live)
    for key, api in (("acmCertificateArn", "ACMCertificateArn"),
                     ("cloudFrontDefaultCertificate", "CloudFrontDefaultCertificate"),
                     ("sslSupportMethod", "SSLSupportMethod"),
                     ("minimumProtocolVersion", "MinimumProtocolVersion")):
        if key in want:
            out[api] = want[key]
    if out.get("ACMCertificateArn"):
        out["CloudFrontDefaultCertificate"] = False
        out.setdefault("SSLSupportMethod", "sni-only")
        for key in ("IAMCertificateId", "Certificate", "CertificateSource"):
            out.pop(key, None)
    else:
        out.pop("ACMCertificateArn", None)
    return out
