"""Ownership tags: how the controller recognises what it created."""

from __future__ import annotations

MANAGED_BY_KEY = "gitops:managed-by"
MANAGED_BY_VALUE = "iq-gitops-controller"
STACK_KEY = "gitops:stack"
ID_KEY = "gitops:id"


def ownership_tags(stack: str, resource_id: str) -> dict[str, str]:
    """The three tags every created resource carries (resource_id is `Kind/name`)."""
    return {MANAGED_BY_KEY: MANAGED_BY_VALUE, STACK_KEY: stack, ID_KEY: resource_id}


def retired_id(resource_id: str) -> str:
    """The `gitops:id` an old resource carries once a create-first replace has made its
    successor: still this stack's (an orphan if its delete fails), never taken for it."""
    return f"{resource_id}~replaced"


def as_key_value_list(
    tags: dict[str, str], key: str = "Key", value: str = "Value"
) -> list[dict[str, str]]:
    """AWS spells tag lists three ways (Key/Value, key/value, TagKey...): one helper for all."""
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def from_key_value_list(
    tags: list[dict[str, str]] | None, key: str = "Key", value: str = "Value"
) -> dict[str, str]:
    return {t[key]: t[value] for t in tags or []}


def not_owned(tags: dict[str, str], stack: str, resource_id: str) -> str | None:
    """Why a live resource with `tags` is not this stack's `resource_id`, or None if it is."""
    owner, owned_id = tags.get(STACK_KEY), tags.get(ID_KEY)
    if owner is None:
        return "it carries no gitops:stack tag: the controller did not create it"
    if owner != stack:
        return f"it belongs to stack {owner!r} (its gitops:stack tag)"
    if owned_id != resource_id:
        return f"its gitops:id tag names {owned_id!r}"
    return None


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags without the ownership ones, for comparing with a spec's `tags`."""
    return {k: v for k, v in tags.items() if not k.startswith(("gitops:", "aws:"))}
