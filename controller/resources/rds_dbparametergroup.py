"""rds.DBParameterGroup: engine settings (e.g. `rds.force_ssl = 1`) DB instances use.

Only the parameters the spec declares are compared: AWS answers hundreds of engine
defaults, and a parameter git no longer declares is left as it is (not reset).

A parameter is `dynamic` (applied at once) or `static` (applied when each instance
using the group reboots): AWS says which in DescribeDBParameters' ApplyType, and
refuses `immediate` for a static one. The driver reads the declared parameters'
ApplyType with their values, writes a static one `pending-reboot` (a dynamic one
`immediate` unless the spec asks otherwise), and the plan says when a change waits
for a reboot (`plan_note`): the controller never reboots a database.

Reads: one paged DescribeDBParameterGroups lists every group once per run (shared by
observe and inventory); the describe carries no tags (one ListTagsForResource per
group); a group's parameters are one paged DescribeDBParameters, stopped as soon as
every declared parameter is found. RDS stores the name lower case: looked up so.
The family and the description cannot change (there is no call for them).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from controller.aws import errors
from controller.aws.tags import user_tags
from controller.model import Desired, NameRule, Observed, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.rds_common import (
    RDS_ABSENT,
    describe_all,
    forget_tags,
    is_rds_absent,
    rds_tag_list,
    read_tags,
    write_tags,
)
from controller.resources.tagged import by_id

# AWS: 1-255 letters, digits or hyphens; a letter first; no two hyphens in a row, none last.
PARAMETER_GROUP_NAME = NameRule(r"(?=.{1,255}$)[A-Za-z](?:-?[A-Za-z0-9])*",
                                "1-255 letters, digits and single hyphens, a letter first, "
                                "no hyphen last")
MODIFY_LIMIT = 20  # ModifyDBParameterGroup takes at most 20 parameters per call
PAGE = 100  # DescribeDBParameters answers at most 100 parameters per page
ApplyMethod = Literal["immediate", "pending-reboot"]


class ParameterSpec(SpecModel):
    """One engine parameter, as ModifyDBParameterGroup's `Parameters` entries."""

    parameterName: str = Field(min_length=1)
    parameterValue: str = Field(description="AWS's text value; a YAML number is taken as text")
    applyMethod: ApplyMethod | None = Field(
        default=None, description="for a dynamic parameter only: AWS applies a static one "
                                  "at the next reboot whatever is asked (default: immediate "
                                  "for dynamic, pending-reboot for static)")

    @field_validator("parameterValue", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("write the value as AWS does, e.g. \"1\" or \"on\", not a boolean")
        return str(value) if isinstance(value, int | float) else value


class DBParameterGroupSpec(SpecModel):
    """The group is named by the resource's `name` (stored lower case by AWS)."""

    dbParameterGroupFamily: str = Field(description="e.g. postgres15 (immutable)")
    description: str = Field(min_length=1, description="required by AWS (immutable)")
    parameters: list[ParameterSpec] = Field(
        default_factory=list, description="only these are compared; others keep their value")
    tags: Tags | None = None

    @model_validator(mode="after")
    def _unique(self) -> DBParameterGroupSpec:
        names = [p.parameterName for p in self.parameters]
        if len(set(names)) != len(names):
            raise ValueError("each parameterName may appear once")
        return self


def _load(ctx: RunContext, scope: str) -> dict[str, dict[str, Any]]:
    """Every parameter group of the account by its (lower-case) name."""
    groups = describe_all(ctx, "describe_db_parameter_groups", "DBParameterGroups")
    return {g["DBParameterGroupName"]: g for g in groups}


PARAMETER_GROUPS: Listing[dict[str, Any]] = Listing("rds.parameter-groups", _load)


def aws_name(name: str) -> str:
    """The name as RDS stores it."""
    return name.lower()


class DBParameterGroupDriver(Driver):
    kind = "rds.DBParameterGroup"
    name_rule = PARAMETER_GROUP_NAME
    spec_model = DBParameterGroupSpec
    attributes = ("name", "arn")
    immutable = frozenset({"dbParameterGroupFamily", "description"})

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "parameters" in out:
            out["parameters"] = sorted(
                ({**p, "parameterValue": str(p["parameterValue"])} for p in out["parameters"]),
                key=lambda p: str(p["parameterName"]))
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        PARAMETER_GROUPS.all(ctx)  # one listing serves every group of the run

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        group = PARAMETER_GROUPS.get(ctx, aws_name(desired.name))
        if group is None:
            return None
        declared = _declared(desired)
        try:
            live = _parameters(ctx, group["DBParameterGroupName"], set(declared))
        except errors.ClientError as err:
            if is_rds_absent(err):  # deleted since this run's listing
                return None
            raise
        tags = read_tags(ctx, group["DBParameterGroupArn"], desired)
        fields: dict[str, Any] = {
            "dbParameterGroupFamily": group.get("DBParameterGroupFamily"),
            "description": group.get("Description", ""),
            # the declared ones only, in the spec's order; the apply method is how a change
            # is written, not something AWS keeps: echoed so it is never a difference
            "parameters": [{**want, "parameterValue": live.get(name, {}).get("ParameterValue")}
                           for name, want in declared.items()],
        }
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        attrs = {**_attrs(group),
                 "applyTypes": {n: p["ApplyType"] for n, p in live.items() if p.get("ApplyType")}}
        return Observed(fields=fields, attrs=attrs, tags=tags)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        name = aws_name(desired.name)
        ctx.client("rds").create_db_parameter_group(
            DBParameterGroupName=desired.name,
            DBParameterGroupFamily=desired.spec["dbParameterGroupFamily"],
            Description=desired.spec["description"],
            Tags=rds_tag_list(desired.tags()),
        )
        PARAMETER_GROUPS.forget(ctx)
        declared = _declared(desired)
        if declared:
            # A new group holds the family's defaults: their ApplyType says how to write.
            live = _parameters(ctx, name, set(declared))
            types = {n: p.get("ApplyType") for n, p in live.items()}
            _modify(ctx, name, list(declared.values()), types)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        if "parameters" in changed:
            _modify(ctx, live.attrs["name"], _changed(desired, live),
                    live.attrs.get("applyTypes") or {})
        if "tags" in changed:
            write_tags(ctx, live.attrs["arn"], desired, live.tags or {})
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        # AWS refuses while an instance uses the group (InvalidDBParameterGroupState):
        # prune deletes instances first, as they reference the group.
        absent_ok(ctx.client("rds").delete_db_parameter_group,
                  DBParameterGroupName=live.attrs["name"], absent=RDS_ABSENT)
        PARAMETER_GROUPS.forget(ctx)
        forget_tags(ctx, live.attrs["arn"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The run's one listing, and each listed group's tags (RDS's own `default.*`
        groups are never ours). AWS allows 50 parameter groups per region."""
        found = (Observed(fields={}, attrs=_attrs(g),
                          tags=read_tags(ctx, g["DBParameterGroupArn"]))
                 for name, g in PARAMETER_GROUPS.all(ctx).items()
                 if not name.startswith("default."))
        return by_id(found, ctx)

    def plan_note(self, action: str, desired: Desired, live: Observed | None,
                  changed: list[str]) -> str | None:
        """A static parameter's change waits for each instance using the group to reboot."""
        if action != "update" or live is None or "parameters" not in changed:
            return None
        types = live.attrs.get("applyTypes") or {}
        static = [p["parameterName"] for p in _changed(desired, live)
                  if types.get(p["parameterName"]) == "static"]
        if not static:
            return None
        return (f"static parameter{'s' if len(static) > 1 else ''} {', '.join(static)}: "
                f"pending-reboot, in effect once each DB instance using "
                f"{live.attrs['name']} reboots (the controller does not reboot it)")


def _attrs(group: dict[str, Any]) -> dict[str, Any]:
    return {"name": group["DBParameterGroupName"], "arn": group["DBParameterGroupArn"],
            "family": group.get("DBParameterGroupFamily")}


def _declared(desired: Desired) -> dict[str, dict[str, Any]]:
    """The spec's parameters by name, in the spec's (normalised) order."""
    return {p["parameterName"]: p for p in desired.spec.get("parameters") or []}


def _changed(desired: Desired, live: Observed) -> list[dict[str, Any]]:
    """The declared parameters whose live value differs."""
    have = {p["parameterName"]: p.get("parameterValue")
            for p in live.fields.get("parameters") or []}
    return [p for name, p in _declared(desired).items()
            if have.get(name) != p["parameterValue"]]


def _parameters(ctx: RunContext, group: str, names: set[str]) -> dict[str, dict[str, Any]]:
    """The group's parameters named in `names` (value, ApplyType...), by name. AWS lists
    every parameter of the family, a page of 100 at a time: reading stops at the page
    where the last declared one is found."""
    if not names:
        return {}
    found: dict[str, dict[str, Any]] = {}
    pages = ctx.client("rds").get_paginator("describe_db_parameters").paginate(
        DBParameterGroupName=group, PaginationConfig={"PageSize": PAGE})
    for page in pages:
        found.update({p["ParameterName"]: p for p in page.get("Parameters") or []
                      if p.get("ParameterName") in names})
        if len(found) == len(names):
            break
    return found


def _modify(ctx: RunContext, group: str, parameters: list[dict[str, Any]],
            apply_types: dict[str, Any]) -> None:
    """Write `parameters`, 20 per call: a static one pending-reboot (AWS refuses
    immediate for it), a dynamic one as the spec asks, immediate by default."""
    entries = [{"ParameterName": p["parameterName"], "ParameterValue": p["parameterValue"],
                "ApplyMethod": _apply_method(p, apply_types.get(p["parameterName"]))}
               for p in parameters]
    for start in range(0, len(entries), MODIFY_LIMIT):
        ctx.client("rds").modify_db_parameter_group(
            DBParameterGroupName=group, Parameters=entries[start:start + MODIFY_LIMIT])


def _apply_method(parameter: dict[str, Any], apply_type: Any) -> ApplyMethod:
    if apply_type == "static":
        return "pending-reboot"
    method: ApplyMethod = parameter.get("applyMethod") or "immediate"
    return method
