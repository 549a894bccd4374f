"""Everything the CLI prints about a plan: text for people, markdown for pull requests,
JSON for machines. `machine` and `md` (the markdown module) also say why there is no plan:
`invalid(stack, issues)` and `failed(stack, message)`."""

from controller.render import machine
from controller.render import markdown as md
from controller.render.escape import cell, code, fence, printable
from controller.render.machine import as_json
from controller.render.markdown import markdown
from controller.render.text import apply_line, summary_line, text

__all__ = ["apply_line", "as_json", "cell", "code", "fence", "machine", "markdown", "md",
           "printable", "summary_line", "text"]
