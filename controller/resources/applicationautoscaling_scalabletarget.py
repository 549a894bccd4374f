"""applicationautoscaling.ScalableTarget: the task-count range Application Auto Scaling keeps
an ECS service's desiredCount in.

Identity is "name", but the AWS name is not the resource's `name` (free text, e.g.
iq-theory-api): AWS knows a target only by (serviceNamespace, resourceId,
scalableDimension), all three in the spec and fixed at registration. That triple is
unique in the account and region, so it is found (and adopted, or refused) as a name is.

Ownership rests on tags, where AWS has them: RegisterScalableTarget takes `Tags` (tag on
create), TagResource/UntagResource/ListTagsForResource work on the target's ARN
(ScalableTargetARN). No read carries tags and AWS has no batched tag read for the service,
so each target's tags are one ListTagsForResource, read once per run and shared by observe
and inventory. The targets themselves are one listing of the namespace per run (50 a
page), shared the same way. (moto 5.2.5 has none of the tag calls: the emulator process
adds them as AWS documents them, controller/motoserver.py.)

Registering an existing target again changes its capacities in place. Deregistering one
deletes its scaling policies.

An autoscaled service's desiredCount belongs to the autoscaler: `takes_over` tells the
engine so for the ecs.Service the resourceId refers to (git's count is used at create).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Literal, TypeVar

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code, is_not_found
from controller.aws.tags import user_tags
from controller.model import Desired, FieldError, Observed, SpecModel, Tags, is_unknown
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import reread, sync_tags
from controller.resources.tagged import by_id

T = TypeVar("T")
SERVICE = "application-autoscaling"
# AWS says ObjectNotFoundException for a target or policy that is not there; the emulator
# says ValidationException "No scalable target found ..." / "No scaling policy found ...".
ABSENT_CODE = "ObjectNotFoundException"
ABSENT_WORDS = ("No scalable target found", "No scaling policy found")
# The request fields of RegisterScalableTarget, by spec field (tags are written apart).
REGISTERED = {"minCapacity": "MinCapacity", "maxCapacity": "MaxCapacity",
              "suspendedState": "SuspendedState"}


class SuspendedState(SpecModel):
    """Which scaling is paused (all default false): e.g. during a load test."""

    dynamicScalingInSuspended: bool | None = None
    dynamicScalingOutSuspended: bool | None = None
    scheduledScalingSuspended: bool | None = None


class ScalableTargetSpec(SpecModel):
    """An ECS service's task count, kept between minCapacity and maxCapacity."""

    serviceNamespace: Literal["ecs"] = Field(description="immutable")
    resourceId: str = Field(
        pattern=r"^service/.+/.+$",
        description="service/<cluster>/<service>, usually built from the cluster's and the "
                    "service's name refs (immutable)")
    scalableDimension: Literal["ecs:service:DesiredCount"] = Field(description="immutable")
    minCapacity: int = Field(ge=0)
    maxCapacity: int = Field(ge=0)
    suspendedState: SuspendedState | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _range(self) -> ScalableTargetSpec:
        if self.minCapacity > self.maxCapacity:
            raise FieldError(("maxCapacity",), f"maxCapacity {self.maxCapacity} is below "
                                               f"minCapacity {self.minCapacity}")
        return self


def absent_ok(call: Any, **kwargs: Any) -> Any:
    """`call(**kwargs)`, or None when Application Auto Scaling says the target or policy is
    not there (AWS's code, the emulator's wording; any other validation error is raised)."""
    try:
        return call(**kwargs)
    except errors.ClientError as err:
        code = error_code(err)
        message = str(err.response.get("Error", {}).get("Message", ""))
        if is_not_found(err) or code == ABSENT_CODE or (
                code == "ValidationException" and message.startswith(ABSENT_WORDS)):
            return None
        raise


def failing_once(ctx: RunContext, kind: str, read: Callable[[], T]) -> T:
    """`read()`, unless a read of `kind` already failed in this run: then that error again.
    A Listing remembers a failure per scope (a target, a namespace); the same
    throttled API is not asked again for the next scope, nor by the inventory."""
    failed = ctx.cache.get(("aas.failed", kind))
    if isinstance(failed, Exception):
        raise failed
    try:
        return read()
    except errors.AWS_ERRORS as err:
        with ctx.lock:
            ctx.cache[("aas.failed", kind)] = err
        raise


def _list_all(ctx: RunContext, namespace: str) -> dict[str, dict[str, Any]]:
    """Every target of the namespace in the account, by `_key` (one call per 50): what
    observe reads from and the inventory lists, so a run reads the targets once."""
    def read() -> dict[str, dict[str, Any]]:
        pages = ctx.client(SERVICE).get_paginator("describe_scalable_targets").paginate(
            ServiceNamespace=namespace)
        return {_key(t["ResourceId"], t["ScalableDimension"]): t
                for page in pages for t in page["ScalableTargets"]}
    return failing_once(ctx, "targets", read)


ALL_TARGETS: Listing[dict[str, Any]] = Listing("aas.targets.all", _list_all)


def _key(resource_id: str, dimension: str) -> str:
    return f"{resource_id}|{dimension}"


def target_tags(ctx: RunContext, arn: str) -> dict[str, str]:
    """Every tag of one target: one ListTagsForResource per target and run (the service has
    no batched tag read), shared by observe, inventory and the scaling policies."""
    return ctx.cached(("aas.target-tags", arn), lambda: dict(
        ctx.client(SERVICE).list_tags_for_resource(ResourceARN=arn)["Tags"]))


def find_target(ctx: RunContext, namespace: str, resource_id: str,
                dimension: str) -> dict[str, Any] | None:
    """The live target of this triple, None if absent (or not identifiable yet)."""
    if any(is_unknown(v) or not isinstance(v, str) for v in (namespace, resource_id, dimension)):
        return None
    return ALL_TARGETS.get(ctx, _key(resource_id, dimension), namespace)


def forget_target(ctx: RunContext, namespace: str, arn: str | None) -> None:
    ALL_TARGETS.forget(ctx, namespace)
    if arn is not None:
        ctx.forget(("aas.target-tags", arn))


class ScalableTargetDriver(Driver):
    kind = "applicationautoscaling.ScalableTarget"
    spec_model = ScalableTargetSpec
    attributes = ("arn", "serviceNamespace", "resourceId", "scalableDimension")
    immutable = frozenset({"serviceNamespace", "resourceId", "scalableDimension"})
    references = ("ecs.Cluster", "ecs.Service")  # resourceId names both
    # The autoscaler changes the service's desiredCount: git's value is used at create only.
    takes_over = {"ecs.Service": ("desiredCount",)}

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # The namespace's whole listing (one call per 50 targets of the account): the
        # inventory needs it anyway, and no read by ids would save a call.
        for namespace in sorted({str(d.spec.get("serviceNamespace")) for d in desired}):
            ALL_TARGETS.all(ctx, namespace)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        spec = desired.spec
        target = find_target(ctx, spec.get("serviceNamespace", ""), spec.get("resourceId", ""),
                             spec.get("scalableDimension", ""))
        return None if target is None else _observed(target, desired, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        spec = desired.spec
        # Registering an existing target would overwrite its range: read afresh first, and
        # leave a live one to the engine (adopt, refuse or update).
        forget_target(ctx, spec["serviceNamespace"], None)
        existing = self.observe(desired, ctx)
        if existing is not None:
            return existing
        args = {aws: spec[key] for key, aws in REGISTERED.items() if spec.get(key) is not None}
        if "SuspendedState" in args:
            args["SuspendedState"] = pascal(args["SuspendedState"])
        ctx.client(SERVICE).register_scalable_target(**_triple(spec), **args,
                                                     Tags=desired.tags())
        return self._reread(desired, None, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        spec = desired.spec
        args = {aws: spec[key] for key, aws in REGISTERED.items()
                if key in changed and spec.get(key) is not None}
        if args:
            if "SuspendedState" in args:
                args["SuspendedState"] = pascal(args["SuspendedState"])
            # Register again: what it names changes in place, the rest stays.
            ctx.client(SERVICE).register_scalable_target(**_triple(spec), **args)
        if "tags" in changed:
            client, arn = ctx.client(SERVICE), live.attrs["arn"]
            sync_tags(desired, live.tags or {},
                      write=lambda tags: client.tag_resource(ResourceARN=arn, Tags=tags),
                      remove=lambda keys: client.untag_resource(ResourceARN=arn, TagKeys=keys))
        return self._reread(desired, live.attrs["arn"], ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Deregister: AWS deletes the target's scaling policies with it."""
        attrs = live.attrs
        absent_ok(ctx.client(SERVICE).deregister_scalable_target, ServiceNamespace=attrs[
            "serviceNamespace"], ResourceId=attrs["resourceId"],
            ScalableDimension=attrs["scalableDimension"])
        forget_target(ctx, attrs["serviceNamespace"], attrs["arn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """Every ECS target of the account (one call per 50), kept when its tags say this
        stack: one ListTagsForResource per target, as no batched tag read exists (nor, in
        the emulator, any tag read: there the inventory fails with its 500, and prune
        cannot run for this kind)."""
        return by_id(self._found(ctx, "ecs"), ctx)

    def _found(self, ctx: RunContext, namespace: str) -> Iterator[Observed]:
        for target in ALL_TARGETS.all(ctx, namespace).values():
            yield Observed(fields={}, attrs=_attrs(target),
                           tags=target_tags(ctx, target["ScalableTargetARN"]))

    def _reread(self, desired: Desired, arn: str | None, ctx: RunContext) -> Observed:
        forget_target(ctx, desired.spec["serviceNamespace"], arn)
        return reread(self, desired, ctx)


def _triple(spec: dict[str, Any]) -> dict[str, Any]:
    return {"ServiceNamespace": spec["serviceNamespace"], "ResourceId": spec["resourceId"],
            "ScalableDimension": spec["scalableDimension"]}


def pascal(value: Any) -> Any:
    """A spec object (camelCase keys) as Application Auto Scaling spells it (PascalCase)."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: pascal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


def camel(value: Any) -> Any:
    """An Application Auto Scaling answer (PascalCase keys) in the spec's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _attrs(target: dict[str, Any]) -> dict[str, Any]:
    return {"arn": target["ScalableTargetARN"], "serviceNamespace": target["ServiceNamespace"],
            "resourceId": target["ResourceId"], "scalableDimension": target["ScalableDimension"]}


def _observed(target: dict[str, Any], desired: Desired, ctx: RunContext) -> Observed:
    tags = target_tags(ctx, target["ScalableTargetARN"])
    fields: dict[str, Any] = {
        "serviceNamespace": target["ServiceNamespace"], "resourceId": target["ResourceId"],
        "scalableDimension": target["ScalableDimension"],
        "minCapacity": target["MinCapacity"], "maxCapacity": target["MaxCapacity"],
        # AWS always answers the three flags; the emulator leaves them out until set.
        "suspendedState": {"dynamicScalingInSuspended": False,
                           "dynamicScalingOutSuspended": False,
                           "scheduledScalingSuspended": False,
                           **camel(target.get("SuspendedState") or {})},
    }
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(target), tags=tags)
