"""Substitution is one pass: a value's text is never expanded again, `$${` is a literal `${`.

Before, a value holding `${values.other}` passed validation and then crashed every
run (an AssertionError in ref resolution): the revision in force could not be applied.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from controller.engine.observe import build_nodes, resolve
from controller.resources.registry import REGISTRY
from controller.spec.issues import ValidationFailed
from controller.spec.loader import load_stack
from controller.spec.substitution import SubstitutionError, resolve_refs, substitute_values
from tests.stacks import write_stack


def resolved(folder: Path) -> dict[str, dict[str, Any]]:
    """Every resource's spec as the engine resolves it (refs of resources not yet created
    read as unknown)."""
    stack = load_stack(folder, REGISTRY)
    nodes = build_nodes(stack.resources, REGISTRY)
    return {rid: resolve(node, nodes, stack.name).spec for rid, node in nodes.items()}


def test_a_value_holding_a_substitution_stays_text(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", """
        kind: logs.LogGroup
        name: /app
        spec:
          tags:
            note: ${values.note}
            ref: ${values.ref}
            inside: "<${values.note}>"
    """, values='note: "${values.other}"\nref: "${ref:logs.LogGroup//app.arn}"\nother: x')
    tags = resolved(stack)["logs.LogGroup//app"]["tags"]
    assert tags == {"note": "${values.other}", "ref": "${ref:logs.LogGroup//app.arn}",
                    "inside": "<${values.other}>"}
    assert load_stack(stack, REGISTRY).resources[0].depends_on == set()  # no ref, no edge, no cycle


def test_dollar_dollar_brace_writes_a_literal(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", """
        kind: iam.Role
        name: app
        spec:
          assumeRolePolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Principal: {AWS: "arn:aws:iam::111111111111:root"}
                Action: sts:AssumeRole
                Condition: {StringEquals: {"aws:username": "$${aws:username}"}}
          description: "costs $5, shell $HOME, $$ stays"
    """)
    spec = resolved(stack)["iam.Role/app"]
    statement = spec["assumeRolePolicyDocument"]["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"aws:username": ["${aws:username}"]}}
    assert spec["description"] == "costs $5, shell $HOME, $$ stays"


@pytest.mark.parametrize(("value", "says"), [
    ("${aws:username}", "unknown substitution ${aws:username}"),
    ("prefix ${values.x", "unclosed ${: write $${ for a literal ${"),
])
def test_a_bad_substitution_says_how_to_write_a_literal(tmp_path: Path, value: str,
                                                       says: str) -> None:
    stack = write_stack(tmp_path / "s", f"kind: logs.LogGroup\nname: /a\nspec:\n"
                        f"  tags: {{t: '{value}'}}\n")
    with pytest.raises(ValidationFailed) as caught:
        load_stack(stack, REGISTRY)
    (issue,) = caught.value.issues
    assert says in issue.message and "$${" in issue.message
    assert (issue.line, issue.field) == (4, "spec.tags.t")


def test_a_dollar_next_to_a_substitution_cannot_make_one() -> None:
    errors: list[SubstitutionError] = []
    template = substitute_values({"a": "${values.d}{values.x}"}, {"d": "$", "x": 1}, errors)
    assert errors == []
    assert resolve_refs(template, lambda ref: "ARN") == {"a": "${values.x}"}


def test_a_whole_value_keeps_its_type_and_is_never_expanded() -> None:
    errors: list[SubstitutionError] = []
    template = substitute_values({"n": "${values.n}", "m": "${values.m}"},
                                 {"n": 4, "m": {"k": "${ref:x.Y/z.arn}"}}, errors)
    assert resolve_refs(template, lambda ref: "ARN") == {"n": 4, "m": {"k": "${ref:x.Y/z.arn}"}}
