"""ecr.Repository: an image repository with its scanning, tag mutability, policies and tags.

All repositories of a stack are read with one `describe_repositories` call per
plan; lifecycle policy, repository policy and tags have no batch read and are
fetched per repository (the policies only when the spec declares them; the tags
always, for ownership). The emulator's tagging index misses ECR, so the stack's
repositories are found by listing the account's and reading each one's tags.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code, is_not_found
from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.policy_documents import normalise_policy, parse_document, policy_json
from controller.resources.shapes import KmsKey
from controller.resources.tagged import by_id, stack_arns

# describe_repositories accepts at most this many names per call.
DESCRIBE_BATCH = 100
# An absent repository policy: not a "not found" of the repository itself.
NO_POLICY = ("RepositoryPolicyNotFoundException",)


class RepositorySpec(SpecModel):
    """Named by the resource's `name`. Policies may be YAML maps or JSON text."""

    imageTagMutability: Literal["MUTABLE", "IMMUTABLE"] | None = Field(
        default=None, description="IMMUTABLE refuses to move a pushed tag; AWS default MUTABLE"
    )
    scanOnPush: bool | None = Field(default=None, description="scan each pushed image")
    encryptionType: Literal["AES256", "KMS", "KMS_DSSE"] | None = Field(
        default=None, description="immutable; AWS default AES256"
    )
    kmsKey: KmsKey | None = Field(
        default=None, description="full key ARN (AWS echoes ARNs, not aliases); immutable"
    )
    lifecyclePolicy: dict[str, Any] | str | None = Field(
        default=None, description='lifecycle policy document; "" removes it'
    )
    repositoryPolicy: dict[str, Any] | str | None = Field(
        default=None, description='IAM-grammar repository policy; "" removes it'
    )
    tags: Tags | None = None


class RepositoryDriver(Driver):
    kind = "ecr.Repository"
    name_rule = NameRule(r"(?=.{2,256}$)(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*"
                         r"[a-z0-9]+(?:[._-][a-z0-9]+)*",
                         "2-256 lower-case letters, digits and ._-, in /-separated parts")
    spec_model = RepositorySpec
    attributes = ("arn", "name", "uri")
    immutable = frozenset({"encryptionType", "kmsKey"})
    holds_data = True  # it holds the images every deploy runs

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if out.get("kmsKey") and "encryptionType" not in out:
            out["encryptionType"] = "KMS"  # AWS accepts a key only with KMS encryption
        # "" asks for no policy: None, as observe reads an absent one.
        if "lifecyclePolicy" in out:
            out["lifecyclePolicy"] = (normalise_lifecycle_policy(out["lifecyclePolicy"])
                                      if out["lifecyclePolicy"] != "" else None)
        if "repositoryPolicy" in out:
            out["repositoryPolicy"] = (normalise_policy(out["repositoryPolicy"])
                                       if out["repositoryPolicy"] != "" else None)
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        REPOSITORIES.prime(ctx, [d.name for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        repo = REPOSITORIES.get(ctx, desired.name)
        if repo is None:
            return None
        encryption = repo.get("encryptionConfiguration", {})
        fields: dict[str, Any] = {
            "imageTagMutability": repo.get("imageTagMutability", "MUTABLE"),
            "scanOnPush": repo.get("imageScanningConfiguration", {}).get("scanOnPush", False),
            "encryptionType": encryption.get("encryptionType", "AES256"),
            "kmsKey": encryption.get("kmsKey"),
        }
        try:
            fields.update(_policies(ctx, desired))
            # Read last: a repository deleted since the batch describe fails here.
            tags = _tags(ctx, repo["repositoryArn"])
        except errors.ClientError as err:
            if is_not_found(err):
                return None
            raise
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        return Observed(fields=fields, attrs=_attrs(repo), tags=tags)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        ecr = ctx.client("ecr")
        spec = desired.spec
        args: dict[str, Any] = {
            "repositoryName": desired.name, "tags": as_key_value_list(desired.tags())
        }
        if spec.get("imageTagMutability"):
            args["imageTagMutability"] = spec["imageTagMutability"]
        if spec.get("scanOnPush") is not None:
            args["imageScanningConfiguration"] = {"scanOnPush": spec["scanOnPush"]}
        if spec.get("encryptionType"):
            args["encryptionConfiguration"] = {"encryptionType": spec["encryptionType"]}
            if spec.get("kmsKey"):
                args["encryptionConfiguration"]["kmsKey"] = spec["kmsKey"]
        try:
            ecr.create_repository(**args)
        except errors.ClientError as err:
            # A retry after a partial create: the repository is ours, finish its policies.
            if error_code(err) != "RepositoryAlreadyExistsException":
                raise
        if spec.get("lifecyclePolicy") is not None:
            _put_lifecycle(ecr, desired.name, spec["lifecyclePolicy"])
        if spec.get("repositoryPolicy") is not None:
            _put_repository_policy(ecr, desired.name, spec["repositoryPolicy"])
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        ecr = ctx.client("ecr")
        spec = desired.spec
        name = desired.name
        if "imageTagMutability" in changed:
            ecr.put_image_tag_mutability(
                repositoryName=name, imageTagMutability=spec["imageTagMutability"]
            )
        if "scanOnPush" in changed:
            ecr.put_image_scanning_configuration(
                repositoryName=name,
                imageScanningConfiguration={"scanOnPush": spec["scanOnPush"]},
            )
        if "lifecyclePolicy" in changed:
            if spec["lifecyclePolicy"] is None:
                absent_ok(ecr.delete_lifecycle_policy, repositoryName=name)
            else:
                _put_lifecycle(ecr, name, spec["lifecyclePolicy"])
        if "repositoryPolicy" in changed:
            if spec["repositoryPolicy"] is None:
                absent_ok(ecr.delete_repository_policy, repositoryName=name, absent=NO_POLICY)
            else:
                _put_repository_policy(ecr, name, spec["repositoryPolicy"])
        if "tags" in changed:
            arn = live.attrs["arn"]
            sync_tags(desired, live.tags or {},
                      write=lambda tags: ecr.tag_resource(resourceArn=arn,
                                                          tags=as_key_value_list(tags)),
                      remove=lambda keys: ecr.untag_resource(resourceArn=arn, tagKeys=keys))
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        # force: the engine only deletes a repository once its `protect` was lifted,
        # and a repository still holding images cannot be deleted otherwise.
        absent_ok(ctx.client("ecr").delete_repository, repositoryName=live.attrs["name"],
                  force=True)
        REPOSITORIES.forget(ctx, live.attrs["name"])

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """The stack's repositories from the tagging index (the run's one shared GetResources
        listing), confirmed by one describe per hundred: ECR's own listing would cost a tags
        call per repository of the account. (moto's index has no ECR: see tests/motogaps.)"""
        tagged = {arn.split(":", 5)[5].removeprefix("repository/"): tags
                  for arn, tags in stack_arns(ctx, "ecr", "repository/").items()}
        REPOSITORIES.prime(ctx, tagged)
        found = [Observed(fields={}, attrs=_attrs(repo), tags=tagged[name])
                 for name in tagged if (repo := REPOSITORIES.get(ctx, name)) is not None]
        return by_id(found, ctx)

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        REPOSITORIES.forget(ctx, desired.name)
        return reread(self, desired, ctx)


def normalise_lifecycle_policy(value: Any) -> Any:
    """Parsed, rules in priority order (ECR evaluates them so), tag lists as sets."""
    doc = parse_document(value)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        return doc
    rules = []
    for rule in doc["rules"]:
        if isinstance(rule, dict) and isinstance(rule.get("selection"), dict):
            selection = dict(rule["selection"])
            for key in ("tagPrefixList", "tagPatternList"):
                if isinstance(selection.get(key), list):
                    selection[key] = sorted(set(selection[key]))
            rule = {**rule, "selection": selection}
        rules.append(rule)
    rules.sort(key=lambda r: r.get("rulePriority", 0) if isinstance(r, dict) else 0)
    return {**doc, "rules": rules}


def _describe(ctx: RunContext, names: list[str]) -> dict[str, dict[str, Any]]:
    """ByNames' fetch: the repositories among `names` that exist.

    One absent name fails the whole call, so a failed batch falls back to listing
    the account's repositories: one missing repository must not hide the others.
    """
    ecr = ctx.client("ecr")
    try:
        repos = ecr.describe_repositories(repositoryNames=names)["repositories"]
    except errors.ClientError as err:
        if error_code(err) != "RepositoryNotFoundException":
            raise
        if len(names) == 1:
            return {}
        pages = ecr.get_paginator("describe_repositories").paginate()
        repos = [r for page in pages for r in page["repositories"]
                 if r["repositoryName"] in names]
    return {r["repositoryName"]: r for r in repos}


REPOSITORIES: ByNames[dict[str, Any]] = ByNames("ecr.repositories", _describe, DESCRIBE_BATCH)


def _attrs(repo: dict[str, Any]) -> dict[str, Any]:
    return {"arn": repo["repositoryArn"], "name": repo["repositoryName"],
            "uri": repo["repositoryUri"]}


def _tags(ctx: RunContext, arn: str) -> dict[str, str]:
    """Every tag of the repository (ECR's Key/Value spelling)."""
    return from_key_value_list(ctx.client("ecr").list_tags_for_resource(resourceArn=arn)["tags"])


def _policies(ctx: RunContext, desired: Desired) -> dict[str, Any]:
    """The policies the spec declares, normalised; an absent one reads None."""
    ecr, name, fields = ctx.client("ecr"), desired.name, {}
    if "lifecyclePolicy" in desired.spec:
        answer = absent_ok(ecr.get_lifecycle_policy, repositoryName=name)
        fields["lifecyclePolicy"] = normalise_lifecycle_policy(
            answer["lifecyclePolicyText"] if answer else None)
    if "repositoryPolicy" in desired.spec:
        answer = absent_ok(ecr.get_repository_policy, repositoryName=name, absent=NO_POLICY)
        fields["repositoryPolicy"] = normalise_policy(answer["policyText"] if answer else None)
    return fields


def _put_lifecycle(ecr: Any, name: str, policy: Any) -> None:
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy_json(policy))


def _put_repository_policy(ecr: Any, name: str, policy: Any) -> None:
    ecr.set_repository_policy(repositoryName=name, policyText=policy_json(policy))
