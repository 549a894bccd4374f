"""JSON output (DESIGN.md's CLI contract): a document on every exit, never nothing.

A CI job parses stdout whatever happened: the plan, the validation errors, or the
error that stopped the plan.
"""

from __future__ import annotations

import json
from typing import Any

from controller.engine.changeset import ChangeSet
from controller.spec.issues import Issue


def _dump(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, default=str) + "\n"


def as_json(cs: ChangeSet) -> str:
    return _dump(cs.to_json())


def invalid(stack: str | None, issues: list[Issue]) -> str:
    return _dump({"stack": stack, "valid": False, "errors": [
        {"file": i.file, "line": i.line, "id": i.resource, "field": i.field,
         "message": i.message} for i in issues]})


def failed(stack: str | None, message: str) -> str:
    return _dump({"stack": stack, "valid": True, "error": message})
