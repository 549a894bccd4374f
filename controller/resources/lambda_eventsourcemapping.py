"""lambda.EventSourceMapping: an SQS queue feeding a Lambda function, found by its tags.

AWS names a mapping by a UUID it makes up, so the controller finds its own by the
ownership tags (Lambda tags mappings since 2024, on create too). AWS also keeps at
most one mapping per SQS queue and function: a create that meets one made elsewhere
is refused by AWS, and the error says which mapping to `adopt:`.

Reads: one ListEventSourceMappings per run (the account's mappings, 100 a page) and
ListTags per mapping, each at most once a run: Lambda has no batch tag read, and the
tagging API is not relied on for mappings (the emulator does not index them). The
failure rule is the batch one: once a tag read failed, the other mappings' reads
report that error rather than ask a throttled API again.

The source is SQS only (QueueArn): streams need a starting position this spec does
not offer. `eventSourceArn` cannot change (AWS has no update for it); the function,
batching, reporting and on/off switch change in place with UpdateEventSourceMapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import ID_KEY, STACK_KEY, user_tags
from controller.model import Desired, FieldError, Observed, Readiness, SpecModel, Tags
from controller.resources.base import Driver, Identity, ReplaceOrder, RunContext
from controller.resources.batch import ByNames, Listing
from controller.resources.common import Vanished, absent_ok, sync_tags
from controller.resources.shapes import QueueArn

# State words: on the way to a settled state, and settled.
MOVING = frozenset({"Creating", "Enabling", "Disabling", "Updating", "Deleting"})
PAGE = 100  # ListEventSourceMappings answers at most 100 per call
# spec field -> UpdateEventSourceMapping / CreateEventSourceMapping parameter
_PARAMS = {"functionName": "FunctionName", "enabled": "Enabled", "batchSize": "BatchSize",
           "maximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds",
           "functionResponseTypes": "FunctionResponseTypes", "scalingConfig": "ScalingConfig"}


class ScalingConfigSpec(SpecModel):
    maximumConcurrency: int = Field(ge=2, le=1000, description="concurrent invocations the "
                                    "queue may drive")


class MappingSpec(SpecModel):
    """From `eventSourceArn` (an SQS queue) to `functionName` (a name or ARN: usually
    ${ref:lambda.Function/NAME.arn})."""

    eventSourceArn: QueueArn = Field(description="immutable: a change replaces the mapping")
    functionName: str = Field(min_length=1)
    enabled: bool | None = Field(default=None, description="AWS: true")
    batchSize: int | None = Field(default=None, ge=1, le=10000, description="AWS: 10")
    maximumBatchingWindowInSeconds: int | None = Field(default=None, ge=0, le=300,
                                                       description="AWS: 0")
    functionResponseTypes: list[Literal["ReportBatchItemFailures"]] | None = Field(
        default=None, description="[ReportBatchItemFailures]: a batch's failed messages "
                                  "alone return to the queue (and to its DLQ)")
    scalingConfig: ScalingConfigSpec | None = None
    tags: Tags | None = None

    @model_validator(mode="after")
    def _window_for_big_batches(self) -> MappingSpec:
        # AWS refuses a batch over 10 from a standard queue without a batching window.
        if (self.batchSize or 0) > 10 and not self.maximumBatchingWindowInSeconds:
            raise FieldError(("maximumBatchingWindowInSeconds",), "a batchSize over 10 needs "
                             "a batching window of at least 1 second")
        return self


class MappingBusy(Exception):
    """AWS is still settling the mapping (Creating, Updating...): retried by the next run."""


class MappingTaken(Exception):
    """The queue already feeds the function through a mapping this stack does not own."""


def _list(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """The account's mappings by UUID. Listed unfiltered: the emulator's FunctionName filter
    matches names only, and an owned mapping may point at any function."""
    pages = ctx.client("lambda").get_paginator("list_event_source_mappings").paginate(
        PaginationConfig={"PageSize": PAGE})
    return {m["UUID"]: m for page in pages for m in page["EventSourceMappings"]}


def _tags(ctx: RunContext, arns: list[str]) -> dict[str, dict[str, str]]:
    client = ctx.client("lambda")
    found: dict[str, dict[str, str]] = {}
    for arn in arns:
        answer = absent_ok(client.list_tags, Resource=arn)
        if answer is not None:
            found[arn] = dict(answer.get("Tags") or {})
    return found


MAPPINGS: Listing[dict[str, Any]] = Listing("lambda.mappings", _list)
TAGS: ByNames[dict[str, str]] = ByNames("lambda.mapping.tags", _tags, 1)


class EventSourceMappingDriver(Driver):
    kind = "lambda.EventSourceMapping"
    spec_model = MappingSpec
    attributes = ("uuid", "id", "arn")
    immutable = frozenset({"eventSourceArn"})
    identity: ClassVar[Identity] = "tags"
    references = ("lambda.Function", "sqs.Queue")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "functionResponseTypes" in out:
            out["functionResponseTypes"] = sorted(out["functionResponseTypes"])
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        self._owned(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        item = self._owned(ctx).get(desired.id)
        return None if item is None else _observed(desired, item, self._tags_of(item, ctx))

    def find(self, aws_id: str, desired: Desired, ctx: RunContext) -> Observed | None:
        item = absent_ok(ctx.client("lambda").get_event_source_mapping, UUID=aws_id)
        if item is None:
            return None
        return _observed(desired, item, self._tags_of(item, ctx))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        MAPPINGS.forget(ctx)  # a retried create (its answer lost) finds its own mapping
        mine = self._owned(ctx).get(desired.id)
        if mine is not None:
            return _observed(desired, mine, self._tags_of(mine, ctx))
        args = {aws: _param(desired.spec, f) for f, aws in _PARAMS.items() if f in desired.spec}
        try:
            item = ctx.client("lambda").create_event_source_mapping(
                EventSourceArn=desired.spec["eventSourceArn"], Tags=desired.tags(), **args)
        except errors.ClientError as err:
            if error_code(err) == "ResourceConflictException":
                raise MappingTaken(f"{desired.id}: {self._conflict(desired, ctx)}") from err
            raise
        return self._reread(desired, item["UUID"], ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        client = ctx.client("lambda")
        args = {aws: _param(desired.spec, f) for f, aws in _PARAMS.items()
                if f in changed and f in desired.spec}
        if args:
            try:
                client.update_event_source_mapping(UUID=live.attrs["uuid"], **args)
            except errors.ClientError as err:
                if error_code(err) in ("ResourceInUseException", "ResourceConflictException"):
                    raise MappingBusy(f"{desired.id}: AWS is still settling the mapping "
                                      f"({live.attrs.get('state')}); the next run writes "
                                      f"{', '.join(args)}") from err
                raise
        if "tags" in changed:
            arn = live.attrs["arn"]
            sync_tags(desired, live.tags or {},
                      write=lambda tags: client.tag_resource(Resource=arn, Tags=tags),
                      remove=lambda keys: client.untag_resource(Resource=arn, TagKeys=keys))
        return self._reread(desired, live.attrs["uuid"], ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        absent_ok(ctx.client("lambda").delete_event_source_mapping, UUID=live.attrs["uuid"])
        self._forget(ctx, live.attrs["arn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The same listing and tag reads `observe` uses: no call of its own."""
        return {rid: Observed(fields={}, attrs=_attrs(item), tags=self._tags_of(item, ctx))
                for rid, item in self._owned(ctx).items()}

    def readiness(self, desired: Desired | None, live: Observed) -> Readiness:
        """Creating, Enabling, Updating...: progressing; Enabled or Disabled: settled. A
        mapping that cannot reach its queue or function says PROBLEM in its last result."""
        state = live.attrs.get("state")
        if state in MOVING:
            return Readiness("progressing", f"mapping {state}")
        result = str(live.attrs.get("lastProcessingResult") or "")
        if result.startswith("PROBLEM"):
            return Readiness("failed", result)
        return Readiness()

    def retag(self, live: Observed, tags: dict[str, str], ctx: RunContext) -> None:
        ctx.client("lambda").tag_resource(Resource=live.attrs["arn"], Tags=tags)
        self._forget(ctx, live.attrs["arn"])

    def replace_order(self, desired: Desired, live: Observed) -> ReplaceOrder:
        """A mapping from another queue can exist beside the old one: the new queue is fed
        before the old one stops. (eventSourceArn is the only immutable field.)"""
        return "create_first"

    def _owned(self, ctx: RunContext) -> dict[str, dict[str, Any]]:
        """The stack's mappings by `gitops:id`, from the run's listing and tag reads."""
        items = MAPPINGS.all(ctx)
        TAGS.prime(ctx, [m["EventSourceMappingArn"] for m in items.values()])
        owned: dict[str, dict[str, Any]] = {}
        for uuid in sorted(items):
            tags = self._tags_of(items[uuid], ctx)
            if tags.get(STACK_KEY) == ctx.stack and tags.get(ID_KEY):
                owned.setdefault(tags[ID_KEY], items[uuid])
        return owned

    def _tags_of(self, item: Mapping[str, Any], ctx: RunContext) -> dict[str, str]:
        return TAGS.get(ctx, item["EventSourceMappingArn"]) or {}

    def _reread(self, desired: Desired, uuid: str, ctx: RunContext) -> Observed:
        item = absent_ok(ctx.client("lambda").get_event_source_mapping, UUID=uuid)
        if item is None:
            raise Vanished(f"{desired.id} cannot be read back right after it was written")
        self._forget(ctx, item["EventSourceMappingArn"])
        return _observed(desired, item, self._tags_of(item, ctx))

    def _forget(self, ctx: RunContext, arn: str) -> None:
        MAPPINGS.forget(ctx)
        TAGS.forget(ctx, arn)

    def _conflict(self, desired: Desired, ctx: RunContext) -> str:
        """Why AWS refused the create: the queue already feeds the function through a
        mapping this stack does not own (AWS keeps one per queue and function)."""
        MAPPINGS.forget(ctx)
        function = str(desired.spec["functionName"])
        same = [m for m in MAPPINGS.all(ctx).values()
                if m["EventSourceArn"] == desired.spec["eventSourceArn"]
                and _function_matches(m["FunctionArn"], function)]
        if not same:
            return "AWS refused the mapping as a conflict; the next run retries"
        return (f"the queue already feeds this function through mapping {same[0]['UUID']}, "
                f"which is not this stack's: AWS allows one per queue and function. Take it "
                f"over with `adopt: {same[0]['UUID']}`, or delete it")


def _param(spec: Mapping[str, Any], field: str) -> Any:
    if field == "scalingConfig":
        return {"MaximumConcurrency": spec[field]["maximumConcurrency"]}
    return spec[field]


def _function_matches(function_arn: str, written: str) -> bool:
    return function_arn == written or _function_as_written(function_arn, written) == written


def _function_as_written(function_arn: str, written: str) -> str:
    """The mapping's function in the form the spec wrote it: an ARN, or the name (with
    its `:alias` when the ARN is qualified)."""
    if str(written).startswith("arn:"):
        return function_arn
    return function_arn.split(":function:", 1)[-1]


def _attrs(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"uuid": item["UUID"], "id": item["UUID"], "arn": item["EventSourceMappingArn"],
            "state": item.get("State"), "lastProcessingResult": item.get("LastProcessingResult")}


def _observed(desired: Desired, item: Mapping[str, Any], tags: dict[str, str]) -> Observed:
    scaling = item.get("ScalingConfig") or {}
    fields: dict[str, Any] = {
        "eventSourceArn": item["EventSourceArn"],
        "functionName": _function_as_written(item["FunctionArn"],
                                             str(desired.spec.get("functionName", ""))),
        "enabled": item.get("State") not in ("Disabled", "Disabling"),
        "batchSize": item.get("BatchSize", 10),
        "maximumBatchingWindowInSeconds": item.get("MaximumBatchingWindowInSeconds", 0),
        "functionResponseTypes": sorted(item.get("FunctionResponseTypes") or []),
        "scalingConfig": ({"maximumConcurrency": scaling["MaximumConcurrency"]}
                          if "MaximumConcurrency" in scaling else None),
    }
    if "tags" in desired.spec:
        fields["tags"] = user_tags(tags)
    return Observed(fields=fields, attrs=_attrs(item), tags=tags)
