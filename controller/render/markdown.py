"""A ChangeSet, or why there is none, as markdown for a pull-request comment.

Nothing in it is raw: cells are escaped HTML, and the details sit in a fence no
value can close, so no name, path, value or AWS message can hide a row or add
markup. The details are a ```diff block with the symbol in column 0, so GitHub
colours them: a changed leaf is a `-` line (live) and a `+` line (desired).
"""

from __future__ import annotations

from controller.engine.changeset import Change, ChangeSet
from controller.render.escape import cell, code, fence, printable
from controller.render.text import apply_line, body, header, summary_line, unchanged_with_notes
from controller.spec.issues import Issue

COLUMN0 = {"create": "+", "adopt": "~", "update": "~", "replace": "!", "delete": "-", "error": "!",
           "no-op": " "}
STEP = 4


def _title(stack: str | None, revision: str | None) -> str:
    rev = f" at {code(revision[:12])}" if revision else ""
    return f"### gitops plan: {code(stack or '(unnamed stack)')}{rev}"


def _diff_lines(c: Change) -> list[str]:
    lines = [f"{COLUMN0[c.action]} {c.action} {header(c)}"]
    for line in body(c):
        lead = " " * (2 + STEP * line.depth + line.pad)
        if line.old is not None:  # live, then desired: GitHub colours them red and green
            lines.append(f"-{lead}{printable(line.label)}: {printable(line.old)}")
            lines.append(f"+{lead}{printable(line.label)}: {printable(line.value or '')}")
        else:
            lines.append(f"{line.symbol}{lead}{printable(line.text)}")
    if c.reason:
        lines.append(f"! # {printable(c.reason)}")
    if c.error:
        lines.append(f"! error: {printable(c.error)}")
    return lines


def markdown(cs: ChangeSet) -> str:
    summary = apply_line(cs) if cs.applied else summary_line(cs)
    out = [_title(cs.stack, cs.revision), "", f"**{cell(summary)}**", ""]
    shown = [c for c in cs.changes if c.action != "no-op" or c.result in ("error", "skipped")]
    if shown:
        out += ["| | resource | what changes |", "|---|---|---|"]
        for c in shown:
            paths = ", ".join(code(f.path.removeprefix("spec.")) for f in c.fields[:6])
            if len(c.fields) > 6:
                paths += f" and {len(c.fields) - 6} more"
            note = f"{cell(c.note)}: " if c.note else ""
            note += paths
            note += f" — {cell(c.reason)}" if c.reason else ""
            note += f" — error: {cell(c.error)}" if c.error else ""
            out.append(f"| {code(COLUMN0[c.action].strip() or '=')} {c.action} | "
                       f"{code(c.id)} | {note} |")
        details = [line for c in shown for line in [*_diff_lines(c), ""]][:-1]
        out += ["", f"<details><summary>{cell(summary)}</summary>", "",
                fence(details) + "diff", *details, fence(details), "", "</details>"]
    for c in unchanged_with_notes(cs):
        out.append(f"> **Note** {code(c.id)}: {cell(c.note or '')}")
    for w in cs.warnings:
        out.append(f"> **Warning** {code(w.id)}: {cell(w.message)}")
    out.append(f"\n<sub>{cs.api_calls} AWS API calls, {cs.duration_seconds:.2f} s</sub>")
    return "\n".join(out) + "\n"


def invalid(stack: str | None, issues: list[Issue]) -> str:
    """Why nothing was planned: every error, as a table a reviewer can act on."""
    out = [_title(stack, None), "",
           f"**The desired state is invalid: {len(issues)} error(s). Nothing was read from "
           "or written to AWS.**", "", "| where | resource | field | error |",
           "|---|---|---|---|"]
    for issue in issues:
        where = f"{issue.file}:{issue.line}" if issue.line else issue.file
        out.append(f"| {code(where)} | {code(issue.resource) if issue.resource else ''} | "
                   f"{code(issue.field) if issue.field else ''} | {cell(issue.message)} |")
    return "\n".join(out) + "\n"


def failed(stack: str | None, message: str) -> str:
    """A plan that could not be made (the account guard, git): said, not silent."""
    return f"{_title(stack, None)}\n\n**No plan: {cell(message)}**\n"
