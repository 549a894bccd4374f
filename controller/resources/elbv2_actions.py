"""Listener and rule actions and rule conditions: the spec's form, its canonical form, and
AWS's, in one place for both drivers.

Users write an action the short way (`{type: forward, targetGroupArn: ...}`, a redirect
with only what changes). AWS answers in its own way, and not always the same way: it
echoes a simple forward with a `ForwardConfig` (the one target group at weight 1,
stickiness off) and fills a redirect's unset parts with `#{host}`, `/#{path}`,
`#{query}`; the emulator echoes exactly what was sent. Both sides are put in one
canonical form so that none of these is a diff:

- forward to one group without stickiness: `{type, targetGroupArn}`; otherwise
  `{type, targetGroups: [{targetGroupArn, weight}] (by ARN), stickiness: {enabled, ...}}`;
- redirect: `{type, redirect: {protocol, port, host, path, query, statusCode}}`, the parts
  not written being AWS's defaults (`#{protocol}`, `#{port}`, `#{host}`, `/#{path}`,
  `#{query}`), the port as text;
- fixed-response: `{type, fixedResponse: {statusCode, contentType?, messageBody?}}`;
- actions in their order (AWS's `Order`, which the driver writes as the list's order).

A condition is `{field, values}` (values as a set, sorted; `httpHeaderName` too for an
http-header condition); AWS answers both the legacy `Values` and the `...Config` form,
and is sent the `...Config` form only (the legacy form takes one value). Conditions of a
rule compare as a set.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from controller.model import FieldError, SpecModel
from controller.resources.shapes import TargetGroupArn

Item = dict[str, Any]

REDIRECT_DEFAULTS = {"protocol": "#{protocol}", "port": "#{port}", "host": "#{host}",
                     "path": "/#{path}", "query": "#{query}"}
_REDIRECT_AWS = {"protocol": "Protocol", "port": "Port", "host": "Host", "path": "Path",
                 "query": "Query", "statusCode": "StatusCode"}
_FIXED_AWS = {"statusCode": "StatusCode", "contentType": "ContentType",
              "messageBody": "MessageBody"}
# condition field -> the `...Config` AWS answers (and is sent) its values in
_CONDITION_CONFIG = {
    "path-pattern": "PathPatternConfig",
    "host-header": "HostHeaderConfig",
    "http-request-method": "HttpRequestMethodConfig",
    "source-ip": "SourceIpConfig",
    "http-header": "HttpHeaderConfig",
}


# ---- the spec's form ------------------------------------------------------------------


class WeightedTargetGroup(SpecModel):
    targetGroupArn: TargetGroupArn = Field(
        description="usually ${ref:elbv2.TargetGroup/NAME.arn}")
    weight: int | None = Field(default=None, ge=0, le=999, description="AWS's default 1")


class Stickiness(SpecModel):
    enabled: bool
    durationSeconds: int | None = Field(default=None, ge=1, le=604800)


class Redirect(SpecModel):
    """Parts not written keep the request's own (`#{host}`...): AWS's defaults."""

    protocol: Literal["HTTP", "HTTPS", "#{protocol}"] | None = None
    port: int | str | None = Field(default=None, description='a port, or "#{port}"')
    host: str | None = None
    path: str | None = None
    query: str | None = None
    statusCode: Literal["HTTP_301", "HTTP_302"]


class FixedResponse(SpecModel):
    statusCode: str = Field(pattern=r"^[245]\d\d$", description="2XX, 4XX or 5XX")
    contentType: Literal["text/plain", "text/css", "text/html", "application/javascript",
                         "application/json"] | None = None
    messageBody: str | None = Field(default=None, max_length=1024)


class Action(SpecModel):
    """One listener or rule action: `forward` (to `targetGroupArn`, or weighted
    `targetGroups` with optional `stickiness`), `redirect` or `fixed-response`."""

    type: Literal["forward", "redirect", "fixed-response"]
    targetGroupArn: TargetGroupArn | None = Field(
        default=None, description="forward: usually ${ref:elbv2.TargetGroup/NAME.arn}")
    targetGroups: list[WeightedTargetGroup] | None = Field(default=None, min_length=1,
                                                           max_length=5)
    stickiness: Stickiness | None = None
    redirect: Redirect | None = None
    fixedResponse: FixedResponse | None = None

    @model_validator(mode="after")
    def _one_shape_per_type(self) -> Action:
        # What AWS refuses at apply: each type takes its own configuration, and only it.
        given = {name for name in ("targetGroupArn", "targetGroups", "stickiness", "redirect",
                                   "fixedResponse") if getattr(self, name) is not None}
        allowed = {"forward": {"targetGroupArn", "targetGroups", "stickiness"},
                   "redirect": {"redirect"}, "fixed-response": {"fixedResponse"}}[self.type]
        extra = sorted(given - allowed)
        if extra:
            raise FieldError((extra[0],), f"not part of a {self.type} action")
        if self.type == "forward" and (self.targetGroupArn is None) == (self.targetGroups is None):
            raise FieldError(("targetGroupArn",), "a forward action names targetGroupArn, or "
                                                  "targetGroups (weighted), not both")
        if self.type == "redirect" and self.redirect is None:
            raise FieldError(("redirect",), "a redirect action needs `redirect`")
        if self.type == "fixed-response" and self.fixedResponse is None:
            raise FieldError(("fixedResponse",), "a fixed-response action needs `fixedResponse`")
        return self


class Condition(SpecModel):
    """A rule condition: `values` match any of them (a set); an http-header condition
    names its header in `httpHeaderName`."""

    field: Literal["path-pattern", "host-header", "http-request-method", "source-ip",
                   "http-header"]
    values: list[str] = Field(min_length=1)
    httpHeaderName: str | None = None

    @model_validator(mode="after")
    def _header_name(self) -> Condition:
        if (self.field == "http-header") != (self.httpHeaderName is not None):
            raise FieldError(("httpHeaderName",), "an http-header condition names its header "
                                                  "in httpHeaderName (and only it does)")
        return self


# ---- the canonical form (both sides) -------------------------------------------------


def canonical_action(action: Item) -> Item:
    """A spec-form action (the desired side, or AWS's read as spec form) made canonical."""
    kind = action.get("type")
    if kind == "forward":
        return _canonical_forward(action)
    if kind == "redirect":
        given = {k: v for k, v in (action.get("redirect") or {}).items() if v is not None}
        redirect = {**REDIRECT_DEFAULTS, **given}
        redirect["port"] = str(redirect["port"])
        return {"type": "redirect", "redirect": redirect}
    if kind == "fixed-response":
        fixed = {k: v for k, v in (action.get("fixedResponse") or {}).items() if v is not None}
        if "statusCode" in fixed:
            fixed["statusCode"] = str(fixed["statusCode"])
        return {"type": "fixed-response", "fixedResponse": fixed}
    return dict(action)


def _canonical_forward(action: Item) -> Item:
    groups = action.get("targetGroups")
    if groups is None and action.get("targetGroupArn") is not None:
        groups = [{"targetGroupArn": action["targetGroupArn"]}]
    groups = [{"targetGroupArn": g["targetGroupArn"],
               "weight": 1 if g.get("weight") is None else g["weight"]} for g in groups or []]
    sticky = {k: v for k, v in (action.get("stickiness") or {"enabled": False}).items()
              if v is not None}
    if not sticky.get("enabled"):
        sticky = {"enabled": False}  # a duration means nothing while stickiness is off
    if len(groups) == 1 and not sticky["enabled"]:
        # One group takes all the traffic whatever its weight: the short form.
        return {"type": "forward", "targetGroupArn": groups[0]["targetGroupArn"]}
    return {"type": "forward", "stickiness": sticky,
            "targetGroups": sorted(groups, key=lambda g: str(g["targetGroupArn"]))}


def canonical_actions(actions: list[Item] | None) -> list[Item]:
    return [canonical_action(a) for a in actions or []]


def canonical_condition(condition: Item) -> Item:
    out: Item = {"field": condition.get("field"),
                 "values": sorted({str(v) for v in condition.get("values") or []})}
    if condition.get("httpHeaderName") is not None:
        out["httpHeaderName"] = condition["httpHeaderName"]
    return out


def canonical_conditions(conditions: list[Item] | None) -> list[Item]:
    """Conditions as a set: sorted by field (and header name)."""
    return sorted((canonical_condition(c) for c in conditions or []),
                  key=lambda c: (str(c["field"]), str(c.get("httpHeaderName", ""))))


# ---- AWS's form ------------------------------------------------------------------------


def actions_from_aws(actions: list[Item] | None) -> list[Item]:
    """AWS's actions (in their `Order`) in canonical form."""
    ordered = sorted(actions or [], key=lambda a: int(a.get("Order") or 0))
    return [canonical_action(_spec_form(a)) for a in ordered]


def _spec_form(action: Item) -> Item:
    kind = action.get("Type")
    if kind == "forward":
        config = action.get("ForwardConfig")
        if config and config.get("TargetGroups"):
            sticky = config.get("TargetGroupStickinessConfig") or {}
            return {"type": "forward",
                    "targetGroups": [{"targetGroupArn": g["TargetGroupArn"],
                                      "weight": g.get("Weight")}
                                     for g in config["TargetGroups"]],
                    "stickiness": {"enabled": bool(sticky.get("Enabled", False)),
                                   "durationSeconds": sticky.get("DurationSeconds")}}
        return {"type": "forward", "targetGroupArn": action.get("TargetGroupArn")}
    if kind == "redirect":
        config = action.get("RedirectConfig") or {}
        return {"type": "redirect",
                "redirect": {ours: config.get(theirs) for ours, theirs in _REDIRECT_AWS.items()}}
    if kind == "fixed-response":
        config = action.get("FixedResponseConfig") or {}
        return {"type": "fixed-response",
                "fixedResponse": {ours: config.get(theirs) for ours, theirs in _FIXED_AWS.items()}}
    # An action type the spec cannot write (authenticate-oidc...): shown as AWS says it, so
    # it is a difference from any action git declares.
    return {"type": kind, "aws": action}


def actions_to_aws(actions: list[Item]) -> list[Item]:
    """Canonical actions as a create or modify call takes them, `Order` from list order."""
    out: list[Item] = []
    for order, action in enumerate(canonical_actions(actions), start=1):
        kind = action["type"]
        sent: Item = {"Type": kind, "Order": order}
        if kind == "forward" and "targetGroupArn" in action:
            sent["TargetGroupArn"] = action["targetGroupArn"]
        elif kind == "forward":
            sticky = {"Enabled": action["stickiness"]["enabled"]}
            if "durationSeconds" in action["stickiness"]:
                sticky["DurationSeconds"] = action["stickiness"]["durationSeconds"]
            sent["ForwardConfig"] = {
                "TargetGroups": [{"TargetGroupArn": g["targetGroupArn"], "Weight": g["weight"]}
                                 for g in action["targetGroups"]],
                "TargetGroupStickinessConfig": sticky}
        elif kind == "redirect":
            sent["RedirectConfig"] = {theirs: action["redirect"][ours]
                                      for ours, theirs in _REDIRECT_AWS.items()}
        elif kind == "fixed-response":
            sent["FixedResponseConfig"] = {theirs: action["fixedResponse"][ours]
                                           for ours, theirs in _FIXED_AWS.items()
                                           if ours in action["fixedResponse"]}
        out.append(sent)
    return out


def conditions_from_aws(conditions: list[Item] | None) -> list[Item]:
    out: list[Item] = []
    for condition in conditions or []:
        field = condition.get("Field")
        config = condition.get(_CONDITION_CONFIG.get(str(field), "")) or {}
        values = config.get("Values") or condition.get("Values") or []
        spec: Item = {"field": field, "values": values}
        if field == "http-header":
            spec["httpHeaderName"] = config.get("HttpHeaderName")
        out.append(spec)
    return canonical_conditions(out)


def conditions_to_aws(conditions: list[Item]) -> list[Item]:
    out: list[Item] = []
    for condition in canonical_conditions(conditions):
        config: Item = {"Values": condition["values"]}
        if condition["field"] == "http-header":
            config["HttpHeaderName"] = condition["httpHeaderName"]
        out.append({"Field": condition["field"],
                    _CONDITION_CONFIG[condition["field"]]: config})
    return out
