"""elbv2.Listener: a load balancer's port, protocol, certificate, TLS policy and default
actions, found by its ownership tags (listeners have no names).

A listener is looked for under the load balancer its spec names (one describe_listeners
per load balancer, shared by all its listeners, and one describe_tags per 20 of them);
when it is not there (its load balancer is being replaced, or git moved it to another),
under the stack's other load balancers, so the old one shows as the replace it is
rather than staying behind as a twin. Actions are compared in the canonical form of
`elbv2_actions`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from controller.model import Desired, FieldError, Observed, SpecModel, Tags
from controller.resources.base import RunContext
from controller.resources.common import absent_ok, reread
from controller.resources.elbv2_actions import (
    Action,
    actions_from_aws,
    actions_to_aws,
    canonical_actions,
)
from controller.resources.elbv2_common import (
    ABSENT,
    Child,
    ChildDriver,
    Children,
    Item,
    observed_user_tags,
    tag_list,
    write_tags,
)
from controller.resources.elbv2_loadbalancer import LOAD_BALANCERS
from controller.resources.shapes import ArnRule

LISTENERS = Children("describe_listeners", "Listeners", "LoadBalancerArn", "ListenerArn")

LoadBalancerArn = Annotated[str, AfterValidator(ArnRule(
    "a load balancer ARN", "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "loadbalancer/app/NAME/ID", {"elasticloadbalancing": ("loadbalancer/",)},
    ref="${ref:elbv2.LoadBalancer/NAME.arn}"))]
CertificateArn = Annotated[str, AfterValidator(ArnRule(
    "an ACM certificate ARN", "arn:aws:acm:us-east-1:123456789012:certificate/ID",
    {"acm": ("certificate/",), "iam": ("server-certificate/",)},
    ref="${ref:acm.Certificate/NAME.arn}"))]


class ListenerSpec(SpecModel):
    """HTTPS takes `certificateArn` (and `sslPolicy`, else AWS's default policy); HTTP
    takes neither. An HTTPS listener cannot be made before its certificate is ISSUED:
    the certificate's readiness holds it back."""

    loadBalancerArn: LoadBalancerArn = Field(
        description="usually ${ref:elbv2.LoadBalancer/NAME.arn} (immutable)")
    port: int = Field(ge=1, le=65535)
    protocol: Literal["HTTP", "HTTPS"]
    certificateArn: CertificateArn | None = Field(
        default=None, description="HTTPS: the default certificate, usually "
                                  "${ref:acm.Certificate/NAME.arn}")
    sslPolicy: str | None = Field(default=None,
                                  description="HTTPS: e.g. ELBSecurityPolicy-TLS13-1-2-2021-06")
    defaultActions: list[Action] = Field(min_length=1)
    tags: Tags | None = None

    @model_validator(mode="after")
    def _tls_is_https_only(self) -> ListenerSpec:
        if self.protocol == "HTTPS" and self.certificateArn is None:
            raise FieldError(("certificateArn",), "an HTTPS listener needs a certificate")
        if self.protocol == "HTTP":
            for field in ("certificateArn", "sslPolicy"):
                if getattr(self, field) is not None:
                    raise FieldError((field,), "only an HTTPS listener takes it")
        return self


class ListenerDriver(ChildDriver):
    kind = "elbv2.Listener"
    spec_model = ListenerSpec
    attributes = ("arn",)
    immutable = frozenset({"loadBalancerArn"})
    children = LISTENERS
    parent_field = "loadBalancerArn"
    references = ("elbv2.LoadBalancer", "elbv2.TargetGroup", "acm.Certificate")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if isinstance(out.get("defaultActions"), list):
            out["defaultActions"] = canonical_actions(out["defaultActions"])
        return out

    def stack_parents(self, ctx: RunContext) -> list[str]:
        return stack_load_balancer_arns(ctx)

    def read(self, child: Child, desired: Desired | None) -> Observed:
        return _observed(child, desired)

    def describe_one(self, aws_id: str, ctx: RunContext) -> tuple[str, Item] | None:
        answer = absent_ok(ctx.client("elbv2").describe_listeners, ListenerArns=[aws_id],
                           absent=ABSENT)
        items = (answer or {}).get("Listeners") or []
        return (items[0]["LoadBalancerArn"], items[0]) if items else None

    def make(self, desired: Desired, parent: str, ctx: RunContext) -> None:
        spec = desired.spec
        ctx.client("elbv2").create_listener(
            LoadBalancerArn=parent, Port=spec["port"], Protocol=spec["protocol"],
            DefaultActions=actions_to_aws(spec["defaultActions"]), Tags=tag_list(desired),
            **_tls_args(spec))

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        arn, spec = live.attrs["arn"], desired.spec
        args: dict[str, Any] = {}
        if "port" in changed:
            args["Port"] = spec["port"]
        if "protocol" in changed:
            args["Protocol"] = spec["protocol"]
        if "defaultActions" in changed:
            args["DefaultActions"] = actions_to_aws(spec["defaultActions"])
        if {"protocol", "certificateArn", "sslPolicy"} & set(changed):
            args.update(_tls_args(spec))  # to HTTPS: its certificate and policy with it
        if args:
            ctx.client("elbv2").modify_listener(ListenerArn=arn, **args)
        if "tags" in changed:
            write_tags(ctx, arn, desired, live)
        LISTENERS.forget(ctx, live.attrs["loadBalancerArn"], arn)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Deleting a listener deletes its rules; a listener whose load balancer is gone is
        gone too."""
        absent_ok(ctx.client("elbv2").delete_listener, ListenerArn=live.attrs["arn"],
                  absent=ABSENT)
        LISTENERS.forget(ctx, live.attrs["loadBalancerArn"], live.attrs["arn"])


def stack_load_balancer_arns(ctx: RunContext) -> list[str]:
    """The stack's load balancers (the load balancer kind's own inventory read)."""
    return [item["LoadBalancerArn"] for item, _ in LOAD_BALANCERS.stack_items(ctx)]


def _tls_args(spec: dict[str, Any]) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if spec.get("certificateArn") is not None:
        args["Certificates"] = [{"CertificateArn": spec["certificateArn"]}]
    if spec.get("sslPolicy") is not None:
        args["SslPolicy"] = spec["sslPolicy"]
    return args


def _attrs(child: Child) -> dict[str, Any]:
    arn = child.item["ListenerArn"]
    return {"arn": arn, "id": arn, "loadBalancerArn": child.item.get("LoadBalancerArn")
            or child.parent, "port": child.item.get("Port")}


def _observed(child: Child, desired: Desired | None) -> Observed:
    if desired is None:
        return Observed(fields={}, attrs=_attrs(child), tags=child.tags)
    item = child.item
    https = item.get("Protocol") == "HTTPS"
    certificates = item.get("Certificates") or []
    fields: dict[str, Any] = {
        "loadBalancerArn": item.get("LoadBalancerArn") or child.parent,
        "port": item.get("Port"),
        "protocol": item.get("Protocol"),
        # TLS settings mean something on HTTPS only (the emulator reports a policy on HTTP)
        "certificateArn": certificates[0].get("CertificateArn") if https and certificates
        else None,
        "sslPolicy": item.get("SslPolicy") if https else None,
        "defaultActions": actions_from_aws(item.get("DefaultActions")),
        **observed_user_tags(desired, child.tags),
    }
    return Observed(fields=fields, attrs=_attrs(child), tags=child.tags)
