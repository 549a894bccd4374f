"""ec2.SecurityGroup against a moto server: exact rule sets, order-free, drift by hand."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from controller.aws.tags import retired_id
from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.ec2_securitygroup import SecurityGroupDriver, SecurityGroupSpec
from controller.resources.ec2_sg_rules import plan_rules
from tests.conftest import TEST_STACK, AwsEnv
from tests.faults import Throttle

DRIVER = SecurityGroupDriver()
NAME = "iq-theory-api"
ALL_OUT = {"protocol": "-1", "cidrIpv4": "0.0.0.0/0"}


@dataclass
class Net:
    """A VPC and the peer group (the frontend) the api group's rule references."""

    vpc: str
    peer: str


@pytest.fixture
def net(aws: AwsEnv) -> Net:
    ec2 = aws.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    peer = ec2.create_security_group(GroupName="iq-theory-frontend", Description="f", VpcId=vpc)
    return Net(vpc, peer["GroupId"])


def desired(net: Net, **spec: Any) -> Desired:
    base = {
        "vpcId": net.vpc,
        "description": "iq-theory api tasks",
        "ingress": [
            {"protocol": "tcp", "fromPort": 8080, "toPort": 8080,
             "sourceSecurityGroupId": net.peer},
            {"protocol": "tcp", "fromPort": 8080, "cidrIpv4": "10.0.0.0/16", "description": "vpc"},
        ],
        "egress": [ALL_OUT],
        "tags": {"app": "iq-theory"},
    }
    raw = SecurityGroupSpec.model_validate({**base, **spec})
    return Desired("ec2.SecurityGroup", NAME, TEST_STACK,
                   DRIVER.normalise(raw.model_dump(mode="json", exclude_unset=True)))


def aws_rules(aws: AwsEnv, group_id: str, egress: bool) -> list[dict[str, Any]]:
    rules = aws.client("ec2").describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [group_id]}])["SecurityGroupRules"]
    return [r for r in rules if r["IsEgress"] == egress]


def test_create_then_observe_has_no_diff(aws: AwsEnv, net: Net) -> None:
    want = desired(net)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.attrs["name"] == NAME and again.attrs["id"].startswith("sg-")
    assert again.attrs["arn"].endswith(":security-group/" + again.attrs["id"])
    group = aws.client("ec2").describe_security_groups(GroupIds=[again.attrs["id"]])
    tags = {t["Key"]: t["Value"] for t in group["SecurityGroups"][0]["Tags"]}
    assert tags["gitops:id"] == "ec2.SecurityGroup/" + NAME and tags["gitops:stack"] == TEST_STACK


def test_declared_egress_removes_the_default_allow_all(aws: AwsEnv, net: Net) -> None:
    https_out = {"protocol": "tcp", "fromPort": 443, "cidrIpv4": "0.0.0.0/0"}
    want = desired(net, egress=[https_out])
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert [(r["IpProtocol"], r["FromPort"]) for r in aws_rules(aws, created.attrs["id"], True)] \
        == [("tcp", 443)]


def test_omitted_egress_leaves_the_default_alone(aws: AwsEnv, net: Net) -> None:
    want = desired(net)
    want = Desired(want.kind, want.name, want.stack,
                   {k: v for k, v in want.spec.items() if k != "egress"})
    created = DRIVER.create(want, aws.ctx())
    assert "egress" not in created.fields
    assert [r["IpProtocol"] for r in aws_rules(aws, created.attrs["id"], True)] == ["-1"]


@pytest.mark.xfail(strict=True, reason=(
    "moto 5.2.5: describe_security_group_rules drops the Description of a rule that "
    "references a group when authorize_* made it (describe_security_groups keeps it; "
    "AWS returns it in both). The driver is written for AWS; desired/base/network.yaml "
    "leaves that rule undescribed so the demo converges on moto."))
def test_described_group_rule_converges_on_create(aws: AwsEnv, net: Net) -> None:
    rule = {"protocol": "tcp", "fromPort": 8080, "sourceSecurityGroupId": net.peer,
            "description": "from the frontend"}
    want = desired(net, ingress=[rule])
    assert diff_fields(want.spec, DRIVER.create(want, aws.ctx()).fields) == []


def test_prefetch_reads_groups_and_rules_once(aws: AwsEnv, net: Net) -> None:
    wants = [desired(net)]
    other = desired(net, ingress=[])
    wants.append(Desired(other.kind, "iq-theory-other", other.stack, other.spec))
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    for want in wants:
        live = DRIVER.observe(want, ctx)
        assert live is not None and diff_fields(want.spec, live.fields) == []
    assert ctx.aws.calls[("ec2", "DescribeSecurityGroups")] == 1
    assert ctx.aws.calls[("ec2", "DescribeSecurityGroupRules")] == 1


def _cidr(port: int, cidr: str, desc: str | None = None) -> dict[str, Any]:
    ip_range = {"CidrIp": cidr, **({"Description": desc} if desc else {})}
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "IpRanges": [ip_range]}


def _group(port: int, group: str) -> dict[str, Any]:
    return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port,
            "UserIdGroupPairs": [{"GroupId": group}]}


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str, Net], None]
    paths: list[str]


DRIFT = [
    DriftCase("rule added", "an out-of-band ssh rule must be revoked",
              lambda c, g, n: c.authorize_security_group_ingress(
                  GroupId=g, IpPermissions=[_cidr(22, "0.0.0.0/0")]),
              ["spec.ingress"]),
    DriftCase("group rule removed", "the rule referencing another group, revoked by hand",
              lambda c, g, n: c.revoke_security_group_ingress(
                  GroupId=g, IpPermissions=[_group(8080, n.peer)]),
              ["spec.ingress"]),
    DriftCase("port changed", "the group rule moved to another port: one element's ports",
              lambda c, g, n: (
                  c.revoke_security_group_ingress(GroupId=g, IpPermissions=[_group(8080, n.peer)]),
                  c.authorize_security_group_ingress(GroupId=g,
                                                     IpPermissions=[_group(9090, n.peer)])),
              ["spec.ingress[1].fromPort", "spec.ingress[1].toPort"]),
    DriftCase("cidr changed", "the source of the cidr rule widened by hand",
              lambda c, g, n: (
                  c.revoke_security_group_ingress(
                      GroupId=g, IpPermissions=[_cidr(8080, "10.0.0.0/16")]),
                  c.authorize_security_group_ingress(
                      GroupId=g, IpPermissions=[_cidr(8080, "10.0.0.0/8", "vpc")])),
              ["spec.ingress[0].cidrIpv4"]),
    DriftCase("description changed", "a rule's description is declared, so compared",
              lambda c, g, n: c.update_security_group_rule_descriptions_ingress(
                  GroupId=g, IpPermissions=[_cidr(8080, "10.0.0.0/16", "hand")]),
              ["spec.ingress[0].description"]),
    DriftCase("egress removed", "declared egress is managed exactly",
              lambda c, g, n: c.revoke_security_group_egress(
                  GroupId=g, IpPermissions=[{"IpProtocol": "-1",
                                             "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]),
              ["spec.egress"]),
    DriftCase("egress added", "an extra egress rule beside allow-all",
              lambda c, g, n: c.authorize_security_group_egress(
                  GroupId=g, IpPermissions=[_cidr(25, "1.2.3.4/32")]),
              ["spec.egress"]),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c, g, n: c.create_tags(Resources=[g], Tags=[{"Key": "app", "Value": "x"}]),
              ["spec.tags.app"]),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, net: Net, case: DriftCase) -> None:
    want = desired(net)
    group_id = DRIVER.create(want, aws.ctx()).attrs["id"]
    case.drift(aws.client("ec2"), group_id, net)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == case.paths, case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []


# --- pure: normalise and the rule plan ---------------------------------------------------

RULES = [
    {"protocol": "tcp", "fromPort": 8080, "toPort": 8080, "sourceSecurityGroupId": "sg-1"},
    {"protocol": "tcp", "fromPort": 8080, "cidrIpv4": "10.0.0.0/16"},
    {"protocol": "udp", "fromPort": 53, "cidrIpv4": "10.0.0.0/16"},
    {"protocol": "icmp", "fromPort": 8, "cidrIpv4": "10.0.0.0/16"},
    {"protocol": "-1", "cidrIpv4": "0.0.0.0/0"},
]


def test_same_rules_in_another_order_give_no_diff() -> None:
    forward = DRIVER.normalise({"ingress": RULES, "egress": RULES[:2]})
    backward = DRIVER.normalise({"ingress": RULES[::-1], "egress": RULES[1::-1]})
    assert diff_fields(forward, backward) == [] and forward == backward


def test_normalise_makes_aws_port_defaults_explicit() -> None:
    by_protocol = {r["protocol"]: r for r in DRIVER.normalise({"ingress": RULES})["ingress"]}
    assert (by_protocol["-1"]["fromPort"], by_protocol["-1"]["toPort"]) == (-1, -1)
    assert (by_protocol["udp"]["fromPort"], by_protocol["udp"]["toPort"]) == (53, 53)
    assert (by_protocol["icmp"]["fromPort"], by_protocol["icmp"]["toPort"]) == (8, -1)


def test_normalise_drops_duplicates() -> None:
    spec = DRIVER.normalise({"ingress": [RULES[1], dict(RULES[1], toPort=8080)]})
    assert spec == {"ingress": [{"protocol": "tcp", "fromPort": 8080, "toPort": 8080,
                                 "cidrIpv4": "10.0.0.0/16"}]}


@pytest.mark.parametrize("rule", [
    {"protocol": "tcp", "fromPort": 80},
    {"protocol": "tcp", "fromPort": 80, "cidrIpv4": "10.0.0.0/8", "sourceSecurityGroupId": "sg-1"},
    {"protocol": "tcp", "cidrIpv4": "10.0.0.0/8"},
], ids=["no source", "two sources", "tcp without port"])
def test_rule_model_rejects(rule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SecurityGroupSpec.model_validate({"vpcId": "vpc-1", "ingress": [rule]})


def test_plan_keeps_undeclared_descriptions_and_rewrites_declared_ones() -> None:
    rule = {"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidrIpv4": "10.0.0.0/8"}
    live = {"sgr-1": dict(rule, description="hand"), "sgr-2": dict(rule, fromPort=22, toPort=22)}
    assert plan_rules([rule], live).redescribe == []
    plan = plan_rules([dict(rule, description="git")], live)
    assert plan.redescribe == [("sgr-1", dict(rule, description="git"))]
    assert plan.revoke == ["sgr-2"] and plan.authorize == []


# --- the contract: tags, inventory, adoption by id, create-first replace, a failed batch ---


def group_of(aws: AwsEnv, group_id: str) -> dict[str, Any]:
    return dict(aws.client("ec2").describe_security_groups(GroupIds=[group_id])
                ["SecurityGroups"][0])


def group_tags(aws: AwsEnv, group_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in group_of(aws, group_id).get("Tags", [])}


def test_find_by_id_reads_the_rules_and_adoption_keeps_the_users_tags(aws: AwsEnv,
                                                                      net: Net) -> None:
    """A group found by id is not in the stack's batch: its rules are read alone."""
    ec2 = aws.client("ec2")
    ec2.create_tags(Resources=[net.peer], Tags=[{"Key": "team", "Value": "web"}])
    want = desired(net, ingress=[], egress=[ALL_OUT])
    want = Desired(want.kind, "iq-theory-frontend", want.stack,
                   {k: v for k, v in want.spec.items() if k not in ("tags", "description")})
    assert DRIVER.find("sg-0123456789abcdef0", want, aws.ctx()) is None
    live = DRIVER.find(net.peer, want, aws.ctx())
    assert live is not None and live.attrs["name"] == "iq-theory-frontend"
    assert live.tags == {"team": "web"} and diff_fields(want.spec, live.fields) == []
    DRIVER.update(want, live, ["tags"], aws.ctx())
    assert group_tags(aws, net.peer) == {"team": "web", **want.tags()}
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and again.attrs["id"] == net.peer


def test_a_replace_creates_the_new_group_first_under_a_free_name(aws: AwsEnv, net: Net) -> None:
    """GroupName is unique per VPC: while the old group lives the new one is suffixed, and
    its `name` attribute says the real one."""
    old = DRIVER.create(desired(net), aws.ctx())
    want = desired(net, description="iq-theory api tasks, v2")  # immutable: a replace
    assert DRIVER.replace_order(want, old) == "create_first"
    DRIVER.retag(old, {"gitops:id": retired_id(want.id)}, aws.ctx())
    new = DRIVER.create(want, aws.ctx())
    assert new.attrs["id"] != old.attrs["id"] and diff_fields(want.spec, new.fields) == []
    assert re.fullmatch(NAME + r"-[0-9a-f]{6}", new.attrs["name"])
    assert group_of(aws, new.attrs["id"])["GroupName"] == new.attrs["name"]
    assert group_of(aws, old.attrs["id"])["GroupName"] == NAME  # both exist
    owned = DRIVER.inventory(aws.ctx())
    assert set(owned) == {want.id, retired_id(want.id)}
    DRIVER.delete(owned[retired_id(want.id)], aws.ctx())
    assert set(DRIVER.inventory(aws.ctx())) == {want.id}
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []


def test_a_same_named_group_someone_else_made_is_not_worked_around(aws: AwsEnv,
                                                                    net: Net) -> None:
    """Only the stack's own (retired) group frees the name by a suffix: beside someone
    else's group create fails, as taking it or making a twin is a person's decision."""
    want = desired(net)
    aws.client("ec2").create_security_group(GroupName=NAME, Description="x", VpcId=net.vpc)
    with pytest.raises(ClientError, match=r"InvalidGroup\.Duplicate"):
        DRIVER.create(want, aws.ctx())


def test_a_throttled_rules_read_fails_each_group_and_is_asked_once(
        aws: AwsEnv, net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    wants = [desired(net), Desired("ec2.SecurityGroup", "iq-theory-other", TEST_STACK,
                                   desired(net, ingress=[]).spec)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    throttle = Throttle("ec2", "DescribeSecurityGroupRules", "RequestLimitExceeded")
    ctx = throttle.ctx(aws, monkeypatch)
    DRIVER.prefetch(wants, ctx)  # the groups are read; their rules' batch failed
    for want in wants:
        with pytest.raises(ClientError, match="RequestLimitExceeded"):
            DRIVER.observe(want, ctx)
    assert throttle.sent == 1
