"""ec2.SecurityGroup: a VPC security group and, when declared, its exact rule sets.

The AWS group name is the resource's `name` (unique per VPC), suffixed only while
a create-first replace keeps the old group alive beside the new one; the
controller finds its group by the ownership tags, with one tag-filtered describe
per stack, and reads the rules of the stack's groups with one
`describe_security_group_rules` call.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.model import Desired, NameRule, Observed, SpecModel, Tags
from controller.resources.base import ReplaceOrder, RunContext
from controller.resources.ec2_common import (
    Item,
    TaggedCollection,
    TaggedEc2Driver,
    ec2_arn,
    observed_tags,
    tags_of,
)
from controller.resources.ec2_sg_rules import (
    DIRECTIONS,
    GROUP_RULES,
    SecurityGroupRule,
    canonical_rule,
    canonical_rules,
    ip_permission,
    plan_rules,
    rule_request,
    rules_of,
)

GROUPS = TaggedCollection("describe_security_groups", "SecurityGroups", "security-group",
                          "GroupId", "delete_security_group")


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


class SecurityGroupDriver(TaggedEc2Driver):
    kind = "ec2.SecurityGroup"
    name_rule = NameRule(r"(?!sg-)[A-Za-z0-9 ._:/()#,@\[\]+=&;{}!$*-]{1,200}",
                         "1-200 letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*, "
                         "not starting with sg-")
    spec_model = SecurityGroupSpec
    attributes = ("id", "arn", "name")
    immutable = frozenset({"vpcId", "description"})
    # its VPC, and the groups its rules name as source or destination
    references = ("ec2.Vpc", "ec2.SecurityGroup")
    collection = GROUPS

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        for direction in DIRECTIONS:
            if direction in out:
                out[direction] = canonical_rules([canonical_rule(r) for r in out[direction]])
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        groups = GROUPS.all(ctx)
        with_rules = [d for d in desired if any(r in d.spec for r in DIRECTIONS)]
        GROUP_RULES.prime(ctx, [groups[d.id]["GroupId"] for d in with_rules if d.id in groups])

    def attrs(self, item: Item, ctx: RunContext) -> dict[str, Any]:
        group_id = item["GroupId"]
        arn = item.get("SecurityGroupArn") or ec2_arn(
            ctx, item["OwnerId"], "security-group", group_id
        )
        # `name` is the real GroupName: a create-first replace may have suffixed it.
        return {"id": group_id, "arn": arn, "name": item["GroupName"]}

    def read(self, desired: Desired, item: Item, ctx: RunContext) -> Observed:
        fields: dict[str, Any] = {
            "vpcId": item.get("VpcId"),
            "description": item["Description"],
            **observed_tags(desired, item),
        }
        for direction in DIRECTIONS:
            if direction in desired.spec:
                live = rules_of(ctx, item["GroupId"], direction)
                fields[direction] = canonical_rules(list(live.values()))
        return Observed(fields=fields, attrs=self.attrs(item, ctx), tags=tags_of(item))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        group = GROUPS.owned_fresh(desired, ctx)
        if group is None:
            group = ctx.client("ec2").create_security_group(
                GroupName=self._free_name(desired, ctx),
                Description=desired.spec.get("description") or f"Managed by gitops: {desired.id}",
                VpcId=desired.spec["vpcId"],
                TagSpecifications=GROUPS.tag_specifications(desired),
            )
        live = self.reread(desired, group["GroupId"], ctx)
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
            self.sync_tags(desired, live, ctx)
        return self.reread(desired, group_id, ctx)

    def forget(self, ctx: RunContext, resource_id: str) -> None:
        super().forget(ctx, resource_id)
        GROUP_RULES.forget(ctx, resource_id)

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """Two groups can exist at once: where the old one holds the name in the VPC, the
        new one gets a suffixed name (`_free_name`), so dependents move before it goes."""
        return "create_first"

    def _free_name(self, desired: Desired, ctx: RunContext) -> str:
        """The resource's name, or `<name>-<6 hex>` when a group of this stack holds it in the
        VPC (the one a create-first replace retires: GroupName is unique per VPC).

        Only the stack's own groups count (the listing `owned_fresh` just read): a
        same-named group someone else made still fails with InvalidGroup.Duplicate,
        since making a twin beside it, or taking it, is a decision for a person.
        """
        vpc = desired.spec["vpcId"]
        taken = any(group["GroupName"] == desired.name and group.get("VpcId") == vpc
                    for group in GROUPS.all(ctx).values())
        return f"{desired.name}-{secrets.token_hex(3)}" if taken else desired.name

    def _sync_rules(
        self, desired: list[dict[str, Any]], group_id: str, direction: str, ctx: RunContext
    ) -> None:
        """Make one direction exactly `desired`: authorize new rules before revoking old
        ones, so a changed port never leaves a moment with neither rule in force."""
        ec2 = ctx.client("ec2")
        plan = plan_rules(desired, rules_of(ctx, group_id, direction))
        suffix = "egress" if direction == "egress" else "ingress"
        if plan.authorize:
            _already_done(getattr(ec2, f"authorize_security_group_{suffix}"),
                          "InvalidPermission.Duplicate", GroupId=group_id,
                          IpPermissions=[ip_permission(r) for r in plan.authorize])
        if plan.redescribe:
            ec2.modify_security_group_rules(
                GroupId=group_id,
                SecurityGroupRules=[
                    {"SecurityGroupRuleId": rule_id, "SecurityGroupRule": rule_request(rule)}
                    for rule_id, rule in plan.redescribe
                ],
            )
        if plan.revoke:
            _already_done(getattr(ec2, f"revoke_security_group_{suffix}"),
                          "InvalidPermission.NotFound", GroupId=group_id,
                          SecurityGroupRuleIds=plan.revoke)


def _already_done(call: Callable[..., Any], code: str, **kwargs: Any) -> None:
    """A rule change AWS answers as already made (botocore resent it after a lost answer,
    or another writer made it): the engine's read-back after the write says whether the
    rules are now git's, and corrects what is still missing."""
    try:
        call(**kwargs)
    except errors.ClientError as err:
        if error_code(err) != code:
            raise
