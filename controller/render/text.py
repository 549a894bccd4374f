"""A ChangeSet as text, the way `terraform plan` reads, better where it can be.

Each change is a header (`~ ecs.Service/iq-theory-api (rolling deployment: ...)`)
and its body: the leaves that differ, nested as the YAML nests them. Colours
only when asked (a terminal, without NO_COLOR or --no-color): the symbols carry
the meaning without them.
"""

from __future__ import annotations

from collections.abc import Callable

from controller.engine.changeset import Change, ChangeSet
from controller.render.escape import printable
from controller.render.tree import Line, changed, created, value_text

SYMBOLS = {"create": "+", "adopt": "=>", "update": "~", "replace": "-/+", "delete": "-",
           "error": "!",
           "no-op": " "}
WIDTH = 100  # a changed leaf longer than this puts its new value on the next line
BODY_INDENT = 6
STEP = 4
_COLOURS = {"+": "32", "-": "31", "~": "33", "-/+": "35", "!": "31", "=>": "36"}

Paint = Callable[[str], str]


def painter(color: bool) -> Paint:
    """Colours a symbol (ANSI), or leaves it as it is."""
    if not color:
        return lambda symbol: symbol
    return lambda symbol: (f"\x1b[{_COLOURS[symbol]}m{symbol}\x1b[0m"
                           if symbol in _COLOURS else symbol)


def summary_line(cs: ChangeSet) -> str:
    s = cs.summary()
    if not cs.has_changes and not cs.failed:
        return f"No changes. {s['no-op']} resources in sync with the desired state."
    line = (f"Plan: {s['create']} to create, {s['update']} to update, {s['replace']} to "
            f"replace, {s['delete']} to delete, {s['no-op']} unchanged.")
    if s["adopt"]:
        line = line.replace("Plan: ", f"Plan: {s['adopt']} to adopt, ", 1)
    if s["error"]:
        line += f" {s['error']} could not be read."
    if cs.refused:
        line += f" {len(cs.refused)} refused: nothing will be applied."
    held = sum(1 for c in cs.changes if c.held)
    if held:
        line += f" {held} held: apply leaves them alone (see the reasons)."
    return line


def apply_line(cs: ChangeSet) -> str:
    """`Apply complete: ...` or, when anything failed or was skipped, `Apply failed: ...`."""
    done = sum(1 for c in cs.changes if c.result == "success")
    failed = sum(1 for c in cs.changes if c.result == "error")
    skipped = sum(1 for c in cs.changes if c.result == "skipped")
    held = sum(1 for c in cs.changes if c.result == "held")
    if failed or skipped:
        line = f"Apply failed: {done} changed, {failed} failed, {skipped} skipped"
    else:
        line = f"Apply complete: {done} changed"
    return line + (f", {held} held." if held else ".")


def header(c: Change) -> str:
    """`ecs.Service/api (rolling deployment: ...)`, with the apply's result if any."""
    text = printable(c.id)
    if c.note:
        text += f" ({printable(c.note)})"
    if c.result:
        text += f"  [{c.result}]"
    elif c.held:  # a plan shows what apply will leave alone, before it runs
        text += "  [held]"
    if c.progress and not c.held:  # a held change's reason already says it
        text += f"  [{printable(c.progress)}]"
    return text


def body(c: Change) -> list[Line]:
    """What the change does, field by field (flat paths when only those are known)."""
    if c.action == "create" and c.after is not None:
        return created(c.after)
    if c.action in ("update", "replace", "adopt") and c.before is not None \
            and c.after is not None:
        return changed(c.before, c.after)
    if c.action == "delete":
        return []
    return [Line("~", 0, f.path.removeprefix("spec."), value_text(f.desired),
                 value_text(f.live)) for f in c.fields]


def change_lines(c: Change, paint: Paint) -> list[str]:
    lines = [f"  {paint(SYMBOLS[c.action])} {header(c)}"]
    for line in body(c):
        lines.extend(_layout(line, paint))
    pad = " " * BODY_INDENT
    if c.reason:
        lines.append(f"{pad}# {printable(c.reason)}")
    if c.error:
        lines.append(f"{pad}! error: {printable(c.error)}")
    return lines


def _layout(line: Line, paint: Paint) -> list[str]:
    lead = " " * (BODY_INDENT + STEP * line.depth + line.pad)
    symbol = paint(line.symbol) if line.symbol != " " else " "
    first = f"{lead}{symbol} {printable(line.text)}"
    if line.old is None or len(lead) + 2 + len(printable(line.text)) <= WIDTH:
        return [first]
    start = f"{lead}{symbol} {printable(line.label)}: "
    value_column = len(lead) + 2 + len(printable(line.label)) + 2
    return [start + printable(line.old),
            " " * max(value_column - 3, 0) + "-> " + printable(line.value or "")]


def unchanged_with_notes(cs: ChangeSet) -> list[Change]:
    """Resources in sync that still have something to say, e.g. a desiredCount the autoscaler
    owns: one line each, so a reader sees why a live value differs from git, not drift."""
    return [c for c in cs.changes if c.action == "no-op" and c.note and not c.result]


def text(cs: ChangeSet, *, color: bool = False) -> str:
    paint = painter(color)
    rev = f" at revision {cs.revision}" if cs.revision else ""
    out = [f"Stack {cs.stack}{rev}", ""]
    shown = [c for c in cs.changes if c.action != "no-op" or c.result in ("error", "skipped")]
    for c in shown:
        out.extend(change_lines(c, paint))
        out.append("")
    for c in unchanged_with_notes(cs):
        out.append(f"Note: {printable(c.id)}: {printable(c.note or '')}")
    for w in cs.warnings:
        out.append(f"Warning: {printable(w.id)}: {printable(w.message)}")
    out.append(apply_line(cs) if cs.applied else summary_line(cs))
    out.append(f"({cs.api_calls} AWS API calls, {cs.duration_seconds:.2f} s)")
    return "\n".join(out) + "\n"
