"""Security-group rules: the YAML model, one canonical form for both sides, and the plan.

AWS keeps rules as a set, one rule per (protocol, ports, single source): an
IpPermission with two CIDRs is two rules in `describe_security_group_rules`, and
the YAML model has exactly one source per rule for the same reason. Both sides
become a list of canonical rule dicts sorted by that identity, so the generic
element-wise diff sees no change when only the order differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.model import FieldError, SpecModel
from controller.resources.base import RunContext
from controller.resources.batch import ByNames
from controller.resources.shapes import Ipv4Cidr, RulePort

# Canonical source keys; the last two only appear on the live side (rules made out of
# band), so that such a rule shows as a diff and is revoked like any other extra rule.
SOURCE_KEYS = ("cidrIpv4", "sourceSecurityGroupId", "cidrIpv6", "prefixListId")
DIRECTIONS = ("ingress", "egress")
# AWS caps filter values per call; groups' rules are read in chunks of this size.
FILTER_VALUES_MAX = 200


class SecurityGroupRule(SpecModel):
    """One rule. For `-1` (all traffic) ports are ignored; for `icmp` fromPort is the
    ICMP type and toPort the code (-1 = all); for tcp/udp toPort defaults to fromPort.
    In `egress`, `sourceSecurityGroupId` is the destination group."""

    protocol: Literal["tcp", "udp", "icmp", "-1"]
    fromPort: RulePort | None = None
    toPort: RulePort | None = None
    cidrIpv4: Ipv4Cidr | None = Field(default=None, description="e.g. 10.0.0.0/16")
    sourceSecurityGroupId: str | None = Field(
        default=None, description="usually ${ref:ec2.SecurityGroup/NAME.id}"
    )
    description: str | None = None

    @model_validator(mode="after")
    def _one_source_and_ports(self) -> SecurityGroupRule:
        if (self.cidrIpv4 is None) == (self.sourceSecurityGroupId is None):
            raise ValueError("a rule needs exactly one of cidrIpv4 or sourceSecurityGroupId")
        if self.protocol in ("tcp", "udp") and self.fromPort is None:
            raise ValueError(f"a {self.protocol} rule needs fromPort")
        if (self.protocol in ("tcp", "udp") and self.fromPort is not None
                and self.toPort is not None and self.toPort < self.fromPort):
            # AWS refuses a range that runs backwards.
            raise FieldError(("toPort",), f"the range runs from fromPort up to toPort: "
                                          f"{self.toPort} is below {self.fromPort}")
        return self


def canonical_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A YAML rule (as dumped, unset fields absent) in the form `live_rule` returns."""
    protocol = str(rule["protocol"])
    if protocol == "-1":  # AWS ignores and echoes -1 for the ports of all-traffic rules
        from_port = to_port = -1
    else:
        from_port = _port(rule.get("fromPort"), -1)
        to_port = _port(rule.get("toPort"), from_port if protocol in ("tcp", "udp") else -1)
    out: dict[str, Any] = {"protocol": protocol, "fromPort": from_port, "toPort": to_port}
    for key in SOURCE_KEYS:
        if rule.get(key) is not None:
            out[key] = rule[key]
    if rule.get("description"):
        out["description"] = rule["description"]
    return out


def _port(value: Any, default: int) -> int:
    return default if value is None else int(value)


def live_rule(aws_rule: dict[str, Any]) -> dict[str, Any]:
    """One `describe_security_group_rules` entry in canonical form."""
    sources = {
        "cidrIpv4": aws_rule.get("CidrIpv4"),
        "sourceSecurityGroupId": (aws_rule.get("ReferencedGroupInfo") or {}).get("GroupId"),
        "cidrIpv6": aws_rule.get("CidrIpv6"),
        "prefixListId": aws_rule.get("PrefixListId"),
    }
    return canonical_rule({
        "protocol": aws_rule["IpProtocol"],
        "fromPort": aws_rule.get("FromPort"),
        "toPort": aws_rule.get("ToPort"),
        "description": aws_rule.get("Description"),
        **sources,
    })


def rule_key(rule: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two rules the same rule to AWS: everything but the description."""
    source = next(((k, str(rule[k])) for k in SOURCE_KEYS if k in rule), ("", ""))
    return (rule["protocol"], rule["fromPort"], rule["toPort"], *source)


def canonical_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sorted by identity, duplicates dropped (AWS would hold them once), first one wins."""
    unique: dict[tuple[Any, ...], dict[str, Any]] = {}
    for rule in rules:
        unique.setdefault(rule_key(rule), rule)
    return [unique[k] for k in sorted(unique)]


@dataclass
class RulePlan:
    """The writes that make one direction of one group equal to git."""

    authorize: list[dict[str, Any]] = field(default_factory=list)
    redescribe: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    revoke: list[str] = field(default_factory=list)


def plan_rules(desired: list[dict[str, Any]], live: dict[str, dict[str, Any]]) -> RulePlan:
    """`live` maps rule id -> canonical rule. A desired rule without a description
    leaves the live description alone, as the diff does (it compares declared keys)."""
    plan = RulePlan()
    live_by_key = {rule_key(rule): (rule_id, rule) for rule_id, rule in live.items()}
    wanted = {rule_key(rule): rule for rule in desired}
    for key, rule in wanted.items():
        if key not in live_by_key:
            plan.authorize.append(rule)
        elif "description" in rule and live_by_key[key][1].get("description") != rule[
            "description"
        ]:
            plan.redescribe.append((live_by_key[key][0], rule))
    plan.revoke = [rule_id for key, (rule_id, _) in live_by_key.items() if key not in wanted]
    return plan


def ip_permission(rule: dict[str, Any]) -> dict[str, Any]:
    """A canonical rule as the IpPermissions entry authorize_* takes."""
    perm: dict[str, Any] = {"IpProtocol": rule["protocol"]}
    if rule["protocol"] != "-1":
        perm |= {"FromPort": rule["fromPort"], "ToPort": rule["toPort"]}
    described = {"Description": rule["description"]} if "description" in rule else {}
    if "cidrIpv4" in rule:
        perm["IpRanges"] = [{"CidrIp": rule["cidrIpv4"], **described}]
    else:
        perm["UserIdGroupPairs"] = [{"GroupId": rule["sourceSecurityGroupId"], **described}]
    return perm


def rule_request(rule: dict[str, Any]) -> dict[str, Any]:
    """A canonical rule as the SecurityGroupRule modify_security_group_rules takes."""
    request: dict[str, Any] = {
        "IpProtocol": rule["protocol"],
        "FromPort": rule["fromPort"],
        "ToPort": rule["toPort"],
        "Description": rule.get("description", ""),
    }
    if "cidrIpv4" in rule:
        request["CidrIpv4"] = rule["cidrIpv4"]
    else:
        request["ReferencedGroupId"] = rule["sourceSecurityGroupId"]
    return request


def _rules_of_groups(ctx: RunContext, group_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Group id -> its raw AWS rules, for up to FILTER_VALUES_MAX groups in one read."""
    by_group: dict[str, list[dict[str, Any]]] = {}
    paginator = ctx.client("ec2").get_paginator("describe_security_group_rules")
    for page in paginator.paginate(Filters=[{"Name": "group-id", "Values": group_ids}]):
        for rule in page["SecurityGroupRules"]:
            by_group.setdefault(rule["GroupId"], []).append(rule)
    return by_group


# Every rule of the groups about to be observed, read together (`prime`) by group id; a
# group found by id (`adopt:`) or just written is read alone.
GROUP_RULES: ByNames[list[dict[str, Any]]] = ByNames(
    "ec2.describe_security_group_rules", _rules_of_groups, FILTER_VALUES_MAX)


def rules_of(ctx: RunContext, group_id: str, direction: str) -> dict[str, dict[str, Any]]:
    """Rule id -> canonical rule for one direction of one group."""
    rules = GROUP_RULES.get(ctx, group_id) or []
    egress = direction == "egress"
    return {r["SecurityGroupRuleId"]: live_rule(r) for r in rules if r["IsEgress"] == egress}
