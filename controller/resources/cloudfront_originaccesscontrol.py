"""cloudfront.OriginAccessControl: how CloudFront signs its requests to an origin (an S3
bucket that only the distribution may read).

Names are unique in the account, so identity is "name". CloudFront cannot tag an
origin access control (CreateOriginAccessControl takes no tags, TagResource no OAC
ARN), so the ownership tags live where the controller can write them atomically with
the resource: a marker at the end of its description, `(gitops:stack=S gitops:id=ID)`.
observe reads them back as `Observed.tags`, so adopting a same-named control made by
hand, refusing another stack's, and prune work as for a tagged kind; the user's own
`description` is the text before the marker.

CloudFront is global: its one endpoint answers whatever the run's region. Every field
changes in place (UpdateOriginAccessControl sends the whole config with the ETag
GetOriginAccessControl gave), so nothing is immutable. One ListOriginAccessControls
(paged) per run answers every observe and the inventory.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import ID_KEY, MANAGED_BY_KEY, MANAGED_BY_VALUE, STACK_KEY
from controller.model import Desired, NameRule, Observed, SpecModel
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.common import absent_ok, reread
from controller.resources.ec2_common import run_account
from controller.resources.tagged import by_id

SERVICE = "cloudfront"
NO_SUCH = ("NoSuchOriginAccessControl",)
_EXISTS = "OriginAccessControlAlreadyExists"
# No space or parenthesis: the ownership marker's id must read back unambiguously.
OAC_NAME = NameRule(r"[A-Za-z0-9_.-]{1,64}", "1-64 letters, digits and _.-")
_MARKER = re.compile(r"^(?P<user>.*?)\s*\(gitops:stack=(?P<stack>[^\s()]+) "
                     r"gitops:id=(?P<id>[^\s()]+)\)$", re.DOTALL)

Item = dict[str, Any]  # one OriginAccessControlSummary, as AWS lists it


class OriginAccessControlSpec(SpecModel):
    """The control is named by the resource's `name`. For an S3 origin: `sigv4`, `always`,
    `s3`. A distribution's origin names it by `${ref:cloudfront.OriginAccessControl/N.id}`."""

    description: str | None = Field(
        default=None, max_length=100,
        description="what it is for; the controller appends its ownership marker")
    signingProtocol: Literal["sigv4", "sigv4a"]
    signingBehavior: Literal["always", "never", "no-override", "always-amz-auth"] = Field(
        description="always: sign every request (the usual choice for S3)")
    originAccessControlOriginType: Literal["s3", "mediastore", "mediapackagev2", "lambda"]


def _list(ctx: RunContext, scope: str) -> dict[str, Item]:
    """Every control of the account by name (names are unique in AWS; the first wins if
    an emulator let two share one)."""
    pages = ctx.client(SERVICE).get_paginator("list_origin_access_controls").paginate()
    found: dict[str, Item] = {}
    for page in pages:
        for item in page["OriginAccessControlList"].get("Items") or []:
            found.setdefault(item["Name"], item)
    return found


CONTROLS: Listing[Item] = Listing("cloudfront.origin_access_controls", _list)


class OriginAccessControlDriver(Driver):
    kind = "cloudfront.OriginAccessControl"
    spec_model = OriginAccessControlSpec
    attributes = ("id", "arn", "name")
    name_rule = OAC_NAME

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        CONTROLS.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        item = CONTROLS.get(ctx, desired.name)
        return None if item is None else _observed(item, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        # Look afresh first: a retried create (its answer lost) finds its own control
        # (AWS would refuse the name: OriginAccessControlAlreadyExists, taken as found).
        CONTROLS.forget(ctx)
        if CONTROLS.get(ctx, desired.name) is None:
            config = _config(desired.name, desired.spec.get("description") or "",
                             _ownership(desired), desired.spec)
            try:
                ctx.client(SERVICE).create_origin_access_control(
                    OriginAccessControlConfig=config)
            except errors.ClientError as err:
                if error_code(err) != _EXISTS:
                    raise
        CONTROLS.forget(ctx)
        return reread(self, desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        """The whole config is sent (CloudFront has no partial update): changed fields from
        git, the rest as they are live; the ownership marker is rewritten with `tags`
        (adoption), else kept."""
        cloudfront = ctx.client(SERVICE)
        answer = cloudfront.get_origin_access_control(Id=live.attrs["id"])
        current = answer["OriginAccessControl"]["OriginAccessControlConfig"]
        user, owner = _split(current.get("Description") or "")
        if "description" in changed and "description" in desired.spec:
            user = desired.spec["description"]
        if "tags" in changed:
            owner = _ownership(desired)
        fields = {k: desired.spec[k] for k in changed if k in desired.spec}
        live_fields = {"signingProtocol": current["SigningProtocol"],
                       "signingBehavior": current["SigningBehavior"],
                       "originAccessControlOriginType": current["OriginAccessControlOriginType"]}
        config = _config(desired.name, user, owner, {**live_fields, **fields})
        cloudfront.update_origin_access_control(Id=live.attrs["id"], IfMatch=answer["ETag"],
                                                OriginAccessControlConfig=config)
        CONTROLS.forget(ctx)
        return reread(self, desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """AWS refuses while a distribution's origin still names it
        (OriginAccessControlInUse): prune deletes distributions first, and a distribution
        being disabled takes a run or two before it goes."""
        cloudfront = ctx.client(SERVICE)
        answer = absent_ok(cloudfront.get_origin_access_control, Id=live.attrs["id"],
                           absent=NO_SUCH)
        if answer is not None:
            absent_ok(cloudfront.delete_origin_access_control, Id=live.attrs["id"],
                      IfMatch=answer["ETag"], absent=NO_SUCH)
        CONTROLS.forget(ctx)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The listing observe reads, its ownership markers parsed: no call of its own."""
        return by_id((_observed(item, ctx, shaped=False)
                      for item in CONTROLS.all(ctx).values()), ctx)


def _observed(item: Item, ctx: RunContext, *, shaped: bool = True) -> Observed:
    user, owner = _split(item.get("Description") or "")
    fields: dict[str, Any] = {
        "description": user,
        "signingProtocol": item.get("SigningProtocol"),
        "signingBehavior": item.get("SigningBehavior"),
        "originAccessControlOriginType": item.get("OriginAccessControlOriginType"),
    } if shaped else {}
    arn = f"arn:aws:cloudfront::{run_account(ctx)}:origin-access-control/{item['Id']}"
    return Observed(fields=fields, attrs={"id": item["Id"], "name": item["Name"], "arn": arn},
                    tags=_tags(owner))


def _config(name: str, user: str, owner: tuple[str, str] | None,
            spec: dict[str, Any]) -> dict[str, str]:
    return {"Name": name, "Description": _description(user, owner),
            "SigningProtocol": spec["signingProtocol"],
            "SigningBehavior": spec["signingBehavior"],
            "OriginAccessControlOriginType": spec["originAccessControlOriginType"]}


def _ownership(desired: Desired) -> tuple[str, str]:
    return desired.stack, desired.id


def _description(user: str, owner: tuple[str, str] | None) -> str:
    """The user's text, then the ownership marker (what tags are on a taggable kind)."""
    if owner is None:
        return user
    marker = f"(gitops:stack={owner[0]} gitops:id={owner[1]})"
    return f"{user} {marker}" if user else marker


def _split(description: str) -> tuple[str, tuple[str, str] | None]:
    """(the user's text, (stack, id) of the marker or None)."""
    match = _MARKER.match(description)
    if match is None:
        return description, None
    return match["user"], (match["stack"], match["id"])


def _tags(owner: tuple[str, str] | None) -> dict[str, str]:
    """The ownership marker as the tags a taggable kind would carry."""
    if owner is None:
        return {}
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_KEY: owner[0], ID_KEY: owner[1]}
