"""Validation issues, each pointing at a file, a line and a field, root causes first."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum


class Rank(IntEnum):
    """What an issue is about, in the order a user should fix them.

    A file that does not parse hides the resources it defines, so the refs to
    them dangle: the unreadable file is the root cause and is listed first; a
    resource's own errors come next, and what spans resources (refs, cycles, a
    kind's checks against the rest of the stack) last.
    """

    FILES = 0  # a file or folder not read: unreadable, too big, a symlink, YAML syntax, stack.yaml
    RESOURCE = 1  # one resource's envelope or spec
    STACK = 2  # across resources: refs, cycles, a kind's lint


@dataclass(frozen=True)
class Issue:
    """One validation error: `file:line: Kind/name: spec.field: message`."""

    file: str
    line: int
    message: str
    resource: str | None = None
    field: str | None = None
    # Orders the report only: what users read is the five fields above.
    rank: Rank = dataclasses.field(default=Rank.RESOURCE, compare=False)

    def __str__(self) -> str:
        # Line 0: the issue is with the file or folder as a whole.
        parts = [f"{self.file}:{self.line}" if self.line else self.file]
        if self.resource:
            parts.append(self.resource)
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)


def printable(text: str) -> str:
    """`text` as a message may quote it: unchanged when every character prints, else
    quoted with its escapes (a newline as \\n, ESC as \\x1b), so that text from a file
    never breaks an issue's one line or reaches a terminal as a control sequence."""
    return text if text.isprintable() else repr(text)


def sort_key(issue: Issue) -> tuple[int, str, int, str]:
    """Root causes first (`Rank`), then by file and line."""
    return (issue.rank, issue.file, issue.line, str(issue))


class ValidationFailed(Exception):
    """The desired state has errors; all of them are in `issues`, root causes first.

    `stack` is the stack's name once its stack.yaml validated (None before), so a
    machine-readable report of an invalid stack can still say which stack it is.
    """

    def __init__(self, issues: list[Issue], stack: str | None = None) -> None:
        self.issues = sorted(issues, key=sort_key)
        self.stack = stack
        super().__init__("\n".join(str(i) for i in self.issues))
