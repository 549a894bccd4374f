"""iam.Role: a role with its trust policy, managed and inline policies, and tags.

IAM's one batch read is `get_account_authorization_details` (GAAD): each
paginated call gives up to 100 roles of the account as a RoleDetail (trust policy,
inline and attached policies, tags, path, ARN). `prefetch` reads it once per run,
so a plan's IAM calls do not grow with its roles, and `inventory` filters the same
listing by the stack's tag; a RoleDetail lacks Description and MaxSessionDuration
(in AWS and in moto), so `get_role` is added only for roles whose spec declares
one of them. Without the batch (no prefetch, or after a write) a role is read
alone: `get_role` (which carries the tags) plus one listing per declared policy
field. Both reads become one RoleDetail-shaped dict, normalised by one function.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed, SpecModel, Tags
from controller.resources import common, tagged
from controller.resources.base import Driver, RunContext
from controller.resources.batch import Listing
from controller.resources.policy_documents import normalise_policy, policy_json
from controller.resources.shapes import ManagedPolicyArn

PolicyDocument = dict[str, Any] | str

RoleDetail = dict[str, Any]


def _all_roles(ctx: RunContext, scope: str) -> dict[str, RoleDetail]:
    pages = ctx.client("iam").get_paginator("get_account_authorization_details").paginate(
        Filter=["Role"])
    return {role["RoleName"]: role for page in pages for role in page["RoleDetailList"]}


# Every role of the account by name, as GAAD's RoleDetails: one listing per run (IAM has
# no tag filter), read by `prefetch` and serving `observe` and `inventory`.
ROLES: Listing[RoleDetail] = Listing("iam.Role", _all_roles)
# Fields of `get_role` that a RoleDetail lacks.
_NOT_IN_DETAIL = {"description": "Description", "maxSessionDuration": "MaxSessionDuration"}


class RoleSpec(SpecModel):
    """Named by the resource's `name`; policy documents may be YAML maps or JSON text."""

    assumeRolePolicyDocument: PolicyDocument = Field(
        description="trust policy: who may assume the role"
    )
    description: str | None = None
    maxSessionDuration: int | None = Field(
        default=None, ge=3600, le=43200, description="seconds; AWS default 3600"
    )
    path: str | None = Field(default=None, description="e.g. /service/; immutable")
    managedPolicyArns: list[ManagedPolicyArn] | None = Field(
        default=None, description="the complete set of attached managed policies"
    )
    inlinePolicies: dict[str, PolicyDocument] | None = Field(
        default=None,
        description="policy name -> document; the complete set of inline policies "
        "(compared as a list of {PolicyName, PolicyDocument} sorted by name)",
    )
    tags: Tags | None = None


class RoleDriver(Driver):
    kind = "iam.Role"
    name_rule = NameRule(r"[A-Za-z0-9+=,.@_-]{1,64}", "1-64 letters, digits and +=,.@_-")
    spec_model = RoleSpec
    attributes = ("arn", "name")
    immutable = frozenset({"path"})
    # what inline policies grant access to (desired/base: the app's secrets, the jobs queue)
    references = ("logs.LogGroup", "secretsmanager.Secret", "sqs.Queue", "rds.DBInstance",
                  "s3.Bucket")

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "assumeRolePolicyDocument" in out:
            out["assumeRolePolicyDocument"] = normalise_policy(out["assumeRolePolicyDocument"])
        if "description" in out:
            # IAM stores an empty description as none at all.
            out["description"] = out["description"] or None
        if "managedPolicyArns" in out:
            out["managedPolicyArns"] = sorted(set(out["managedPolicyArns"]))
        if "inlinePolicies" in out:
            out["inlinePolicies"] = inline_policy_list(out["inlinePolicies"])
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        if desired:
            ROLES.all(ctx)

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        # Not found: the role, or one of its policies, vanished mid-read.
        detail: RoleDetail | None = common.absent_ok(_detail, desired, ctx)
        if detail is None:
            return None
        return Observed(fields=_fields(detail, desired.spec), attrs=_attrs(detail),
                        tags=from_key_value_list(detail.get("Tags")))

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's roles, from the account's listing `prefetch` read (IAM lists by no
        tag): no call of its own once prefetched."""
        found = (Observed(fields={}, attrs=_attrs(detail),
                          tags=from_key_value_list(detail.get("Tags")))
                 for detail in ROLES.all(ctx).values())
        return tagged.by_id(found, ctx)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        iam = ctx.client("iam")
        spec = desired.spec
        args: dict[str, Any] = {
            "RoleName": desired.name,
            "AssumeRolePolicyDocument": policy_json(spec["assumeRolePolicyDocument"]),
            "Tags": as_key_value_list(desired.tags()),
        }
        for field, param in (("description", "Description"), ("path", "Path"),
                             ("maxSessionDuration", "MaxSessionDuration")):
            if spec.get(field) is not None:
                args[param] = spec[field]
        try:
            iam.create_role(**args)
        except errors.ClientError as err:
            # A retry after a partial create: the role is there, finish its policies below.
            if error_code(err) != "EntityAlreadyExists":
                raise
        if spec.get("managedPolicyArns"):
            _sync_managed(iam, desired.name, spec["managedPolicyArns"],
                          _attached(iam, desired.name))
        if spec.get("inlinePolicies"):
            _sync_inline(iam, desired.name, spec["inlinePolicies"], [])
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        iam = ctx.client("iam")
        spec = desired.spec
        if "assumeRolePolicyDocument" in changed:
            iam.update_assume_role_policy(
                RoleName=desired.name,
                PolicyDocument=policy_json(spec["assumeRolePolicyDocument"]),
            )
        if {"description", "maxSessionDuration"} & set(changed):
            # Send every declared one: moto (unlike AWS) clears a Description left out.
            role_args: dict[str, Any] = {}
            if "description" in spec:
                role_args["Description"] = spec["description"] or ""
            if "maxSessionDuration" in spec:
                role_args["MaxSessionDuration"] = spec["maxSessionDuration"]
            iam.update_role(RoleName=desired.name, **role_args)
        if "managedPolicyArns" in changed:
            _sync_managed(iam, desired.name, spec["managedPolicyArns"] or [],
                          live.fields.get("managedPolicyArns", []))
        if "inlinePolicies" in changed:
            _sync_inline(iam, desired.name, spec["inlinePolicies"] or [],
                         live.fields.get("inlinePolicies", []))
        if "tags" in changed:
            common.sync_tags(
                desired, live.tags or {},
                write=lambda tags: iam.tag_role(RoleName=desired.name,
                                                Tags=as_key_value_list(tags)),
                remove=lambda keys: iam.untag_role(RoleName=desired.name, TagKeys=keys),
            )
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        ROLES.forget(ctx)
        common.absent_ok(_delete_role, ctx.client("iam"), live.attrs["name"])

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        ROLES.forget(ctx)  # the listing predates the write: read this role alone
        return common.reread(self, desired, ctx)


def _detail(desired: Desired, ctx: RunContext) -> RoleDetail | None:
    """The role as a RoleDetail, or None: from the run's listing once prefetched, with
    `get_role`'s own fields where declared; else read alone."""
    iam = ctx.client("iam")
    # The account's listing when prefetch read it (a role is answered from it, or its
    # failure raised); a role read alone otherwise, as after a write.
    if not ROLES.loaded(ctx):
        return _read_one(iam, desired)
    detail = ROLES.get(ctx, desired.name)
    if detail is None or not _NOT_IN_DETAIL.keys() & desired.spec.keys():
        return detail
    role = iam.get_role(RoleName=desired.name)["Role"]
    return {**detail, **{key: role[key] for key in _NOT_IN_DETAIL.values() if key in role}}


def _attrs(detail: RoleDetail) -> dict[str, Any]:
    return {"arn": detail["Arn"], "name": detail["RoleName"]}


def _delete_role(iam: Any, role: str) -> None:
    """IAM refuses to delete a role that still has policies or instance profiles: those go
    first. Each step tolerates what is already gone."""
    for arn in _attached(iam, role):
        common.absent_ok(iam.detach_role_policy, RoleName=role, PolicyArn=arn)
    for name in _inline_names(iam, role):
        common.absent_ok(iam.delete_role_policy, RoleName=role, PolicyName=name)
    pages = iam.get_paginator("list_instance_profiles_for_role").paginate(RoleName=role)
    for profile in (p for page in pages for p in page["InstanceProfiles"]):
        common.absent_ok(iam.remove_role_from_instance_profile,
                         InstanceProfileName=profile["InstanceProfileName"], RoleName=role)
    iam.delete_role(RoleName=role)


def _read_one(iam: Any, desired: Desired) -> dict[str, Any]:
    """One role as a RoleDetail plus get_role's own fields (its tags among them: AWS leaves
    the key out when there are none); policies only when declared."""
    detail = dict(iam.get_role(RoleName=desired.name)["Role"])
    if "managedPolicyArns" in desired.spec:
        detail["AttachedManagedPolicies"] = [
            {"PolicyArn": arn} for arn in _attached(iam, desired.name)
        ]
    if "inlinePolicies" in desired.spec:
        detail["RolePolicyList"] = _inline(iam, desired.name)
    return detail


def _fields(detail: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """The declared fields of a RoleDetail (from GAAD or `_read_one`), as `normalise` writes them.

    Policy documents may be dicts (boto3 decodes IAM's URL-encoded JSON) or the
    raw text (URL-encoded or not): `normalise_policy` reads all three alike.
    """
    fields: dict[str, Any] = {
        "assumeRolePolicyDocument": normalise_policy(detail["AssumeRolePolicyDocument"]),
        "description": detail.get("Description") or None,
        "maxSessionDuration": detail.get("MaxSessionDuration", 3600),
        "path": detail.get("Path", "/"),
        "managedPolicyArns": sorted(
            {p["PolicyArn"] for p in detail.get("AttachedManagedPolicies") or []}
        ),
        "inlinePolicies": inline_policy_list(detail.get("RolePolicyList") or []),
        "tags": user_tags(from_key_value_list(detail.get("Tags"))),
    }
    return {key: value for key, value in fields.items() if key in spec}


def _attached(iam: Any, role: str) -> list[str]:
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=role)
    return sorted(p["PolicyArn"] for page in pages for p in page["AttachedPolicies"])


def inline_policy_list(policies: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The canonical form of inline policies: `[{PolicyName, PolicyDocument}]` sorted by name.

    A list, not the map users write, because the generic diff compares a map only
    by the keys desired declares: an inline policy added by hand (a privilege
    escalation) would go unseen, and `inlinePolicies: {}` would never differ.
    A list compares by length and element, so every extra policy shows.
    """
    if isinstance(policies, list):
        pairs = [(p["PolicyName"], p["PolicyDocument"]) for p in policies]
    else:
        pairs = list(policies.items())
    return [
        {"PolicyName": name, "PolicyDocument": normalise_policy(doc)}
        for name, doc in sorted(pairs, key=lambda pair: pair[0])
    ]


def _inline_names(iam: Any, role: str) -> list[str]:
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=role)
    return [name for page in pages for name in page["PolicyNames"]]


def _inline(iam: Any, role: str) -> list[dict[str, Any]]:
    """The role's inline policies as a RoleDetail's RolePolicyList (documents as read)."""
    return [
        {"PolicyName": name,
         "PolicyDocument": iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]}
        for name in _inline_names(iam, role)
    ]


def _sync_managed(iam: Any, role: str, want: list[str], have: list[str]) -> None:
    """Attach only what is missing: attaching twice is not a no-op everywhere (moto counts)."""
    for arn in sorted(set(have) - set(want)):
        common.absent_ok(iam.detach_role_policy, RoleName=role, PolicyArn=arn)
    for arn in sorted(set(want) - set(have)):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)


def _sync_inline(
    iam: Any, role: str, want_list: list[dict[str, Any]], have_list: list[dict[str, Any]]
) -> None:
    want = {p["PolicyName"]: p["PolicyDocument"] for p in want_list}
    have = {p["PolicyName"]: p["PolicyDocument"] for p in have_list}
    for name in sorted(set(have) - set(want)):
        common.absent_ok(iam.delete_role_policy, RoleName=role, PolicyName=name)
    for name, doc in want.items():
        if have.get(name) != doc:
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=policy_json(doc))
