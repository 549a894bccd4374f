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

from functools import partial
from typing import Any

from botocore.exceptions import ClientError
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
from controller.resources.shapes import KmsKey

# AWS accepts at most 10 values per list_secrets filter.
_FILTER_BATCH = 10
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
        names = sorted({d.name for d in desired})
        found = _list_secrets(ctx.client("secretsmanager"), names)
        for name in names:
            ctx.cached(_key(name), partial(found.get, name))

    def observe(self, desired: Desired, ctx: RunContext) -> Observed | None:
        secret = self._live(desired.name, ctx)
        if secret is None:
            return None
        if secret.get("DeletedDate"):
            # Pending deletion: absent for the diff, but `create` restores it in place,
            # keeping its ARN and value.
            return Observed(fields={}, attrs={"arn": secret["ARN"], "name": secret["Name"]},
                            deleted=True, tags=from_key_value_list(secret.get("Tags")))
        fields: dict[str, Any] = {
            "description": secret.get("Description") or "",  # AWS omits a blank one
            "kmsKeyId": secret.get("KmsKeyId"),
        }
        if "generate" in desired.spec:
            # The recipe is not a live property: echoing it makes it never a diff, while
            # `create` still finds it in desired.spec (normalise could not strip it).
            fields["generate"] = desired.spec["generate"]
        if "tags" in desired.spec:
            fields["tags"] = user_tags(from_key_value_list(secret.get("Tags")))
        return Observed(fields=fields, attrs={"arn": secret["ARN"], "name": secret["Name"]},
                        tags=from_key_value_list(secret.get("Tags")))

    def create(self, desired: Desired, ctx: RunContext) -> Observed:
        sm = ctx.client("secretsmanager")
        # Read fresh, not from the plan's cache: restore or create depends on this.
        current = _list_secrets(sm, [desired.name]).get(desired.name)
        if current is None:
            _create_secret(sm, desired)
        else:
            if current.get("DeletedDate"):
                sm.restore_secret(SecretId=desired.name)
            stale = [f for f, p in _METADATA.items()
                     if f in desired.spec and desired.spec[f] != current.get(p)]
            _write(sm, desired, stale)
            _write_tags(sm, desired, user_tags(from_key_value_list(current.get("Tags"))))
        return self._reread(desired, ctx)

    def update(
        self, desired: Desired, live: Observed, changed: list[str], ctx: RunContext
    ) -> Observed:
        sm = ctx.client("secretsmanager")
        _write(sm, desired, [f for f in changed if f in _METADATA])
        if "tags" in changed:
            _write_tags(sm, desired, live.fields.get("tags", {}))
        return self._reread(desired, ctx)

    def delete(self, desired: Desired, live: Observed, ctx: RunContext) -> None:
        sm = ctx.client("secretsmanager")
        try:
            # AWS's default 30-day recovery window: a pruned secret can still be restored.
            sm.delete_secret(SecretId=desired.name)
        except ClientError as err:
            if is_not_found(err):
                return
            # Already scheduled for deletion is "already gone" for a prune.
            pending = _list_secrets(sm, [desired.name]).get(desired.name, {}).get("DeletedDate")
            if error_code(err) == "InvalidRequestException" and pending:
                return
            raise
        finally:
            ctx.forget(_key(desired.name))

    def _live(self, name: str, ctx: RunContext) -> dict[str, Any] | None:
        sm = ctx.client("secretsmanager")
        return ctx.cached(_key(name), lambda: _list_secrets(sm, [name]).get(name))

    def _reread(self, desired: Desired, ctx: RunContext) -> Observed:
        ctx.forget(_key(desired.name))
        observed = self.observe(desired, ctx)
        assert observed is not None, f"{desired.id} vanished right after it was written"
        return observed


def _key(name: str) -> tuple[str, str]:
    return ("secretsmanager.secret", name)


def _list_secrets(sm: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    """Secrets by exact name, pending deletion included (the `name` filter is a prefix match)."""
    wanted = set(names)
    found: dict[str, dict[str, Any]] = {}
    paginator = sm.get_paginator("list_secrets")
    for start in range(0, len(names), _FILTER_BATCH):
        chunk = names[start:start + _FILTER_BATCH]
        pages = paginator.paginate(
            Filters=[{"Key": "name", "Values": chunk}], IncludePlannedDeletion=True
        )
        for page in pages:
            for secret in page["SecretList"]:
                if secret["Name"] in wanted:
                    found[secret["Name"]] = secret
    return found


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
    """(Re)write user and ownership tags; remove user tags git dropped, if git manages tags."""
    stale = set(live_tags) - set(desired.spec.get("tags") or {})
    if stale and "tags" in desired.spec:
        sm.untag_resource(SecretId=desired.name, TagKeys=sorted(stale))
    sm.tag_resource(SecretId=desired.name, Tags=as_key_value_list(desired.tags()))
