"""Field-level diff of managed fields: only what the desired side declares is compared.

Both sides arrive normalised by the driver (sets sorted, JSON parsed, defaults
explicit), so this module stays generic: dicts compare by desired keys, lists
element by element, scalars by equality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.model import ExactMap

_MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    """One differing field: `path` like `spec.containerDefinitions[0].image`."""

    path: str
    live: Any
    desired: Any


def diff_fields(desired: Any, live: Any, path: str = "spec") -> list[FieldChange]:
    """Every managed field where live differs from desired, deepest path first found."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [FieldChange(path, _plain(live), desired)]
        changes: list[FieldChange] = []
        for key, want in desired.items():
            have = live.get(key, _MISSING)
            sub = f"{path}.{key}"
            if have is _MISSING:
                changes.append(FieldChange(sub, None, want))
            else:
                changes.extend(diff_fields(want, have, sub))
        if isinstance(desired, ExactMap):
            changes.extend(FieldChange(f"{path}.{key}", have, None)
                           for key, have in live.items() if key not in desired)
        return changes
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [FieldChange(path, _plain(live), desired)]
        if all(isinstance(d, dict) for d in desired):
            out: list[FieldChange] = []
            for i, (want, have) in enumerate(zip(desired, live, strict=True)):
                out.extend(diff_fields(want, have, f"{path}[{i}]"))
            return out
        if desired != live:
            return [FieldChange(path, live, desired)]
        return []
    if desired != live:
        return [FieldChange(path, _plain(live), desired)]
    return []


def _plain(value: Any) -> Any:
    return None if value is _MISSING else value


def top_level_fields(changes: list[FieldChange]) -> list[str]:
    """`spec.a.b[0]` -> `a`: the unit a driver's update works in."""
    names: list[str] = []
    for change in changes:
        head = change.path.split(".", 2)[1] if change.path.startswith("spec.") else change.path
        head = head.split("[", 1)[0]
        if head not in names:
            names.append(head)
    return names
