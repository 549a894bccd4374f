"""Render a ChangeSet as Terraform-like text, as JSON, or as markdown for a PR comment."""

from __future__ import annotations

import json
from typing import Any

from controller.engine.changeset import Change, ChangeSet

SYMBOLS = {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "error": "!",
           "no-op": " "}


def value_text(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(", ", ": "))


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
    head = f"  {SYMBOLS[c.action]} {c.id}"
    if c.result:
        head += f"  [{c.result}]"
    elif c.held:  # a plan shows what apply will leave alone, before it runs
        head += "  [held]"
    lines = [head]
    for f in c.fields:
        if c.action == "create":
            lines.append(f"      {f.path}: {value_text(f.desired)}")
        else:
            lines.append(f"      {f.path}: {value_text(f.live)} -> {value_text(f.desired)}")
    if c.reason:
        lines.append(f"      # {c.reason}")
    if c.error:
        lines.append(f"      ! error: {c.error}")
    return lines


def text(cs: ChangeSet) -> str:
    rev = f" at revision {cs.revision}" if cs.revision else ""
    out = [f"Stack {cs.stack}{rev}", ""]
    shown = [c for c in cs.changes if c.action != "no-op" or c.result in ("error", "skipped")]
    for c in shown:
        out.extend(_change_lines(c))
        out.append("")
    for w in cs.warnings:
        out.append(f"Warning: {w.id}: {w.message}")
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
    rev = f" at `{cs.revision[:12]}`" if cs.revision else ""
    out = [f"### gitops plan: `{cs.stack}`{rev}", "", f"**{summary_line(cs)}**", ""]
    shown = [c for c in cs.changes if c.action != "no-op"]
    if shown:
        out += ["| | resource | fields |", "|---|---|---|"]
        for c in shown:
            paths = ", ".join(f"`{f.path}`" for f in c.fields[:6])
            if len(c.fields) > 6:
                paths += f" and {len(c.fields) - 6} more"
            note = f" — {c.reason}" if c.reason else ""
            note += f" — error: {c.error}" if c.error else ""
            out.append(f"| `{SYMBOLS[c.action].strip() or '='}` {c.action} | `{c.id}` | "
                       f"{paths}{note} |")
        out += ["", "<details><summary>Details</summary>", "", "```diff"]
        for c in shown:
            out.extend(_change_lines(c))
        out += ["```", "", "</details>"]
    for w in cs.warnings:
        out.append(f"> **Warning** `{w.id}`: {w.message}")
    out.append(f"\n<sub>{cs.api_calls} AWS API calls, {cs.duration_seconds:.2f} s</sub>")
    return "\n".join(out) + "\n"
