"""Did you mean: the closest known word to a misspelt one, and the words known at a place.

A misspelt field, kind, ref or value is the commonest validation error, and
"unknown field" alone sends the user to the docs; the closest allowed word
usually is the fix. Allowed fields are read from each kind's pydantic model
(its JSON schema), so a new kind or field needs nothing here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import BaseModel

# difflib's ratio from which two words read as one misspelt: `retention` for
# `retentionInDays` passes, `bogus` for any real field does not.
CUTOFF = 0.6


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` most likely misspells (case aside), or None."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=CUTOFF)
    return by_lower[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """": did you mean X?" when a candidate is close to `word` (and not `word`), else ""."""
    match = closest(word, candidates)
    return f": did you mean {match}?" if match is not None and match != word else ""


def allowed_keys(model: type[BaseModel], path: tuple[str | int, ...]) -> list[str] | None:
    """The keys a mapping at `path` of `model`'s input may hold, or None when any key
    may (a map such as `tags`) or the path leads nowhere the schema knows.

    Walks the JSON schema: `$ref`s, unions (`X | None`), lists and maps included.
    """
    schema = _schema(model)
    defs = schema.get("$defs", {})
    nodes = _expand(schema, defs)
    for part in path:
        nodes = [child for node in nodes for child in _expand_all(_children(node, part), defs)]
    keys = sorted({key for node in nodes for key in node.get("properties", {})})
    closed = all(node.get("additionalProperties") is False for node in nodes if
                 node.get("type") == "object")
    return keys if keys and closed else None


@cache
def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


def _expand(node: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """`node` with its $ref resolved and its unions flattened into their branches."""
    if "$ref" in node:
        return _expand(defs.get(node["$ref"].rsplit("/", 1)[-1], {}), defs)
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in node.get(key, [])]
    if branches:
        return _expand_all(branches, defs)
    return [node]


def _expand_all(nodes: Iterable[dict[str, Any]], defs: dict[str, Any]) -> list[dict[str, Any]]:
    return [branch for node in nodes for branch in _expand(node, defs)]


def _children(node: dict[str, Any], part: str | int) -> list[dict[str, Any]]:
    """The schemas of `node`'s child `part`: a list's items, a property, a map's values."""
    if isinstance(part, int):
        items = node.get("items")
        return [items] if isinstance(items, dict) else []
    properties = node.get("properties", {})
    if part in properties:
        return [properties[part]]
    extra = node.get("additionalProperties")
    return [extra] if isinstance(extra, dict) else []
