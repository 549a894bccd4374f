"""ec2.SecurityGroup: a VPC security group and, when declared, its exact rule sets.

The AWS group name is the resource's `name` (unique per VPC); the controller
finds its group by the ownership tags, with one tag-filtered describe per stack,
and reads every group's rules with one `describe_security_group_rules` call.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws.errors import is_not_found
from controller.resources.base import (
    Desired,
    Driver,
    NameRule,
    Observed,
    RunContext,
    SpecModel,
    Tags,
)
from controller.resources.ec2_common import (
    TaggedCollection,
    ec2_arn,
    observed_tags,
    reread,
    sync_tags,
    tags_of,
)
from controller.resources.ec2_sg_rules import (
    DIRECTIONS,
    SecurityGroupRule,
    StackRules,
    canonical_rule,
    canonical_rules,
    ip_permission,
    plan_rules,
    rule_request,
)

GROUPS = TaggedCollection("describe_security_groups", "SecurityGroups", "security-group")
RULES = StackRules(GROUPS)


class SecurityGroupSpec(SpecModel):
    """`ingress` / `egress`, when declared, are managed exactly: rules AWS holds that git
    does not list are revoked, including the allow-all egress rule AWS adds to every
    new group. Omit `egress` to leave that default alone. Rule order does not matter."""

    vpcId: str = Field(description="usually ${ref:ec2.Vpc/NAME.id} (immutable)")
    description: str | None = Field(
        default=None, description="immutable (AWS cannot change it); defaults to one naming the id"
    )
    ingress: list[SecurityGroupRule] | None = None
    egress: list[SecurityGroupRule] | None = None
    tags: Tags | None = None


class SecurityGroupDriver(Driver):
    kind = "ec2.SecurityGroup"
    name_rule = NameRule(r"(?!sg-)[A-Za-z0-9 ._:/()#,@\[\]+=&;{}!$*-]{1,200}",
                         "1-200 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, "
                         "not starting with sg-")
    spec_model = SecurityGroupSpec
    attributes = ("id", "arn", "name")
    immutable = frozenset({"vpcId", "description"})

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        for direction in DIRECTIONS:
            if direction in out:
                out[direction] = canonical_rules([canonical_rule(r) for r in out[direction]])
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        GROUPS.all(ctx)
        if any(d in item.spec for item in desired for d in DIRECTIONS):
            RULES.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = GROUPS.find(desired, ctx)
        if group is None:
            return None
        group_id = group["GroupId"]
        fields: dict[str, Any] = {
            "vpcId": group.get("VpcId"),
            "description": group["Description"],
            **observed_tags(desired, group),
        }
        for direction in DIRECTIONS:
            if direction in desired.spec:
                live = RULES.of_group(ctx, group_id, direction)
                fields[direction] = canonical_rules(list(live.values()))
        arn = group.get("SecurityGroupArn") or ec2_arn(
            ctx, group["OwnerId"], "security-group", group_id
        )
        attrs = {"id": group_id, "arn": arn, "name": group["GroupName"]}
        return Observed(fields=fields, attrs=attrs, tags=tags_of(group))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        if GROUPS.find_fresh(desired, ctx) is None:
            # A same-named group in the VPC without our tags fails with InvalidGroup.Duplicate:
            # that group is someone else's, and adopting it silently would take it over.
            ctx.client("ec2").create_security_group(
                GroupName=desired.name,
                Description=desired.spec.get("description") or f"Managed by gitops: {desired.id}",
                VpcId=desired.spec["vpcId"],
                TagSpecifications=GROUPS.tag_specifications(desired),
            )
        live = reread(self, desired, ctx, GROUPS, RULES)
        declared = [d for d in DIRECTIONS if d in desired.spec]
        return self.update(desired, live, declared, ctx) if declared else live

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        group_id = live.attrs["id"]
        for direction in DIRECTIONS:
            if direction in changed and direction in desired.spec:
                self._sync_rules(desired.spec[direction], group_id, direction, ctx)
        if "tags" in changed:
            sync_tags(desired, live, group_id, ctx)
        return reread(self, desired, ctx, GROUPS, RULES)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        try:
            ctx.client("ec2").delete_security_group(GroupId=live.attrs["id"])
        except Exception as err:
            if not is_not_found(err):
                raise
        GROUPS.forget(ctx)
        RULES.forget(ctx)

    def _sync_rules(
        self, desired: list[dict[str, Any]], group_id: str, direction: str, ctx: RunContext
    ) -> None:
        """Make one direction exactly `desired`: authorize new rules before revoking old
        ones, so a changed port never leaves a moment with neither rule in force."""
        ec2 = ctx.client("ec2")
        plan = plan_rules(desired, RULES.of_group(ctx, group_id, direction))
        suffix = "egress" if direction == "egress" else "ingress"
        if plan.authorize:
            getattr(ec2, f"authorize_security_group_{suffix}")(
                GroupId=group_id, IpPermissions=[ip_permission(r) for r in plan.authorize]
            )
        if plan.redescribe:
            ec2.modify_security_group_rules(
                GroupId=group_id,
                SecurityGroupRules=[
                    {"SecurityGroupRuleId": rule_id, "SecurityGroupRule": rule_request(rule)}
                    for rule_id, rule in plan.redescribe
                ],
            )
        if plan.revoke:
            getattr(ec2, f"revoke_security_group_{suffix}")(
                GroupId=group_id, SecurityGroupRuleIds=plan.revoke
            )
