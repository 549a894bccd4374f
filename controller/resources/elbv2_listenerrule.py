"""elbv2.ListenerRule: a listener's rule (priority, conditions, actions, tags), found by its
ownership tags (rules have no names).

A rule is looked for under the listener its spec names (one describe_rules per listener,
shared by all its rules, and one describe_tags per 20 of them); when it is not there,
under every listener of the stack's load balancers, so a rule git moved shows as the
replace it is. The listener's default rule is the listener's `defaultActions`, not a
resource of this kind. Conditions and actions compare in `elbv2_actions`' canonical form.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from controller.model import Desired, Observed, SpecModel, Tags
from controller.resources.base import RunContext
from controller.resources.common import absent_ok, reread
from controller.resources.elbv2_actions import (
    Action,
    Condition,
    actions_from_aws,
    actions_to_aws,
    canonical_actions,
    canonical_conditions,
    conditions_from_aws,
    conditions_to_aws,
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
from controller.resources.elbv2_listener import LISTENERS, stack_load_balancer_arns
from controller.resources.shapes import ArnRule

RULES = Children("describe_rules", "Rules", "ListenerArn", "RuleArn", skip_key="IsDefault")

ListenerArn = Annotated[str, AfterValidator(ArnRule(
    "a listener ARN", "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
    "listener/app/NAME/ID/ID", {"elasticloadbalancing": ("listener/",)},
    ref="${ref:elbv2.Listener/NAME.arn}"))]


class ListenerRuleSpec(SpecModel):
    """Priorities are unique per listener (AWS refuses a second rule at one). A condition
    matches any of its `values`; the rule matches when all its conditions do."""

    listenerArn: ListenerArn = Field(
        description="usually ${ref:elbv2.Listener/NAME.arn} (immutable)")
    priority: int = Field(ge=1, le=50000, description="lower is evaluated first")
    conditions: list[Condition] = Field(min_length=1, max_length=5)
    actions: list[Action] = Field(min_length=1)
    tags: Tags | None = None


class ListenerRuleDriver(ChildDriver):
    kind = "elbv2.ListenerRule"
    spec_model = ListenerRuleSpec
    attributes = ("arn",)
    immutable = frozenset({"listenerArn"})
    children = RULES
    parent_field = "listenerArn"
    references = ("elbv2.Listener", "elbv2.TargetGroup")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if isinstance(out.get("actions"), list):
            out["actions"] = canonical_actions(out["actions"])
        if isinstance(out.get("conditions"), list):
            out["conditions"] = canonical_conditions(out["conditions"])
        return out

    def stack_parents(self, ctx: RunContext) -> list[str]:
        return stack_listener_arns(ctx)

    def read(self, child: Child, desired: Desired | None) -> Observed:
        return _observed(child, desired)

    def describe_one(self, aws_id: str, ctx: RunContext) -> tuple[str, Item] | None:
        answer = absent_ok(ctx.client("elbv2").describe_rules, RuleArns=[aws_id],
                           absent=ABSENT)
        items = [r for r in (answer or {}).get("Rules") or [] if not r.get("IsDefault")]
        return (listener_of(aws_id), items[0]) if items else None

    def make(self, desired: Desired, parent: str, ctx: RunContext) -> None:
        spec = desired.spec
        ctx.client("elbv2").create_rule(
            ListenerArn=parent, Priority=spec["priority"],
            Conditions=conditions_to_aws(spec["conditions"]),
            Actions=actions_to_aws(spec["actions"]), Tags=tag_list(desired))

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        elbv2, arn, spec = ctx.client("elbv2"), live.attrs["arn"], desired.spec
        if "priority" in changed:
            elbv2.set_rule_priorities(RulePriorities=[{"RuleArn": arn,
                                                       "Priority": spec["priority"]}])
        modify: dict[str, Any] = {}
        if "conditions" in changed:
            modify["Conditions"] = conditions_to_aws(spec["conditions"])
        if "actions" in changed:
            modify["Actions"] = actions_to_aws(spec["actions"])
        if modify:
            elbv2.modify_rule(RuleArn=arn, **modify)
        if "tags" in changed:
            write_tags(ctx, arn, desired, live)
        RULES.forget(ctx, live.attrs["listenerArn"], arn)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        absent_ok(ctx.client("elbv2").delete_rule, RuleArn=live.attrs["arn"], absent=ABSENT)
        RULES.forget(ctx, live.attrs["listenerArn"], live.attrs["arn"])


def stack_listener_arns(ctx: RunContext) -> list[str]:
    """Every listener of the stack's load balancers, whoever owns the listener."""
    return [child.item["ListenerArn"]
            for child in LISTENERS.under(ctx, stack_load_balancer_arns(ctx))]


def listener_of(rule_arn: str) -> str:
    """A rule's listener, from the rule's ARN (`listener-rule/app/LB/ID/LISTENER/RULE`):
    describe_rules does not name it."""
    return rule_arn.replace(":listener-rule/", ":listener/", 1).rsplit("/", 1)[0]


def _attrs(child: Child) -> dict[str, Any]:
    arn = child.item["RuleArn"]
    return {"arn": arn, "id": arn, "listenerArn": child.parent}


def _observed(child: Child, desired: Desired | None) -> Observed:
    if desired is None:
        return Observed(fields={}, attrs=_attrs(child), tags=child.tags)
    item = child.item
    fields: dict[str, Any] = {
        "listenerArn": child.parent,
        "priority": int(item["Priority"]),  # AWS answers it as text
        "conditions": conditions_from_aws(item.get("Conditions")),
        "actions": actions_from_aws(item.get("Actions")),
        **observed_user_tags(desired, child.tags),
    }
    return Observed(fields=fields, attrs=_attrs(child), tags=child.tags)
