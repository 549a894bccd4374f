"""logs.LogGroup: a CloudWatch Logs group with its retention, KMS key and tags.

A log group holds data (the logs), so it is protected from replace and delete
by default, and nothing about it needs a replace: AWS changes the retention
(PutRetentionPolicy / DeleteRetentionPolicy) and the key (AssociateKmsKey /
DisassociateKmsKey) in place. As Terraform does, `retentionInDays: 0` means
"never expire" and `kmsKeyId: ""` means "no key".

Reads: the declared groups by name, 50 per `describe_log_groups` call; their tags from
the stack's tagging index when they agree with git (CloudWatch Logs reads tags one
group at a time, so only a difference costs that call). `inventory` takes
the groups carrying the stack's tag, tags included, from the Resource Groups
Tagging API's listing of the stack (one call per 100 resources of the stack,
however many groups the account holds, shared with the other kinds using it).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from controller.aws.tags import user_tags
from controller.model import Desired, NameRule, Observed, SpecModel, Tags
from controller.resources import common, tagged
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.shapes import KmsKeyArn

LogGroup = dict[str, Any]  # one entry of describe_log_groups

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


def _describe(ctx: RunContext, names: list[str]) -> dict[str, LogGroup]:
    """The groups of `names` that exist. The answer is filtered by name too: moto 5.2.5
    ignores `logGroupIdentifiers` and lists every group of the account."""
    pages = ctx.client("logs").get_paginator("describe_log_groups").paginate(
        logGroupIdentifiers=names)
    wanted = set(names)
    return {g["logGroupName"]: g for page in pages for g in page["logGroups"]
            if g["logGroupName"] in wanted}


# The declared groups, by name: `logGroupIdentifiers` takes up to 50 names per call.
GROUPS: ByNames[LogGroup] = ByNames("logs.LogGroup", _describe, 50)
# How a log group's ARN reads after `arn:aws:logs:<region>:<account>:`.
LOG_GROUP = "log-group:"


class LogGroupDriver(Driver):
    kind = "logs.LogGroup"
    name_rule = NameRule(r"[A-Za-z0-9._/#-]{1,512}", "1-512 letters, digits and ._-/#")
    spec_model = LogGroupSpec
    attributes = ("arn", "name")
    holds_data = True  # the logs

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        GROUPS.prime(ctx, [d.name for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = GROUPS.get(ctx, desired.name)
        if group is None:
            return None
        attrs = _attrs(group)
        tags = tagged.agreed_tags(ctx, attrs["arn"], desired)
        if tags is None:
            answer = common.absent_ok(ctx.client("logs").list_tags_for_resource,
                                      resourceArn=attrs["arn"])
            if answer is None:  # deleted since it was described
                return None
            tags = answer["tags"]
        return Observed(fields=_fields(group, tags, desired.spec), attrs=attrs, tags=tags)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's groups from the tagging API's listing of the stack (shared by the kinds
        that use it), confirmed by `describe_log_groups`: the index may lag a delete. The
        declared groups were read by `prefetch`, so only orphans cost a describe."""
        listed = {_name(arn): tags for arn, tags in tagged.stack_arns(ctx, "logs", LOG_GROUP)
                  .items()}
        GROUPS.prime(ctx, listed)
        found = (Observed(fields={}, attrs=_attrs(group), tags=tags)
                 for name, tags in listed.items() if (group := GROUPS.get(ctx, name)))
        return tagged.by_id(found, ctx)

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
            common.sync_tags(
                desired, live.tags or {},
                write=lambda tags: logs.tag_resource(resourceArn=arn, tags=tags),
                remove=lambda keys: logs.untag_resource(resourceArn=arn, tagKeys=keys),
            )
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        common.absent_ok(ctx.client("logs").delete_log_group, logGroupName=live.attrs["name"])
        GROUPS.forget(ctx, live.attrs["name"])

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        GROUPS.forget(ctx, desired.name)
        return common.reread(self, desired, ctx)


def _attrs(group: LogGroup) -> dict[str, str]:
    """The group's ARN without the `:*` describe_log_groups appends, and its name."""
    return {"arn": group["arn"].removesuffix(":*"), "name": group["logGroupName"]}


def _name(arn: str) -> str:
    """A log group's name from its ARN (as the tagging API spells it, or with `:*`)."""
    return arn.removesuffix(":*").split(":" + LOG_GROUP, 1)[1]


def _fields(group: LogGroup, tags: dict[str, str], spec: dict[str, Any]) -> dict[str, Any]:
    """The declared fields, AWS's absences made explicit: no retention is 0, no key is ""."""
    fields: dict[str, Any] = {"retentionInDays": group.get("retentionInDays") or 0,
                              "kmsKeyId": group.get("kmsKeyId") or ""}
    if "tags" in spec:
        fields["tags"] = user_tags(tags)
    return fields
