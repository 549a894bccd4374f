"""The one result type of plan and apply, which the CLI, logs and metrics all render."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.engine.diff import FieldChange

Action = Literal["create", "adopt", "update", "replace", "delete", "no-op", "error"]
Result = Literal["success", "error", "skipped", "held"]
ACTIONS: tuple[Action, ...] = ("create", "adopt", "update", "replace", "delete", "no-op",
                               "error")


@dataclass
class Change:
    """What plan decided for one resource, and after apply what happened to it.

    `reason` explains a change that is refused (protected), held, or blocked;
    `error` is the AWS or engine error when observing or writing failed; `note` is
    the kind's word on what the change does in AWS ("new revision", "rolling
    deployment: api:1 -> new revision"). `before` and `after` hold the changed
    top-level fields, live and desired (`after` alone, as written, for a create),
    for people to read; `fields` is the flat list machines read.
    """

    kind: str
    name: str
    action: Action
    fields: list[FieldChange] = field(default_factory=list)
    reason: str | None = None
    refused: bool = False
    held: bool = False
    error: str | None = None
    result: Result | None = None
    note: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    # not ready in AWS: "progressing: creating", "failed: rolled back" (the kind's words)
    progress: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def pending(self) -> bool:
        return self.action not in ("no-op", "error")


@dataclass
class Warning:
    id: str
    message: str


@dataclass
class ChangeSet:
    stack: str
    revision: str | None
    changes: list[Change] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    api_calls: int = 0
    duration_seconds: float = 0.0
    applied: bool = False

    def summary(self) -> dict[str, int]:
        counts = Counter(c.action for c in self.changes)
        return {a: counts.get(a, 0) for a in ACTIONS}

    @property
    def refused(self) -> list[Change]:
        return [c for c in self.changes if c.refused]

    @property
    def has_changes(self) -> bool:
        return any(c.pending for c in self.changes)

    @property
    def failed(self) -> list[Change]:
        """Observe errors, refusals, and (after apply) failed or skipped writes."""
        return [c for c in self.changes
                if c.action == "error" or c.refused or c.result in ("error", "skipped")]

    def to_json(self) -> dict[str, Any]:
        """The JSON plan of DESIGN.md's CLI contract."""
        changes = []
        for c in self.changes:
            entry: dict[str, Any] = {
                "id": c.id, "kind": c.kind, "name": c.name, "action": c.action,
                "fields": [{"path": f.path, "live": f.live, "desired": f.desired}
                           for f in c.fields],
            }
            if c.reason:
                entry["reason"] = c.reason
            if c.note:
                entry["note"] = c.note
            if c.progress:
                entry["progress"] = c.progress
            if c.error:
                entry["error"] = c.error
            if c.result:
                entry["result"] = c.result
            changes.append(entry)
        return {
            "stack": self.stack,
            "revision": self.revision,
            "changes": changes,
            "summary": self.summary(),
            "warnings": [{"id": w.id, "message": w.message} for w in self.warnings],
            "stats": {"api_calls": self.api_calls,
                      "duration_seconds": round(self.duration_seconds, 3)},
        }
