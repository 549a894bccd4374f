"""secretsmanager.Secret: a secret's metadata, created with a random value it never reads back.

The controller owns the secret's existence, description, KMS key and tags, and
nothing of its value: a value is generated once when the secret is created (or
left empty, to be set out of band), and no code path here calls
`get_secret_value`, so a value can never leak into a plan, a log or `Observed`.

A secret deleted out of band normally sits in its recovery window: AWS keeps
the name, so re-creating it fails with ResourceExistsException. Such a secret
reads as absent (the plan says "create"), and `create` restores it, which keeps
its original value: the thing a person deleting it by mistake would want.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from controller.aws import errors
from controller.aws.errors import error_code
from controller.aws.tags import STACK_KEY, as_key_value_list, from_key_value_list, user_tags
from controller.model import Desired, NameRule, Observed, SpecModel, Tags
from controller.resources.base import Driver, RunContext
from controller.resources.batch import ByNames, Listing
from controller.resources.common import absent_ok, reread, sync_tags
from controller.resources.shapes import KmsKey
from controller.resources.tagged import by_id

# AWS accepts at most 10 values per list_secrets filter, and lists 100 secrets per call.
_FILTER_BATCH = 10
_LIST_PAGE = 100
_GENERATE_DEFAULTS: dict[str, Any] = {"passwordLength": 32, "excludePunctuation": True}
# spec field -> UpdateSecret parameter, for the fields written without touching the value
_METADATA = {"description": "Description", "kmsKeyId": "KmsKeyId"}


class GenerateSpec(SpecModel):
    """How to make the initial random value: used once, at creation, and never compared."""

    passwordLength: int = Field(default=32, ge=4, le=4096)
    excludePunctuation: bool = Field(
        default=True, description="punctuation often breaks URLs and shell quoting"
    )
    excludeCharacters: str | None = Field(default=None, description="characters never to use")


class SecretSpec(SpecModel):
    """The secret is named by the resource's `name` (e.g. `iq-theory/jwt-secret`).

    Without `generate` the secret is created with no value, for a person to set
    out of band. Changing `generate` later does nothing: it is a creation recipe,
    not a property AWS could report.
    """

    description: str | None = None
    kmsKeyId: KmsKey | None = Field(
        default=None, description="KMS key id, ARN or alias; omit for aws/secretsmanager"
    )
    generate: GenerateSpec | None = None
    tags: Tags | None = None


class SecretDriver(Driver):
    kind = "secretsmanager.Secret"
    name_rule = NameRule(r"[A-Za-z0-9/_+=.@-]{1,512}", "1-512 letters, digits and /_+=.@-")
    spec_model = SecretSpec
    attributes = ("arn", "name")
    holds_data = True

    def normalise(self, spec: dict[str, Any]) -> dict[str, Any]:
        out = dict(spec)
        if "generate" in out:
            # Explicit defaults: the plan shows the recipe create will use.
            out["generate"] = {**_GENERATE_DEFAULTS, **out["generate"]}
        return out

    def prefetch(self, desired: list[Desired], ctx: RunContext) -> None:
        SECRETS.prime(ctx, [d.name for d in desired])

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        secret = SECRETS.get(ctx, desired.name)
        if secret is None:
            return None
        tags = from_key_value_list(secret.get("Tags"))
        if secret.get("DeletedDate"):
            # Pending deletion: absent for the diff, but `create` restores it in place,
            # keeping its ARN and value.
            return Observed(fields={}, attrs=_attrs(secret), deleted=True, tags=tags)
        fields: dict[str, Any] = {
            "description": secret.get("Description") or "",  # AWS omits a blank one
            "kmsKeyId": secret.get("KmsKeyId"),
        }
        if "generate" in desired.spec:
            # The recipe is not a live property: echoing it makes it never a diff, while
            # `create` still finds it in desired.spec (normalise could not strip it).
            fields["generate"] = desired.spec["generate"]
        if "tags" in desired.spec:
            fields["tags"] = user_tags(tags)
        return Observed(fields=fields, attrs=_attrs(secret), tags=tags)

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        sm = ctx.client("secretsmanager")
        # Read afresh, not from the plan's reads: restore or create depends on this.
        current = _by_names(ctx, [desired.name]).get(desired.name)
        if current is None:
            _create_secret(sm, desired)
        else:
            if current.get("DeletedDate"):
                sm.restore_secret(SecretId=desired.name)
            stale = [f for f, p in _METADATA.items()
                     if f in desired.spec and desired.spec[f] != current.get(p)]
            _write(sm, desired, stale)
            _write_tags(sm, desired, from_key_value_list(current.get("Tags")))
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        sm = ctx.client("secretsmanager")
        _write(sm, desired, [f for f in changed if f in _METADATA])
        if "tags" in changed:
            _write_tags(sm, desired, live.tags or {})
        return self._reread(desired, ctx)

    def delete(self, live: Observed, ctx: RunContext) -> None:
        """Schedule the deletion with AWS's default 30-day recovery window: a pruned or
        replaced secret can still be restored. Already scheduled counts as gone."""
        name = live.attrs["name"]
        try:
            if not live.deleted:
                absent_ok(ctx.client("secretsmanager").delete_secret, SecretId=live.attrs["arn"])
        except errors.ClientError as err:
            if error_code(err) != "InvalidRequestException" or not _pending(ctx, name):
                raise
        finally:
            SECRETS.forget(ctx, name)

    def inventory(self, ctx: RunContext) -> dict[str, Observed]:
        """One list_secrets per hundred of the stack's secrets, by its tag (those pending
        deletion are gone already, not orphans)."""
        return by_id(STACK_SECRETS.all(ctx, ctx.stack).values(), ctx)

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        SECRETS.forget(ctx, desired.name)
        return reread(self, desired, ctx)


def _by_names(ctx: RunContext, names: list[str]) -> dict[str, dict[str, Any]]:
    """Secrets by exact name, pending deletion included (the `name` filter is a prefix
    match), ten names per filter."""
    wanted = set(names)
    paginator = ctx.client("secretsmanager").get_paginator("list_secrets")
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(names), _FILTER_BATCH):
        chunk = names[start:start + _FILTER_BATCH]
        pages = paginator.paginate(
            Filters=[{"Key": "name", "Values": chunk}], IncludePlannedDeletion=True
        )
        for page in pages:
            found.update({s["Name"]: s for s in page["SecretList"] if s["Name"] in wanted})
    return found


SECRETS: ByNames[dict[str, Any]] = ByNames("secretsmanager.secrets", _by_names, _FILTER_BATCH)


def _of_stack(ctx: RunContext, stack: str) -> dict[str, Observed]:
    """The secrets carrying `gitops:stack = stack`, by name. AWS's tag-key and tag-value
    filters match independently (any key with that value), so the pair is checked here."""
    pages = ctx.client("secretsmanager").get_paginator("list_secrets").paginate(
        Filters=[{"Key": "tag-key", "Values": [STACK_KEY]},
                 {"Key": "tag-value", "Values": [stack]}],
        PaginationConfig={"PageSize": _LIST_PAGE})
    found: dict[str, Observed] = {}
    for secret in (s for page in pages for s in page["SecretList"]):
        tags = from_key_value_list(secret.get("Tags"))
        if tags.get(STACK_KEY) == stack:
            found[secret["Name"]] = Observed(fields={}, attrs=_attrs(secret), tags=tags)
    return found


STACK_SECRETS: Listing[Observed] = Listing("secretsmanager.stack", _of_stack)


def _pending(ctx: RunContext, name: str) -> bool:
    """Is the secret scheduled for deletion (read afresh)?"""
    return bool(_by_names(ctx, [name]).get(name, {}).get("DeletedDate"))


def _attrs(secret: dict[str, Any]) -> dict[str, Any]:
    return {"arn": secret["ARN"], "name": secret["Name"]}


def _create_secret(sm: Any, desired: Desired) -> None:
    """Create with ownership tags and, if asked, a random value passed straight through."""
    args: dict[str, Any] = {"Name": desired.name, "Tags": as_key_value_list(desired.tags())}
    args.update({p: desired.spec[f] for f, p in _METADATA.items() if desired.spec.get(f)})
    generate = desired.spec.get("generate")
    if generate is not None:
        options: dict[str, Any] = {
            "PasswordLength": generate["passwordLength"],
            "ExcludePunctuation": generate["excludePunctuation"],
        }
        if generate.get("excludeCharacters"):
            options["ExcludeCharacters"] = generate["excludeCharacters"]
        # The value lives only inside this request: never bound to a logged name or returned.
        args["SecretString"] = sm.get_random_password(**options)["RandomPassword"]
    sm.create_secret(**args)


def _write(sm: Any, desired: Desired, fields: list[str]) -> None:
    """UpdateSecret with metadata only: without SecretString no new version is made."""
    if not fields:
        return
    args = {_METADATA[f]: desired.spec[f] for f in fields}
    sm.update_secret(SecretId=desired.name, **args)


def _write_tags(sm: Any, desired: Desired, live_tags: dict[str, str]) -> None:
    """Make the tags git's (common.sync_tags) with Secrets Manager's tag calls."""
    sync_tags(desired, live_tags,
              write=lambda tags: sm.tag_resource(SecretId=desired.name,
                                                 Tags=as_key_value_list(tags)),
              remove=lambda keys: sm.untag_resource(SecretId=desired.name, TagKeys=keys))
