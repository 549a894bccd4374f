"""logs.LogGroup: a CloudWatch Logs group with its retention, KMS key and tags.

A log group holds data (the logs), so it is protected from replace and delete
by default, and nothing about it needs a replace: AWS changes the retention
(PutRetentionPolicy / DeleteRetentionPolicy) and the key (AssociateKmsKey /
DisassociateKmsKey) in place. As Terraform does, `retentionInDays: 0` means
"never expire" and `kmsKeyId: ""` means "no key".
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from controller.aws.errors import is_not_found
from controller.aws.tags import user_tags
from controller.resources.base import (
    Desired,
    Driver,
    NameRule,
    Observed,
    RunContext,
    SpecModel,
    Tags,
)
from controller.resources.shapes import KmsKeyArn

# CloudWatch Logs accepts only these retention periods (days).
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                  1827, 2192, 2557, 2922, 3288, 3653)


class LogGroupSpec(SpecModel):
    """The log group is named by the resource's `name`."""

    retentionInDays: int | None = Field(
        default=None, description=f"0 (never expire) or one of {RETENTION_DAYS}"
    )
    kmsKeyId: KmsKeyArn | None = Field(
        default=None, description='KMS key ARN that encrypts the logs; "" for none (in place)')
    tags: Tags | None = None

    @field_validator("retentionInDays")
    @classmethod
    def _known_retention(cls, days: int | None) -> int | None:
        if days is not None and days != 0 and days not in RETENTION_DAYS:
            raise ValueError(f"CloudWatch Logs keeps logs for 0 (never expire) or one of "
                             f"{', '.join(map(str, RETENTION_DAYS))} days")
        return days


class LogGroupDriver(Driver):
    kind = "logs.LogGroup"
    name_rule = NameRule(r"[A-Za-z0-9._/#-]{1,512}", "1-512 letters, digits and ._-/#")
    spec_model = LogGroupSpec
    attributes = ("arn", "name")
    holds_data = True  # the logs

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        # One paginated describe serves every group of the stack.
        ctx.cached(("logs.groups",), lambda: _all_groups(ctx))

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = ctx.cached(("logs.groups",), lambda: _all_groups(ctx)).get(desired.name)
        if group is None:
            return None
        arn = group["arn"].removesuffix(":*")
        fields: dict[str, Any] = {"retentionInDays": group.get("retentionInDays") or 0,
                                  "kmsKeyId": group.get("kmsKeyId") or ""}
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
        if desired.spec.get("retentionInDays"):
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
            if days:
                logs.put_retention_policy(logGroupName=desired.name, retentionInDays=days)
            else:
                logs.delete_retention_policy(logGroupName=desired.name)
        if "kmsKeyId" in changed:
            # In place: the group and its logs stay; new events use the new key.
            key = desired.spec["kmsKeyId"]
            if key:
                logs.associate_kms_key(logGroupName=desired.name, kmsKeyId=key)
            else:
                logs.disassociate_kms_key(logGroupName=desired.name)
        if "tags" in changed:
            arn = live.attrs["arn"]
            stale = set(live.fields.get("tags", {})) - set(desired.spec["tags"])
            if stale:
                logs.untag_resource(resourceArn=arn, tagKeys=sorted(stale))
            logs.tag_resource(resourceArn=arn, tags=desired.tags())
        return self._reread(desired, ctx)

    def live_tags(self, desired: Desired, live: Observed, ctx: RunContext) -> dict[str, str]:
        tags: dict[str, str] = ctx.client("logs").list_tags_for_resource(
            resourceArn=live.attrs["arn"])["tags"]
        return tags

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
