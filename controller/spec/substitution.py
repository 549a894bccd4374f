"""`${values.x}` and `${ref:Kind/name.attr}`: the only two substitutions there are.

A substitution that is the whole YAML value keeps the value's type; one inside
a longer string is interpolated as text. Values are substituted at load time;
refs stay as text until the engine knows the referenced resource's attributes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from controller.resources.base import Unknown

TOKEN = re.compile(r"\$\{([^}]*)\}")
REF = re.compile(r"^ref:(?P<kind>[A-Za-z0-9]+\.[A-Za-z0-9]+)/(?P<name>.+)\.(?P<attr>[A-Za-z]+)$")
VALUE = re.compile(r"^values\.(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)$")


@dataclass(frozen=True)
class Ref:
    kind: str
    name: str
    attr: str

    @property
    def target(self) -> str:
        return f"{self.kind}/{self.name}"


class SubstitutionError(ValueError):
    """A substitution that cannot be made; `path` says where in the value."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        self.path = path
        super().__init__(message)


def _walk(value: Any, path: tuple[str | int, ...],
          on_token: Callable[[str, tuple[str | int, ...]], Any]) -> Any:
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), on_token) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, i), on_token) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    whole = TOKEN.fullmatch(value)
    if whole:
        return on_token(whole.group(1), path)
    parts: list[str] = []
    unknown = False
    pos = 0
    for match in TOKEN.finditer(value):
        parts.append(value[pos:match.start()])
        sub = on_token(match.group(1), path)
        if isinstance(sub, (dict, list)):
            raise SubstitutionError(path, f"${{{match.group(1)}}} is not a scalar and "
                                          "cannot be part of a string")
        unknown = unknown or isinstance(sub, Unknown)
        parts.append(_text(sub))
        pos = match.end()
    parts.append(value[pos:])
    text = "".join(parts)
    return Unknown(text) if unknown else text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def substitute_values(value: Any, values: dict[str, Any],
                      errors: list[SubstitutionError]) -> Any:
    """Replace `${values.x}`; leave `${ref:...}` as written. Collects every error."""

    def on_token(token: str, path: tuple[str | int, ...]) -> Any:
        if token.startswith("ref:"):
            return "${" + token + "}"
        match = VALUE.match(token)
        if not match:
            errors.append(SubstitutionError(
                path, f"unknown substitution ${{{token}}}: use ${{values.NAME}} "
                      "or ${ref:Kind/name.attr}"))
            return "${" + token + "}"
        found: Any = values
        for part in match.group("key").split("."):
            if not isinstance(found, dict) or part not in found:
                known = ", ".join(sorted(values)) or "none"
                errors.append(SubstitutionError(
                    path, f"${{{token}}} is not defined in stack.yaml values (known: {known})"))
                return "${" + token + "}"
            found = found[part]
        return found

    return _walk(value, (), on_token)


def find_refs(value: Any) -> list[tuple[tuple[str | int, ...], Ref | str]]:
    """Every `${ref:...}` in `value` with its path; a malformed ref is returned as text."""
    found: list[tuple[tuple[str | int, ...], Ref | str]] = []

    def on_token(token: str, path: tuple[str | int, ...]) -> Any:
        if token.startswith("ref:"):
            match = REF.match(token)
            if match:
                found.append((path, Ref(match["kind"], match["name"], match["attr"])))
            else:
                found.append((path, token))
        return ""

    _walk(value, (), on_token)
    return found


def resolve_refs(value: Any, lookup: Callable[[Ref], Any]) -> Any:
    """Replace every `${ref:...}` with `lookup(ref)` (which may return UNKNOWN)."""

    def on_token(token: str, path: tuple[str | int, ...]) -> Any:
        match = REF.match(token)
        assert match, f"unvalidated ref {token}"
        return lookup(Ref(match["kind"], match["name"], match["attr"]))

    return _walk(value, (), on_token)
