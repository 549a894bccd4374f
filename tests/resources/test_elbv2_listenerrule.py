"""elbv2.ListenerRule against a moto server: tag identity under its listener, convergence,
priority as a number, conditions as a set, drift, batching, deletion out of band."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.elbv2_actions import conditions_from_aws
from controller.resources.elbv2_listenerrule import ListenerRuleDriver, listener_of
from tests.conftest import TEST_STACK, AwsEnv
from tests.resources.test_elbv2_loadbalancer import load_balancer, network

DRIVER = ListenerRuleDriver()


@dataclass
class Setup:
    listener: str
    api: str
    frontend: str


@pytest.fixture
def env(aws: AwsEnv) -> Setup:
    net, elbv2 = network(aws), aws.client("elbv2")
    groups = [elbv2.create_target_group(Name=name, Protocol="HTTP", Port=port, VpcId=net.vpc,
                                        TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]
              for name, port in (("api", 8080), ("frontend", 80))]
    listener = elbv2.create_listener(
        LoadBalancerArn=load_balancer(aws, net), Port=80, Protocol="HTTP",
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[1]}])["Listeners"][0]
    return Setup(listener["ListenerArn"], *groups)


def desired(env: Setup, name: str = "api", **spec: Any) -> Desired:
    base = {"listenerArn": env.listener, "priority": 10,
            "conditions": [{"field": "path-pattern", "values": ["/api/*"]}],
            "actions": [{"type": "forward", "targetGroupArn": env.api}],
            "tags": {"app": "iq-theory"}}
    return Desired("elbv2.ListenerRule", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv, env: Setup) -> None:
    want = desired(env)
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    again = DRIVER.observe(want, aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []
    assert again.fields["priority"] == 10  # AWS answers "10"
    assert listener_of(again.attrs["arn"]) == env.listener
    assert again.tags is not None and again.tags["gitops:id"] == want.id


def test_conditions_compare_as_sets() -> None:
    """Values in any order, conditions in any order, AWS's legacy `Values` or `...Config`."""
    aws_side = conditions_from_aws([
        {"Field": "path-pattern", "Values": ["/b/*", "/a/*"],
         "PathPatternConfig": {"Values": ["/b/*", "/a/*"]}},
        {"Field": "host-header", "Values": ["iq.example.com"]}])
    spec_side = DRIVER.normalise({"conditions": [
        {"field": "host-header", "values": ["iq.example.com"]},
        {"field": "path-pattern", "values": ["/a/*", "/b/*"]}]})["conditions"]
    assert aws_side == spec_side


def test_two_values_in_one_condition_converge(aws: AwsEnv, env: Setup) -> None:
    """Sent as PathPatternConfig (the emulator's modify_rule fails on two legacy `Values`)."""
    want = desired(env, conditions=[{"field": "path-pattern", "values": ["/api/*", "/v2/*"]}])
    live = DRIVER.create(desired(env), aws.ctx())
    changes = diff_fields(want.spec, live.fields)
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str, Setup], None]
    path: str


DRIFT = [
    DriftCase("priority", "SetRulePriorities by hand",
              lambda c, arn, e: c.set_rule_priorities(
                  RulePriorities=[{"RuleArn": arn, "Priority": 99}]), "spec.priority"),
    DriftCase("condition", "a path changed by hand (one value: see the emulator note)",
              lambda c, arn, e: c.modify_rule(RuleArn=arn, Conditions=[
                  {"Field": "path-pattern", "Values": ["/other/*"]}]),
              "spec.conditions[0].values"),
    DriftCase("action", "the rule forwards elsewhere",
              lambda c, arn, e: c.modify_rule(RuleArn=arn, Actions=[
                  {"Type": "forward", "TargetGroupArn": e.frontend}]),
              "spec.actions[0].targetGroupArn"),
    DriftCase("tag removed", "a declared tag deleted by hand",
              lambda c, arn, e: c.remove_tags(ResourceArns=[arn], TagKeys=["app"]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, env: Setup, case: DriftCase) -> None:
    want = desired(env)
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    case.drift(aws.client("elbv2"), arn, env)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_deleted_out_of_band_reads_absent(aws: AwsEnv, env: Setup) -> None:
    live = DRIVER.create(desired(env), aws.ctx())
    aws.client("elbv2").delete_rule(RuleArn=live.attrs["arn"])
    assert DRIVER.observe(desired(env), aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: succeeds


def test_one_read_per_listener_for_all_its_rules(aws: AwsEnv, env: Setup) -> None:
    """The listener's default rule is not a rule of this kind: never in the inventory."""
    wants = [desired(env, f"r{i}", priority=10 + i,
                     conditions=[{"field": "path-pattern", "values": [f"/r{i}/*"]}])
             for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert ctx.aws.calls[("elbv2", "DescribeRules")] == 1
    assert ctx.aws.calls[("elbv2", "DescribeTags")] == 1
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    assert ctx.aws.calls[("elbv2", "DescribeRules")] == 1
