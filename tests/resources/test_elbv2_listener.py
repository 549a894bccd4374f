"""elbv2.Listener against a moto server: tag identity under its load balancer, convergence
(HTTP redirect, HTTPS forward), drift, batching, deletion out of band, adoption by ARN;
and the action normalisation shared with rules (pure: AWS's echo and the emulator's
read the same)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, FieldError
from controller.resources.elbv2_actions import actions_from_aws, actions_to_aws, canonical_actions
from controller.resources.elbv2_listener import ListenerDriver, ListenerSpec
from tests.conftest import TEST_STACK, AwsEnv
from tests.resources.test_elbv2_loadbalancer import Network, load_balancer, network

DRIVER = ListenerDriver()
TG = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/api/0123456789abcdef"
TG2 = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup/web/0123456789abcdef"
REDIRECT = {"type": "redirect",
            "redirect": {"protocol": "HTTPS", "port": 443, "statusCode": "HTTP_301"}}


# ---- the canonical form, both sides (pure) ----------------------------------------------

AWS_ECHOES = [
    ("simple forward", {"type": "forward", "targetGroupArn": TG},
     {"Type": "forward", "TargetGroupArn": TG, "Order": 1,
      "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": TG, "Weight": 1}],
                        "TargetGroupStickinessConfig": {"Enabled": False}}}),
    ("redirect with AWS's defaults", REDIRECT,
     {"Type": "redirect", "Order": 1,
      "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "Host": "#{host}",
                         "Path": "/#{path}", "Query": "#{query}", "StatusCode": "HTTP_301"}}),
    ("one weighted group is a simple forward",
     {"type": "forward", "targetGroups": [{"targetGroupArn": TG, "weight": 7}]},
     {"Type": "forward", "TargetGroupArn": TG}),
    ("weighted groups, in any order",
     {"type": "forward", "targetGroups": [{"targetGroupArn": TG2, "weight": 1},
                                          {"targetGroupArn": TG, "weight": 3}]},
     {"Type": "forward", "ForwardConfig": {
         "TargetGroups": [{"TargetGroupArn": TG, "Weight": 3},
                          {"TargetGroupArn": TG2, "Weight": 1}],
         "TargetGroupStickinessConfig": {"Enabled": False}}}),
    ("fixed response", {"type": "fixed-response", "fixedResponse": {"statusCode": 404}},
     {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}),
]


@pytest.mark.parametrize(("name", "spec", "aws"), AWS_ECHOES, ids=[c[0] for c in AWS_ECHOES])
def test_aws_echo_and_the_spec_read_the_same(name: str, spec: dict[str, Any],
                                             aws: dict[str, Any]) -> None:
    want = canonical_actions([spec])
    assert actions_from_aws([aws]) == want, name
    # what the driver sends reads back the same (the emulator echoes it as it is)
    assert actions_from_aws(actions_to_aws(want)) == want
    assert canonical_actions(want) == want  # canonical is a fixed point


def test_actions_keep_their_order() -> None:
    sent = actions_to_aws([REDIRECT, {"type": "forward", "targetGroupArn": TG}])
    assert [a["Order"] for a in sent] == [1, 2]
    assert [a["type"] for a in actions_from_aws(list(reversed(sent)))] == ["redirect", "forward"]


@pytest.mark.parametrize(("spec", "field"), [
    ({"protocol": "HTTPS"}, "certificateArn"),
    ({"protocol": "HTTP", "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"}, "sslPolicy"),
    ({"defaultActions": [{"type": "forward"}]}, "targetGroupArn"),
    ({"defaultActions": [{"type": "redirect", "targetGroupArn": TG,
                          "redirect": {"statusCode": "HTTP_301"}}]}, "targetGroupArn"),
])
def test_what_aws_would_refuse_is_a_validation_error(spec: dict[str, Any], field: str) -> None:
    base = {"loadBalancerArn": "${ref:elbv2.LoadBalancer/x.arn}", "port": 80,
            "protocol": "HTTP", "defaultActions": [REDIRECT]}
    with pytest.raises(ValidationError) as caught:
        ListenerSpec.model_validate({**base, **spec})
    cause = caught.value.errors()[0].get("ctx", {}).get("error")
    assert isinstance(cause, FieldError) and cause.path == (field,)  # the line it points at


# ---- against the emulator -------------------------------------------------------------


@dataclass
class Setup:
    net: Network
    lb: str
    tg: str
    certificate: str


@pytest.fixture
def env(aws: AwsEnv) -> Setup:
    net = network(aws)
    tg = aws.client("elbv2").create_target_group(
        Name="frontend", Protocol="HTTP", Port=80, VpcId=net.vpc,
        TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
    cert = aws.client("acm").request_certificate(DomainName="iq.example.com",
                                                 ValidationMethod="DNS")["CertificateArn"]
    return Setup(net, load_balancer(aws, net), tg, cert)


def http(env: Setup, name: str = "http", **spec: Any) -> Desired:
    base = {"loadBalancerArn": env.lb, "port": 80, "protocol": "HTTP",
            "defaultActions": [REDIRECT], "tags": {"app": "iq-theory"}}
    return Desired("elbv2.Listener", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def https(env: Setup, name: str = "https", **spec: Any) -> Desired:
    base = {"loadBalancerArn": env.lb, "port": 443, "protocol": "HTTPS",
            "certificateArn": env.certificate,
            "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
            "defaultActions": [{"type": "forward", "targetGroupArn": env.tg}]}
    return Desired("elbv2.Listener", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


@pytest.mark.parametrize("make", [http, https], ids=["http redirect", "https forward"])
def test_create_then_observe_has_no_diff(aws: AwsEnv, env: Setup,
                                         make: Callable[[Setup], Desired]) -> None:
    want = make(env)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["arn"].startswith(env.lb.replace(":loadbalancer/", ":listener/"))
    assert again.tags is not None and again.tags["gitops:id"] == want.id
    assert DRIVER.create(want, aws.ctx()).attrs["arn"] == again.attrs["arn"]  # no twin


def test_a_listener_without_our_tags_is_not_ours_until_adopted(aws: AwsEnv, env: Setup) -> None:
    arn = aws.client("elbv2").create_listener(
        LoadBalancerArn=env.lb, Port=80, Protocol="HTTP",
        DefaultActions=actions_to_aws(canonical_actions([REDIRECT])))["Listeners"][0][
        "ListenerArn"]
    want = http(env)
    assert DRIVER.observe(want, aws.ctx()) is None
    found = DRIVER.find(arn, want, aws.ctx())
    assert found is not None and diff_fields(want.spec, found.fields) != []  # tags only
    assert top_level_fields(diff_fields(want.spec, found.fields)) == ["tags"]
    DRIVER.update(want, found, ["tags"], aws.ctx())
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and live.attrs["arn"] == arn


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str, Setup], None]
    path: str


DRIFT = [
    DriftCase("default action", "the whole action list is replaced by hand",
              lambda c, arn, e: c.modify_listener(ListenerArn=arn, DefaultActions=[
                  {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}]),
              "spec.defaultActions[0].type"),
    DriftCase("tls policy", "an older TLS policy set by hand",
              lambda c, arn, e: c.modify_listener(ListenerArn=arn,
                                                  SslPolicy="ELBSecurityPolicy-2016-08"),
              "spec.sslPolicy"),
    DriftCase("port", "a scalar changed by hand",
              lambda c, arn, e: c.modify_listener(ListenerArn=arn, Port=8443), "spec.port"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, env: Setup, case: DriftCase) -> None:
    want = https(env)
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    case.drift(aws.client("elbv2"), arn, env)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes][:1] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, env: Setup) -> None:
    live = DRIVER.create(http(env), aws.ctx())
    aws.client("elbv2").delete_listener(ListenerArn=live.attrs["arn"])
    assert DRIVER.observe(http(env), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: succeeds


def test_a_load_balancer_being_replaced_shows_as_a_replace(aws: AwsEnv, env: Setup) -> None:
    """While its load balancer's ARN is unknown, the old listener is still found (under the
    stack's load balancers), and `loadBalancerArn` differs: a replace, not a twin."""
    DRIVER.create(http(env), aws.ctx())
    moved = http(env, loadBalancerArn=UNKNOWN)
    live = DRIVER.observe(moved, aws.ctx())
    assert live is not None
    assert top_level_fields(diff_fields(moved.spec, live.fields)) == ["loadBalancerArn"]
    assert "loadBalancerArn" in DRIVER.immutable


def test_one_read_per_load_balancer_for_all_its_listeners(aws: AwsEnv, env: Setup) -> None:
    wants = [http(env), https(env)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("elbv2", "DescribeListeners")] == 1
    assert ctx.aws.calls[("elbv2", "DescribeTags")] == 1
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    assert ctx.aws.calls[("elbv2", "DescribeListeners")] == 1  # the inventory reads the same
