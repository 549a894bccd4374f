"""ecr.Repository: an image repository with its scanning, tag mutability, policies and tags.

All repositories of a stack are read with one `describe_repositories` call per
plan; lifecycle policy, repository policy and tags have no batch read and are
fetched per repository, only when the spec declares them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from pydantic import Field

from controller.aws.errors import error_code, is_not_found
from controller.aws.tags import as_key_value_list, from_key_value_list, user_tags
from controller.resources.base import (
    Desired,
    Driver,
    NameRule,
    Observed,
    RunContext,
    SpecModel,
    Tags,
)
from controller.resources.policy_documents import normalise_policy, parse_document, policy_json
from controller.resources.shapes import KmsKey

T = TypeVar("T")

# describe_repositories accepts at most this many names per call.
DESCRIBE_BATCH = 100


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
        names = [d.name for d in desired if _key(d.name) not in ctx.cache]
        if not names:
            return
        found = _describe(ctx.client("ecr"), names)
        for name, repo in found.items():
            ctx.cached(_key(name), _constant(repo))

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        ecr = ctx.client("ecr")
        name = desired.name
        repo = ctx.cached(_key(name), lambda: _describe(ecr, [name])[name])
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
            if "lifecyclePolicy" in desired.spec:
                text = _optional(ecr.get_lifecycle_policy, "LifecyclePolicyNotFoundException",
                                 "lifecyclePolicyText", repositoryName=name)
                fields["lifecyclePolicy"] = normalise_lifecycle_policy(text)
            if "repositoryPolicy" in desired.spec:
                text = _optional(ecr.get_repository_policy, "RepositoryPolicyNotFoundException",
                                 "policyText", repositoryName=name)
                fields["repositoryPolicy"] = normalise_policy(text)
            if "tags" in desired.spec:
                tags = ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
                fields["tags"] = user_tags(from_key_value_list(tags))
        except Exception as err:  # deleted between the batch describe and these reads
            if is_not_found(err):
                return None
            raise
        attrs = {"arn": repo["repositoryArn"], "name": name, "uri": repo["repositoryUri"]}
        return Observed(fields=fields, attrs=attrs)

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
        except Exception as err:
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
                _ignore(ecr.delete_lifecycle_policy, "LifecyclePolicyNotFoundException",
                        repositoryName=name)
            else:
                _put_lifecycle(ecr, name, spec["lifecyclePolicy"])
        if "repositoryPolicy" in changed:
            if spec["repositoryPolicy"] is None:
                _ignore(ecr.delete_repository_policy, "RepositoryPolicyNotFoundException",
                        repositoryName=name)
            else:
                _put_repository_policy(ecr, name, spec["repositoryPolicy"])
        if "tags" in changed:
            arn = live.attrs["arn"]
            stale = set(live.fields.get("tags", {})) - set(spec["tags"] or {})
            if stale:
                ecr.untag_resource(resourceArn=arn, tagKeys=sorted(stale))
            ecr.tag_resource(resourceArn=arn, tags=as_key_value_list(desired.tags()))
        return self._reread(desired, ctx)

    def live_tags(self, desired: Desired, live: Observed, ctx: RunContext) -> dict[str, str]:
        tags = ctx.client("ecr").list_tags_for_resource(resourceArn=live.attrs["arn"])["tags"]
        return from_key_value_list(tags)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        # force: the engine only deletes a repository once its `protect` was lifted,
        # and a repository still holding images cannot be deleted otherwise.
        _ignore(ctx.client("ecr").delete_repository, "RepositoryNotFoundException",
                repositoryName=desired.name, force=True)
        ctx.forget(_key(desired.name))

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        ctx.forget(_key(desired.name))
        observed = self.observe(desired, ctx)
        assert observed is not None, f"{desired.id} vanished right after it was written"
        return observed


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


def _constant(value: T) -> Callable[[], T]:
    """A cache loader for a value already read by the batch call."""
    return lambda: value


def _key(name: str) -> tuple[str, str]:
    return ("ecr.repository", name)


def _describe(ecr: Any, names: list[str]) -> dict[str, dict[str, Any] | None]:
    """name -> repository, or None when absent.

    One absent name fails the whole call, so a failed batch falls back to listing
    the account's repositories: one missing repository must not hide the others.
    """
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), DESCRIBE_BATCH):
        chunk = names[start:start + DESCRIBE_BATCH]
        try:
            repos = ecr.describe_repositories(repositoryNames=chunk)["repositories"]
        except Exception as err:
            if error_code(err) != "RepositoryNotFoundException":
                raise
            if len(chunk) == 1:
                continue
            pages = ecr.get_paginator("describe_repositories").paginate()
            repos = [r for page in pages for r in page["repositories"]
                     if r["repositoryName"] in chunk]
        found.update({r["repositoryName"]: r for r in repos})
    return {name: found.get(name) for name in names}


def _optional(call: Any, absent_code: str, field: str, **kwargs: Any) -> Any:
    """The `field` of a read whose object may not exist (then None)."""
    try:
        return call(**kwargs)[field]
    except Exception as err:
        if error_code(err) != absent_code:
            raise
        return None


def _ignore(call: Any, absent_code: str, **kwargs: Any) -> None:
    """A delete that succeeds when there is nothing to delete."""
    try:
        call(**kwargs)
    except Exception as err:
        if error_code(err) != absent_code:
            raise


def _put_lifecycle(ecr: Any, name: str, policy: Any) -> None:
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy_json(policy))


def _put_repository_policy(ecr: Any, name: str, policy: Any) -> None:
    ecr.set_repository_policy(repositoryName=name, policyText=policy_json(policy))
