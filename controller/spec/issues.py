"""Validation issues, each pointing at a file, a line and a field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One validation error: `file:line: Kind/name: spec.field: message`."""

    file: str
    line: int
    message: str
    resource: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        # Line 0: the issue is with the file or folder as a whole.
        parts = [f"{self.file}:{self.line}" if self.line else self.file]
        if self.resource:
            parts.append(self.resource)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


class ValidationFailed(Exception):
    """The desired state has errors; all of them are in `issues`."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, str(i)))
        super().__init__("\n".join(str(i) for i in self.issues))
