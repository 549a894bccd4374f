"""applicationautoscaling.ScalingPolicy: a target-tracking policy on a scalable target
(e.g. keep the api's average CPU at 60%).

Identity is "name": the resource's `name` is the PolicyName, unique per scalable target
(git names are unique per kind, so one name is one policy of the stack). AWS cannot tag a
scaling policy, so ownership goes through its target: a policy on a target carrying this
stack's ownership tags is this stack's, and its tags as the engine reads them are the
target's `gitops:stack` with the policy's own `gitops:id` (on a target of another stack
it is refused; on an untagged target it is adopted with it, and "tagging" it writes
nothing: adopting the target is what makes it ours). Its inventory is the policies on the
stack's own targets: prune deletes a policy made by hand on a target of this stack, and
never one on anyone else's.

PutScalingPolicy on an existing name changes it in place; only the fields the spec
declares are compared (AWS fills in cooldowns and disableScaleIn).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.aws.tags import ID_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, STACK_KEY
from controller.model import Desired, Observed, SpecModel, is_unknown
from controller.resources.applicationautoscaling_scalabletarget import (
    SERVICE,
    ScalableTargetDriver,
    absent_ok,
    camel,
    failing_once,
    find_target,
    pascal,
    target_tags,
)
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import reread

KIND = "applicationautoscaling.ScalingPolicy"
TARGETS = ScalableTargetDriver()


class PredefinedMetricSpecification(SpecModel):
    predefinedMetricType: Literal["ECSServiceAverageCPUUtilization",
                                  "ECSServiceAverageMemoryUtilization"]


class TargetTrackingConfiguration(SpecModel):
    """Only the keys written are compared: AWS defaults the rest."""

    targetValue: float = Field(gt=0, description="e.g. 60 (% CPU)")
    predefinedMetricSpecification: PredefinedMetricSpecification
    scaleInCooldown: int | None = Field(default=None, ge=0, description="seconds")
    scaleOutCooldown: int | None = Field(default=None, ge=0, description="seconds")
    disableScaleIn: bool | None = None


class ScalingPolicySpec(SpecModel):
    """The policy is named by the resource's `name` (its PolicyName). The target's triple
    usually reads the ScalableTarget's attributes by ref, which orders it after it."""

    serviceNamespace: Literal["ecs"] = Field(description="immutable")
    resourceId: str = Field(description="service/<cluster>/<service> (immutable)")
    scalableDimension: Literal["ecs:service:DesiredCount"] = Field(description="immutable")
    policyType: Literal["TargetTrackingScaling"] = Field(
        default="TargetTrackingScaling", description="immutable")
    targetTrackingScalingPolicyConfiguration: TargetTrackingConfiguration


def _on_target(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every policy on one target's resource, by name (one call per 50): what observe reads
    from and the inventory lists, so a run reads a target's policies once. Several
    dimensions may share a resource: the caller checks the dimension."""
    namespace, resource_id = scope.split("|", 1)

    def read() -> dict[str, dict[str, Any]]:
        pages = ctx.client(SERVICE).get_paginator("describe_scaling_policies").paginate(
            ServiceNamespace=namespace, ResourceId=resource_id)
        return {p["PolicyName"]: p for page in pages for p in page["ScalingPolicies"]
                if p["ResourceId"] == resource_id}
    return failing_once(ctx, "policies", read)


ON_TARGET: Listing[dict[str, Any]] = Listing("aas.policies", _on_target)


def _scope(namespace: str, resource_id: str) -> str:
    return f"{namespace}|{resource_id}"


def _located(desired: Desired) -> tuple[str, str, str] | None:
    """(namespace, resourceId, dimension), None while not known (before the target)."""
    spec = desired.spec
    triple = (spec.get("serviceNamespace"), spec.get("resourceId"), spec.get("scalableDimension"))
    if any(not isinstance(v, str) or is_unknown(v) for v in triple):
        return None
    return triple  # type: ignore[return-value]


class ScalingPolicyDriver(Driver):
    kind = KIND
    spec_model = ScalingPolicySpec
    attributes = ("arn", "name")
    immutable = frozenset({"serviceNamespace", "resourceId", "scalableDimension", "policyType"})
    references = ("applicationautoscaling.ScalableTarget",)

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        out.setdefault("policyType", "TargetTrackingScaling")
        config = out.get("targetTrackingScalingPolicyConfiguration")
        if isinstance(config, dict) and isinstance(config.get("targetValue"), int):
            # AWS answers a double: 60 and 60.0 are one value.
            out["targetTrackingScalingPolicyConfiguration"] = {
                **config, "targetValue": float(config["targetValue"])}
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One DescribeScalingPolicies per target (per 50 policies). A policy whose target
        # is in a later wave has no resourceId yet: its observe reads its target's then.
        for scope in sorted({_scope(*located[:2]) for d in desired
                             if (located := _located(d)) is not None}):
            ON_TARGET.all(ctx, scope)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        located = _located(desired)
        if located is None:
            return None
        namespace, resource_id, dimension = located
        policy = ON_TARGET.get(ctx, desired.name, _scope(namespace, resource_id))
        if policy is None or policy["ScalableDimension"] != dimension:
            return None
        return _observed(policy, ownership(ctx, policy, desired.id))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # Put on an existing name overwrites it: read afresh first, leave a live one to the
        # engine (adopt, refuse or update).
        self._forget(desired, ctx)
        existing = self.observe(desired, ctx)
        if existing is not None:
            return existing
        return self._put(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """Put the whole policy again (only the configuration can differ in place); `tags`
        alone writes nothing: a policy has none, its target's carry the ownership."""
        if "targetTrackingScalingPolicyConfiguration" in changed:
            return self._put(desired, ctx)
        self._forget(desired, ctx)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        attrs = live.attrs
        absent_ok(ctx.client(SERVICE).delete_scaling_policy, PolicyName=attrs["name"],
                  ServiceNamespace=attrs["serviceNamespace"], ResourceId=attrs["resourceId"],
                  ScalableDimension=attrs["scalableDimension"])
        ON_TARGET.forget(ctx, _scope(attrs["serviceNamespace"], attrs["resourceId"]))

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The policies on this stack's scalable targets: their listings, read once per
        owned target and run (shared with observe)."""
        owned: dict[str, Observed] = {}
        for target in TARGETS.inventory(ctx).values():
            attrs = target.attrs
            scope = _scope(attrs["serviceNamespace"], attrs["resourceId"])
            for policy in ON_TARGET.all(ctx, scope).values():
                if policy["ScalableDimension"] != attrs["scalableDimension"]:
                    continue
                rid = f"{KIND}/{policy['PolicyName']}"
                tags = _derived(target.tags or {}, rid)
                owned.setdefault(rid, Observed(fields={}, attrs=_attrs(policy), tags=tags))
        return owned

    def _put(self, desired: Desired, ctx: RunContext) -> Observed:
        spec = desired.spec
        config = pascal(spec["targetTrackingScalingPolicyConfiguration"])
        ctx.client(SERVICE).put_scaling_policy(
            PolicyName=desired.name, ServiceNamespace=spec["serviceNamespace"],
            ResourceId=spec["resourceId"], ScalableDimension=spec["scalableDimension"],
            PolicyType=spec["policyType"], TargetTrackingScalingPolicyConfiguration=config)
        self._forget(desired, ctx)
        return reread(self, desired, ctx)

    def _forget(self, desired: Desired, ctx: RunContext) -> None:
        spec = desired.spec
        ON_TARGET.forget(ctx, _scope(spec["serviceNamespace"], spec["resourceId"]))


def ownership(ctx: RunContext, policy: dict[str, Any], resource_id: str) -> dict[str, str]:
    """The tags a policy is judged by: its target's stack, its own gitops:id; none when its
    target is untagged or gone (the emulator keeps policies of a deregistered target)."""
    target = find_target(ctx, policy["ServiceNamespace"], policy["ResourceId"],
                         policy["ScalableDimension"])
    if target is None:
        return {}
    return _derived(target_tags(ctx, target["ScalableTargetARN"]), resource_id)


def _derived(of_target: dict[str, str], resource_id: str) -> dict[str, str]:
    if STACK_KEY not in of_target:
        return {}
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_KEY: of_target[STACK_KEY],
            ID_KEY: resource_id}


def _attrs(policy: dict[str, Any]) -> dict[str, Any]:
    return {"arn": policy["PolicyARN"], "name": policy["PolicyName"],
            "serviceNamespace": policy["ServiceNamespace"], "resourceId": policy["ResourceId"],
            "scalableDimension": policy["ScalableDimension"]}


def _observed(policy: dict[str, Any], tags: dict[str, str]) -> Observed:
    config = camel(policy.get("TargetTrackingScalingPolicyConfiguration") or {})
    fields = {"serviceNamespace": policy["ServiceNamespace"], "resourceId": policy["ResourceId"],
              "scalableDimension": policy["ScalableDimension"],
              "policyType": policy["PolicyType"],
              "targetTrackingScalingPolicyConfiguration": config}
    return Observed(fields=fields, attrs=_attrs(policy), tags=tags)
