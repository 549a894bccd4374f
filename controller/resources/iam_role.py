"""iam.Role: a role with its trust policy, managed and inline policies, and tags.

IAM has no batch describe, so a role costs one `get_role` plus one listing per
declared policy field; inline and managed policies are only read when the spec
declares them (managed fields only, and fewer calls).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws.errors import error_code, is_not_found
from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.resources.base import Desired, Driver, Observed, RunContext, SpecModel
from controller.resources.policy_documents import normalise_policy, policy_json

PolicyDocument = dict[str, Any] | str


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
    managedPolicyArns: list[str] | None = Field(
        default=None, description="the complete set of attached managed policies"
    )
    inlinePolicies: dict[str, PolicyDocument] | None = Field(
        default=None,
        description="policy name -> document; the complete set of inline policies "
        "(compared as a list of {PolicyName, PolicyDocument} sorted by name)",
    )
    tags: dict[str, str] | None = None


class RoleDriver(Driver):
    kind = "iam.Role"
    spec_model = RoleSpec
    attributes = ("arn", "name")
    immutable = frozenset({"path"})

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "assumeRolePolicyDocument" in out:
            out["assumeRolePolicyDocument"] = normalise_policy(out["assumeRolePolicyDocument"])
        if "description" in out:
            # IAM stores an empty description as none at all.
            out["description"] = out["description"] or None
        # An explicit null means AWS's default, which AWS echoes.
        if "maxSessionDuration" in out and out["maxSessionDuration"] is None:
            out["maxSessionDuration"] = 3600
        if "path" in out and out["path"] is None:
            out["path"] = "/"
        if out.get("managedPolicyArns") is not None:
            out["managedPolicyArns"] = sorted(set(out["managedPolicyArns"]))
        if out.get("inlinePolicies") is not None:
            out["inlinePolicies"] = inline_policy_list(out["inlinePolicies"])
        return out

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        iam = ctx.client("iam")
        try:
            role = iam.get_role(RoleName=desired.name)["Role"]
            fields: dict[str, Any] = {
                "assumeRolePolicyDocument": normalise_policy(role["AssumeRolePolicyDocument"]),
                "description": role.get("Description") or None,
                "maxSessionDuration": role.get("MaxSessionDuration", 3600),
                "path": role.get("Path", "/"),
            }
            if "managedPolicyArns" in desired.spec:
                fields["managedPolicyArns"] = _attached(iam, desired.name)
            if "inlinePolicies" in desired.spec:
                fields["inlinePolicies"] = _inline(iam, desired.name)
            if "tags" in desired.spec:
                fields["tags"] = user_tags(_tags(iam, desired.name, role))
        except Exception as err:  # the role, or one of its policies, vanished mid-read
            if is_not_found(err):
                return None
            raise
        return Observed(fields=fields, attrs={"arn": role["Arn"], "name": role["RoleName"]})

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
        except Exception as err:
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
            stale = set(live.fields.get("tags", {})) - set(spec["tags"] or {})
            if stale:
                iam.untag_role(RoleName=desired.name, TagKeys=sorted(stale))
            iam.tag_role(RoleName=desired.name, Tags=as_key_value_list(desired.tags()))
        return self._reread(desired, ctx)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        # IAM refuses to delete a role that still has policies or instance profiles.
        iam = ctx.client("iam")
        try:
            _sync_managed(iam, desired.name, [], _attached(iam, desired.name))
            _sync_inline(iam, desired.name, [], _inline(iam, desired.name))
            pages = iam.get_paginator("list_instance_profiles_for_role").paginate(
                RoleName=desired.name
            )
            for page in pages:
                for profile in page["InstanceProfiles"]:
                    iam.remove_role_from_instance_profile(
                        InstanceProfileName=profile["InstanceProfileName"],
                        RoleName=desired.name,
                    )
            iam.delete_role(RoleName=desired.name)
        except Exception as err:
            if not is_not_found(err):
                raise

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        observed = self.observe(desired, ctx)
        assert observed is not None, f"{desired.id} vanished right after it was written"
        return observed


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


def _inline(iam: Any, role: str) -> list[dict[str, Any]]:
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=role)
    names = [name for page in pages for name in page["PolicyNames"]]
    return inline_policy_list({
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in names
    })


def _tags(iam: Any, role: str, described: dict[str, Any]) -> dict[str, str]:
    """get_role carries the tags; older API versions and emulators may not, then list them."""
    if "Tags" in described:
        return from_key_value_list(described["Tags"])
    pages = iam.get_paginator("list_role_tags").paginate(RoleName=role)
    return {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}


def _sync_managed(iam: Any, role: str, want: list[str], have: list[str]) -> None:
    """Attach only what is missing: attaching twice is not a no-op everywhere (moto counts)."""
    for arn in sorted(set(have) - set(want)):
        try:
            iam.detach_role_policy(RoleName=role, PolicyArn=arn)
        except Exception as err:
            if not is_not_found(err):
                raise
    for arn in sorted(set(want) - set(have)):
        iam.attach_role_policy(RoleName=role, PolicyArn=arn)


def _sync_inline(
    iam: Any, role: str, want_list: list[dict[str, Any]], have_list: list[dict[str, Any]]
) -> None:
    want = {p["PolicyName"]: p["PolicyDocument"] for p in want_list}
    have = {p["PolicyName"]: p["PolicyDocument"] for p in have_list}
    for name in sorted(set(have) - set(want)):
        try:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        except Exception as err:
            if not is_not_found(err):
                raise
    for name, doc in want.items():
        if have.get(name) != doc:
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=policy_json(doc))
