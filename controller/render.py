"""Render a ChangeSet as Terraform-like text, as JSON, or as markdown for a PR comment."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from controller.engine.changeset import Change, ChangeSet

# Characters that would let text rewrite the lines around it: controls (newline, escape
# sequences), Unicode line separators, zero-width and bidirectional overrides.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """`text` with every unprintable character written as a `\\uXXXX` escape: one line, as
    it is. Everything the text output shows passes here: paths and values may come from a
    hostile commit or from tags set by hand in AWS."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def cell(text: str) -> str:
    """Text for a markdown table cell: printable, HTML-escaped, `|` kept inside the cell."""
    return html.escape(printable(text)).replace("|", "&#124;")


def code(text: str) -> str:
    """Inline code in a markdown cell; `<code>` rather than backticks, which text could close."""
    return f"<code>{cell(text)}</code>"


def fence(lines: list[str]) -> str:
    """A code fence longer than any run of backticks in `lines`, so none can close it."""
    longest = max((len(run) for line in lines for run in re.findall("`+", line)), default=0)
    return "`" * max(3, longest + 1)

SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "error": "!",
           "no-op": " "}


def value_text(value: Any) -> str:
    """A value as JSON: quoted, and with every control character escaped."""
    if isinstance(value, str):
        return printable(json.dumps(value))
    return printable(json.dumps(value, sort_keys=True, separators=(", ", ": "), default=str))


def summary_line(cs: ChangeSet) -> str:
    s = cs.summary()
    if not cs.has_changes and not cs.failed:
        return f"No changes. {s['no-op']} resources in sync with the desired state."
    line = (f"Plan: {s['create']} to create, {s['update']} to update, {s['replace']} to "
            f"replace, {s['delete']} to delete, {s['no-op']} unchanged.")
    if s["error"]:
        line += f" {s['error']} could not be read."
    if cs.refused:
        line += f" {len(cs.refused)} refused: nothing will be applied."
    held = sum(1 for c in cs.changes if c.held)
    if held:
        line += f" {held} held: apply leaves them alone (see the reasons)."
    return line


def _change_lines(c: Change) -> list[str]:
    head = f"  {SYMBOLS[c.action]} {printable(c.id)}"
    if c.result:
        head += f"  [{c.result}]"
    elif c.held:  # a plan shows what apply will leave alone, before it runs
        head += "  [held]"
    lines = [head]
    for f in c.fields:
        path = printable(f.path)
        if c.action == "create":
            lines.append(f"      {path}: {value_text(f.desired)}")
        else:
            lines.append(f"      {path}: {value_text(f.live)} -> {value_text(f.desired)}")
    if c.reason:
        lines.append(f"      # {printable(c.reason)}")
    if c.error:
        lines.append(f"      ! error: {printable(c.error)}")
    return lines


def text(cs: ChangeSet) -> str:
    rev = f" at revision {cs.revision}" if cs.revision else ""
    out = [f"Stack {cs.stack}{rev}", ""]
    shown = [c for c in cs.changes if c.action != "no-op" or c.result in ("error", "skipped")]
    for c in shown:
        out.extend(_change_lines(c))
        out.append("")
    for w in cs.warnings:
        out.append(f"Warning: {printable(w.id)}: {printable(w.message)}")
    if cs.applied:
        ok = sum(1 for c in cs.changes if c.result == "success")
        bad = len([c for c in cs.changes if c.result in ("error", "skipped")])
        held = sum(1 for c in cs.changes if c.result == "held")
        out.append(f"Apply complete: {ok} changed, {bad} failed or skipped"
                   + (f", {held} held." if held else "."))
    else:
        out.append(summary_line(cs))
    out.append(f"({cs.api_calls} AWS API calls, {cs.duration_seconds:.2f} s)")
    return "\n".join(out) + "\n"


def as_json(cs: ChangeSet) -> str:
    return json.dumps(cs.to_json(), indent=2, sort_keys=False) + "\n"


def markdown(cs: ChangeSet) -> str:
    """The plan for a pull-request comment. Nothing in it is raw: cells are escaped HTML,
    and the details sit in a fence no value can close, so no name, path, value or AWS
    message can hide a row or add markup."""
    rev = f" at <code>{cell(cs.revision[:12])}</code>" if cs.revision else ""
    out = [f"### gitops plan: {code(cs.stack)}{rev}", "", f"**{cell(summary_line(cs))}**", ""]
    shown = [c for c in cs.changes if c.action != "no-op"]
    if shown:
        out += ["| | resource | fields |", "|---|---|---|"]
        for c in shown:
            paths = ", ".join(code(f.path) for f in c.fields[:6])
            if len(c.fields) > 6:
                paths += f" and {len(c.fields) - 6} more"
            note = f" — {cell(c.reason)}" if c.reason else ""
            note += f" — error: {cell(c.error)}" if c.error else ""
            out.append(f"| {code(SYMBOLS[c.action].strip() or '=')} {c.action} | {code(c.id)} | "
                       f"{paths}{note} |")
        details = [line for c in shown for line in _change_lines(c)]
        out += ["", "<details><summary>Details</summary>", "", fence(details) + "diff"]
        out += details
        out += [fence(details), "", "</details>"]
    for w in cs.warnings:
        out.append(f"> **Warning** {code(w.id)}: {cell(w.message)}")
    out.append(f"\n<sub>{cs.api_calls} AWS API calls, {cs.duration_seconds:.2f} s</sub>")
    return "\n".join(out) + "\n"
