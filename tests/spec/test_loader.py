"""Validation: every error at once, as file:line: Kind/name: field: message, no AWS call."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.stacks import write_stack

GOOD = """
kind: logs.LogGroup
name: app
spec:
  retentionInDays: ${values.retention}
"""

CASES = [
    ("unknown kind", "kind: ec2.Banana\nname: b\nspec: {}\n",
     "resources.yaml:1: ec2.Banana/b: unknown kind 'ec2.Banana'"),
    ("unknown field", "kind: logs.LogGroup\nname: a\nspec:\n  retention: 3\n",
     "resources.yaml:4: logs.LogGroup/a: spec.retention: unknown field"),
    ("wrong type", "kind: logs.LogGroup\nname: a\nspec:\n  retentionInDays: many\n",
     "resources.yaml:4: logs.LogGroup/a: spec.retentionInDays: Input should be a valid integer"),
    ("unknown value", "kind: logs.LogGroup\nname: a\nspec:\n  retentionInDays: ${values.nope}\n",
     "resources.yaml:4: logs.LogGroup/a: spec.retentionInDays: ${values.nope} is not defined"),
    ("duplicate name", GOOD + "---\n" + GOOD,
     "resources.yaml:7: logs.LogGroup/app: duplicate name: already defined at"),
    ("dangling ref",
     "kind: logs.LogGroup\nname: a\nspec:\n  kmsKeyId: ${ref:logs.LogGroup/b.arn}\n",
     "resources.yaml:4: logs.LogGroup/a: spec.kmsKeyId: ref to logs.LogGroup/b, which is not in"),
    ("unknown attribute", GOOD + "---\nkind: logs.LogGroup\nname: b\nspec:\n"
     "  kmsKeyId: ${ref:logs.LogGroup/app.uri}\n",
     "resources.yaml:9: logs.LogGroup/b: spec.kmsKeyId: logs.LogGroup has no attribute 'uri'"),
    ("cycle", "kind: logs.LogGroup\nname: a\nspec:\n  kmsKeyId: ${ref:logs.LogGroup/b.arn}\n---\n"
     "kind: logs.LogGroup\nname: b\nspec:\n  kmsKeyId: ${ref:logs.LogGroup/a.arn}\n",
     "logs.LogGroup/a: reference cycle: logs.LogGroup/a -> logs.LogGroup/b -> logs.LogGroup/a"),
    ("invalid yaml", "kind: logs.LogGroup\nname: [a\n", "resources.yaml:3: invalid YAML"),
    ("bad policy", "kind: logs.LogGroup\nname: a\nspec: {}\npolicy:\n  drift: maybe\n",
     "resources.yaml:5: logs.LogGroup/a: policy.drift: Input should be 'correct' or 'report'"),
    ("envelope", "kind: logs.LogGroup\nname: a\nspec: {}\nspecs: {}\n",
     "resources.yaml:4: logs.LogGroup/a: specs: unknown top-level field: did you mean spec?"),
]


@pytest.mark.parametrize(("case", "docs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_invalid_stack_exit_1_names_file_and_line_and_calls_no_aws(
        tmp_path: Path, gitops, recorder, case: str, docs: str, expected: str) -> None:
    stack = write_stack(tmp_path / "s", docs)
    for command in ("validate", "plan", "apply"):
        result = gitops(command, stack, "--auto-approve") if command == "apply" \
            else gitops(command, stack)
        assert result.code == 1, (command, result.err)
        assert expected in result.err, result.err
        assert result.out == ""
    assert recorder.calls == []


def test_every_error_is_reported_at_once(tmp_path: Path, gitops) -> None:
    docs = "\n---\n".join(c[1].strip() for c in CASES[:4]) + "\n"
    stack = write_stack(tmp_path / "s", docs)
    result = gitops("validate", stack)
    assert result.code == 1
    assert "4 error(s)" in result.err
    for _, _, expected in CASES[:4]:
        assert expected.split(": ", 1)[1] in result.err


def test_stack_yaml_errors_name_the_field(tmp_path: Path, gitops) -> None:
    stack = write_stack(tmp_path / "s", GOOD)
    (stack / "stack.yaml").write_text("name: t\nregion: us-east-1\naccount: \"12\"\n")
    result = gitops("validate", stack)
    assert result.code == 1
    assert "stack.yaml:3: account: String should match pattern" in result.err


def test_typed_value_substitution_and_interpolation(tmp_path: Path) -> None:
    from controller.resources.registry import REGISTRY
    from controller.spec.loader import load_stack

    stack = write_stack(tmp_path / "s", GOOD + "---\nkind: logs.LogGroup\nname: b\nspec:\n"
                        "  kmsKeyId: key-${values.retention}-${ref:logs.LogGroup/app.arn}\n")
    loaded = load_stack(stack, REGISTRY)
    app, b = loaded.resources
    assert app.spec == {"retentionInDays": 30}
    assert b.spec == {"kmsKeyId": "key-30-${ref:logs.LogGroup/app.arn}"}
    assert b.depends_on == {"logs.LogGroup/app"}


def test_usage_error_exits_1_not_2(gitops) -> None:
    assert gitops("plan", "--output", "yaml").code == 1
    assert gitops("frobnicate").code == 1


def test_schema_lists_every_kind_and_its_attributes(gitops) -> None:
    import json

    result = gitops("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    kinds = {v["properties"]["kind"]["const"] for v in schema["oneOf"]}
    from controller.resources.registry import REGISTRY

    assert kinds == set(REGISTRY)
    assert schema["$defs"]["logs.LogGroup"]["x-attributes"] == ["arn", "name"]


def test_a_ref_to_an_invalid_resource_reports_only_the_invalid_field(tmp_path: Path,
                                                                     gitops) -> None:
    stack = write_stack(tmp_path / "s", "kind: logs.LogGroup\nname: a\nspec:\n"
                        "  retentionInDays: soon\n---\nkind: logs.LogGroup\nname: b\nspec:\n"
                        "  kmsKeyId: ${ref:logs.LogGroup/a.arn}\n")
    result = gitops("validate", stack)
    assert result.code == 1
    assert "1 error(s)" in result.err
    assert "resources.yaml:4: logs.LogGroup/a: spec.retentionInDays" in result.err
