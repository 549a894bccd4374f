"""Escaping for every output: nothing printed can rewrite the lines around it.

Paths and values may come from a hostile commit or from tags set by hand in AWS;
AWS's own messages may echo them. Text output writes unprintable characters as
`\\uXXXX`; markdown writes cells as escaped HTML and code in a fence no value can
close.
"""

from __future__ import annotations

import html
import re

# Controls (newline, escape sequences), Unicode line separators, zero-width and
# bidirectional overrides.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def printable(text: str) -> str:
    """`text` on one line, as it is, with every unprintable character escaped."""
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
