"""logs.LogGroup: a CloudWatch Logs group with its retention and tags."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws.errors import is_not_found
from controller.aws.tags import user_tags
from controller.resources.base import Desired, Driver, Observed, RunContext, SpecModel

# CloudWatch Logs accepts only these retention periods (days).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                  1827, 2192, 2557, 2922, 3288, 3653)


class LogGroupSpec(SpecModel):
    """The log group is named by the resource's `name`."""

    retentionInDays: int | None = Field(
        default=None, description=f"one of {RETENTION_DAYS}; omit to keep logs forever"
    )
    kmsKeyId: str | None = None
    tags: dict[str, str] | None = None


class LogGroupDriver(Driver):
    kind = "logs.LogGroup"
    spec_model = LogGroupSpec
    attributes = ("arn", "name")
    immutable = frozenset({"kmsKeyId"})

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One paginated describe serves every group of the stack.
        ctx.cached(("logs.groups",), lambda: _all_groups(ctx))

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = ctx.cached(("logs.groups",), lambda: _all_groups(ctx)).get(desired.name)
        if group is None:
            return None
        arn = group["arn"].removesuffix(":*")
        fields: dict[str, Any] = {"retentionInDays": group.get("retentionInDays")}
        if "kmsKeyId" in group:
            fields["kmsKeyId"] = group["kmsKeyId"]
        if "tags" in desired.spec:
            try:
                tags = ctx.client("logs").list_tags_for_resource(resourceArn=arn)["tags"]
            except Exception as err:  # moto and old partitions lack the ARN-based API
                if not is_not_found(err):
                    raise
                tags = {}
            fields["tags"] = user_tags(tags)
        return Observed(fields=fields, attrs={"arn": arn, "name": desired.name})

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        logs = ctx.client("logs")
        args: dict[str, Any] = {"logGroupName": desired.name, "tags": desired.tags()}
        if desired.spec.get("kmsKeyId"):
            args["kmsKeyId"] = desired.spec["kmsKeyId"]
        logs.create_log_group(**args)
        if desired.spec.get("retentionInDays") is not None:
            logs.put_retention_policy(
                logGroupName=desired.name, retentionInDays=desired.spec["retentionInDays"]
            )
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        logs = ctx.client("logs")
        if "retentionInDays" in changed:
            days = desired.spec["retentionInDays"]
            if days is None:
                logs.delete_retention_policy(logGroupName=desired.name)
            else:
                logs.put_retention_policy(logGroupName=desired.name, retentionInDays=days)
        if "tags" in changed:
            arn = live.attrs["arn"]
            stale = set(live.fields.get("tags", {})) - set(desired.spec["tags"])
            if stale:
                logs.untag_resource(resourceArn=arn, tagKeys=sorted(stale))
            logs.tag_resource(resourceArn=arn, tags=desired.tags())
        return self._reread(desired, ctx)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        try:
            ctx.client("logs").delete_log_group(logGroupName=desired.name)
        except Exception as err:
            if not is_not_found(err):
                raise

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        ctx.forget(("logs.groups",))
        observed = self.observe(desired, ctx)
        assert observed is not None, f"{desired.id} vanished right after it was written"
        return observed


def _all_groups(ctx: RunContext) -> dict[str, dict[str, Any]]:
    pages = ctx.client("logs").get_paginator("describe_log_groups").paginate()
    return {g["logGroupName"]: g for page in pages for g in page["logGroups"]}
