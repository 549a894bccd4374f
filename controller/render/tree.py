"""A change of one resource as indented lines: only the leaves that differ, named lists
matched by name.

Pure: (before, after) subtrees in, `Line`s out; text and markdown lay them out.
Why not the diff engine's flat paths (`spec.containerDefinitions[0].image`): people
read a task definition as containers by name, a policy as statements, and a new
resource as the YAML they wrote. So lists of named things (containers, environment
entries, inline policies, statements with a Sid) are matched by that name, other
lists by position or as sets, and nothing a normaliser added (`None` keys of an IAM
statement) is shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from controller.model import Digest, ExactMap, Unknown

# Keys that name an element of a list, in the order they are tried.
IDENTITY_KEYS = ("name", "Sid", "PolicyName", "containerName", "Key", "key")
# A list or map is shown on one line when its JSON is this short.
INLINE_WIDTH = 60

Symbol = str  # "+" added, "-" removed, "~" changed, " " context


@dataclass(frozen=True)
class Line:
    """One line of a change: `symbol`, nesting `depth` below the resource, and its text.

    A changed leaf carries `old` and `new` (already formatted) so a layout can put
    them on one line, wrap them, or (markdown) split them into a - and a + line.
    """

    symbol: Symbol
    depth: int
    label: str
    value: str | None = None
    old: str | None = None
    pad: int = 0  # spaces past the depth's indent: the keys of a list item, under its `- `

    @property
    def text(self) -> str:
        if self.old is not None:
            return f"{self.label}: {self.old} -> {self.value}"
        if self.value is None:
            return f"{self.label}:"
        return f"{self.label}: {self.value}" if self.label else self.value


def value_text(value: Any) -> str:
    """A value as JSON, except that a value known only after apply reads as that phrase,
    unquoted, wherever it is, and a hash (`Digest`) as its first characters."""
    if isinstance(value, Unknown):
        return str(value)
    if isinstance(value, Digest):
        return value.short
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {value_text(v)}"
                               for k, v in value.items() if v is not None) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    return json.dumps(value, default=str)


def shown(value: Any) -> Any:
    """`value` without the keys set to None: a normaliser's explicit absences, which
    nobody wrote (user nulls never get this far: the loader drops them)."""
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


def created(after: dict[str, Any], symbol: Symbol = "+", depth: int = 0) -> list[Line]:
    """Every field of a new (or removed) resource, as the YAML was written."""
    return list(_block(shown(after), symbol, depth))


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[Line]:
    """The leaves that differ between two specs' top-level fields."""
    lines: list[Line] = []
    for key in after:
        lines.extend(_diff(key, before.get(key), after[key], 0))
    return lines


def _diff(label: str, old: Any, new: Any, depth: int) -> list[Line]:
    exact = isinstance(new, ExactMap)  # every key managed (tags): one added by hand shows
    old, new = shown(old), shown(new)
    if old == new:
        return []
    if old is None:
        return _member("+", label, new, depth)
    if new is None:
        return _member("-", label, old, depth)
    if isinstance(old, dict) and isinstance(new, dict):
        # Only what the spec declares is compared: AWS's own keys are no change.
        keys = _keys(old, new) if exact else list(new)
        inner = [line for key in keys
                 for line in _diff(key, old.get(key), new.get(key), depth + 1)]
        return [Line("~", depth, label), *inner]
    if isinstance(old, list) and isinstance(new, list) and not (_inline(old) and _inline(new)):
        return [Line("~", depth, label), *_list_diff(old, new, depth + 1)]
    return [Line("~", depth, label, value_text(new), value_text(old))]


def _keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [*new, *(k for k in old if k not in new)]


def _list_diff(old: list[Any], new: list[Any], depth: int) -> list[Line]:
    identity = _identity(old, new)
    if identity is not None:
        before = {item[identity]: item for item in old}
        after = {item[identity]: item for item in new}
        return [line for name in [*after, *(n for n in before if n not in after)]
                for line in _diff(str(name), before.get(name), after.get(name), depth)]
    if len(old) == len(new) and all(isinstance(i, dict) for i in [*old, *new]):
        return [line for i, (o, n) in enumerate(zip(old, new, strict=True))
                for line in _diff(f"[{i}]", o, n, depth)]
    # A set, as AWS keeps most lists: what left and what came.
    gone = [item for item in old if item not in new]
    came = [item for item in new if item not in old]
    if not gone and not came:  # the same members, another order
        return [Line("~", depth, "order", value_text(new), value_text(old))]
    return [*(line for item in gone for line in _item("-", item, depth)),
            *(line for item in came for line in _item("+", item, depth))]


def _identity(old: list[Any], new: list[Any]) -> str | None:
    """The key that names every element of both lists, uniquely, if there is one."""
    items = [*old, *new]
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    for key in IDENTITY_KEYS:
        if all(isinstance(i.get(key), str | int) for i in items) and \
                len({i[key] for i in old}) == len(old) and len({i[key] for i in new}) == len(new):
            return key
    return None


def _member(symbol: Symbol, label: str, value: Any, depth: int) -> list[Line]:
    if isinstance(value, dict | list) and not _inline(value):
        return [Line(symbol, depth, label), *_block(value, symbol, depth + 1)]
    return [Line(symbol, depth, label, value_text(value))]


def _item(symbol: Symbol, item: Any, depth: int) -> list[Line]:
    """One element of a list, added or removed, as YAML writes it: `- key: ...`."""
    if not (isinstance(item, dict) and item and not _inline(item)):
        return [Line(symbol, depth, "", f"- {value_text(item)}")]
    lines = list(_block(item, symbol, depth))
    out = []
    for n, line in enumerate(lines):
        if line.depth == depth:
            out.append(replace(line, label=("- " if n == 0 else "  ") + line.label))
        else:
            out.append(replace(line, pad=line.pad + 2))
    return out


def _block(value: Any, symbol: Symbol, depth: int) -> Iterator[Line]:
    """A whole value, nested as YAML nests it."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _member(symbol, str(key), item, depth)
        return
    if isinstance(value, list):
        for item in value:
            yield from _item(symbol, item, depth)
        return
    yield Line(symbol, depth, "", value_text(value))


def _inline(value: Any) -> bool:
    """Short flat lists and maps read best on one line."""
    if not isinstance(value, dict | list):
        return True
    members = value.values() if isinstance(value, dict) else value
    if any(isinstance(m, dict | list) for m in members):
        return False
    return len(value_text(value)) <= INLINE_WIDTH
