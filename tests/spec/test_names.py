"""Names follow each kind's AWS rules; tags never claim the controller's own keys; and
nothing the plan prints can hide a row or add markup.

Before, a name holding a newline and `<!--` hid every later row of the markdown plan in
a pull request (a refused replace included), and a `gitops:` tag in a spec made a diff
that never ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import render
from controller.engine.changeset import Change, ChangeSet
from controller.engine.diff import FieldChange
from controller.resources.registry import REGISTRY
from controller.spec.issues import ValidationFailed
from controller.spec.loader import load_stack
from tests.stacks import DESIRED, write_stack

HOSTILE = "innocent\n<!-- hidden"

INVALID = [
    ("sqs.Queue", HOSTILE),
    ("sqs.Queue", "q" * 81),
    ("sqs.Queue", "jobs.fifo.fifo"),
    ("iam.Role", "r" * 65),
    ("iam.Role", "has space"),
    ("ecr.Repository", "Upper-Case"),
    ("ecr.Repository", "x"),
    ("logs.LogGroup", "/ecs/app name"),
    ("secretsmanager.Secret", "db password"),
    ("ecs.Cluster", "iq.theory"),
    ("ecs.Service", "api|frontend"),
    ("ecs.TaskDefinition", "api:1"),
    ("ec2.Vpc", "vpc`rm -rf`"),
    ("ec2.SecurityGroup", "sg-1234"),
]


@pytest.mark.parametrize(("kind", "name"), INVALID, ids=[f"{k} {n[:20]!r}" for k, n in INVALID])
def test_a_name_aws_would_refuse_is_a_validation_error(tmp_path: Path, kind: str,
                                                      name: str) -> None:
    quoted = name.replace("\n", "\\n")
    stack = write_stack(tmp_path / "s", f'kind: {kind}\nname: "{quoted}"\nspec: {{}}\n')
    with pytest.raises(ValidationFailed) as caught:
        load_stack(stack, REGISTRY)
    (issue,) = caught.value.issues
    assert issue.field == "name" and issue.line == 2
    assert "not a valid name for this kind" in issue.message
    assert "\n" not in str(issue) and "<!--" not in (issue.resource or "").replace(
        repr(name), "")


def test_every_name_in_desired_is_valid() -> None:
    for env in ("dev", "prod"):
        for doc in load_stack(DESIRED / env, REGISTRY).resources:
            assert REGISTRY[doc.kind].name_rule.check(doc.name) is None, doc.id


@pytest.mark.parametrize("key", ["gitops:stack", "GITOPS:id", "aws:cloudformation:stack"])
def test_a_reserved_tag_key_is_a_validation_error(tmp_path: Path, key: str) -> None:
    stack = write_stack(tmp_path / "s", f"kind: logs.LogGroup\nname: /a\nspec:\n"
                        f"  tags: {{'{key}': someone-else}}\n")
    with pytest.raises(ValidationFailed) as caught:
        load_stack(stack, REGISTRY)
    (issue,) = caught.value.issues
    assert issue.field == "spec.tags" and f"tag key {key!r} is reserved" in issue.message


# --- what the outputs print is escaped ---------------------------------------------------


def hostile_plan() -> ChangeSet:
    """A plan whose every printed part came from somewhere hostile: a tag key and value set
    by hand in AWS, an AWS error message, a reason."""
    change = Change("sqs.Queue", "jobs", "update", [
        FieldChange("spec.tags.x\n```\n</details><!--", "a|b\n<img src=x>", "ok"),
    ], reason="held: ```\n| fake | row |")
    failed = Change("sqs.Queue", "other", "error", error="Boom\n<!-- ` | --> \x1b[31m")
    refused = Change("iam.Role", "app", "replace", [FieldChange("spec.path", "/", "/x/")],
                     reason="refused: replacing iam.Role/app would delete it", refused=True)
    return ChangeSet("iq-theory-prod", None, [change, failed, refused])


def test_markdown_has_no_raw_markup_from_its_values() -> None:
    out = render.markdown(hostile_plan())
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert len(table) == 4, table  # the header and one row per change: nothing hidden
    assert all(line.count("|") == 4 for line in table), table
    lines = out.splitlines()
    start, end = lines.index("````diff"), len(lines) - lines[::-1].index("````") - 1
    # Inside the fence (longer than any run of backticks in it) nothing is markup...
    assert not [line for line in lines[start + 1:end] if line.lstrip().startswith("````")]
    # ...and outside it nothing is raw.
    outside = "\n".join(lines[:start] + lines[end + 1:])
    assert "<!--" not in outside and "<img" not in outside and "</details><" not in outside
    assert "\x1b" not in out
    assert "refused: replacing iam.Role/app" in outside


def test_text_output_is_one_line_per_field() -> None:
    out = render.text(hostile_plan())
    assert "\x1b" not in out and "<!--" in out  # shown, escaped where it would act
    field_lines = [line for line in out.splitlines() if "tags.x" in line]
    assert len(field_lines) == 1
    assert "\\u000a" in field_lines[0]
