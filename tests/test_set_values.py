"""`gitops set STACK NAME=VALUE...`: the one-line change a CI job makes to deploy an image.

What a reviewer of that pull request must see is the changed value and nothing else,
so the tests compare whole files: every other byte (comments, quotes, order, blank
lines, line endings) is the same, and a refused edit leaves the file byte-identical.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.spec.setvalues import SetError, edit_values
from tests.stacks import REPO, copy_desired

STACK = Path("desired/prod/stack.yaml")


@pytest.fixture
def desired(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shipped desired/ (prod includes ../base), and the working directory
    its parent, so that messages name desired/prod/stack.yaml as a user in a clone sees."""
    copy_desired(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines removed, lines added) from `before` to `after`."""
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return ([line[2:] for line in diff if line.startswith("- ")],
            [line[2:] for line in diff if line.startswith("+ ")])


def test_setting_the_image_tag_changes_exactly_its_line(desired: Path, gitops: Any) -> None:
    before = STACK.read_text()
    result = gitops("set", "desired/prod", "api_image_tag=1.4.3")
    assert result.code == 0, result.err
    assert result.out == "desired/prod/stack.yaml: api_image_tag 1.4.2 -> 1.4.3\n"
    assert changed_lines(before, STACK.read_text()) == (['  api_image_tag: "1.4.2"'],
                                                        ['  api_image_tag: "1.4.3"'])
    assert sorted(os.listdir(STACK.parent)) == ["egress.yaml", "stack.yaml"]  # no temporary
    assert gitops("validate", "desired/prod").code == 0


def test_several_values_change_together(desired: Path, gitops: Any) -> None:
    before = STACK.read_text()
    result = gitops("set", "desired/prod", "api_image_tag=abc123", "frontend_image_tag=abc123",
                    "api_max_tasks=16")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "desired/prod/stack.yaml: api_image_tag 1.4.2 -> abc123",
        "desired/prod/stack.yaml: frontend_image_tag 1.4.2 -> abc123",
        "desired/prod/stack.yaml: api_max_tasks 12 -> 16"]
    assert changed_lines(before, STACK.read_text()) == (
        ['  api_image_tag: "1.4.2"', '  frontend_image_tag: "1.4.2"',
         "  api_max_tasks: 12  # autoscaling keeps the api between the two"],
        ['  api_image_tag: "abc123"', '  frontend_image_tag: "abc123"',
         "  api_max_tasks: 16  # autoscaling keeps the api between the two"])


def test_the_same_value_again_is_unchanged_and_the_file_untouched(desired: Path,
                                                                  gitops: Any) -> None:
    before = STACK.stat()
    result = gitops("set", "desired/prod", "api_image_tag=1.4.2", "api_task_count=4")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "desired/prod/stack.yaml: api_image_tag unchanged (1.4.2)",
        "desired/prod/stack.yaml: api_task_count unchanged (4)"]
    after = STACK.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_an_unknown_name_suggests_the_closest_and_writes_nothing(desired: Path,
                                                                 gitops: Any) -> None:
    before = STACK.read_bytes()
    result = gitops("set", "desired/prod", "api_image_tag=1.4.3", "api_imge_tag=1.4.3")
    assert result.code == 1
    assert result.err == ("error: desired/prod/stack.yaml: no value named 'api_imge_tag' in "
                          "values: did you mean api_image_tag?\n")
    assert result.out == ""
    assert STACK.read_bytes() == before  # the valid one of the two was not written either


def test_a_value_that_makes_the_stack_invalid_is_not_written(desired: Path,
                                                             gitops: Any) -> None:
    before = STACK.read_bytes()
    listing = sorted(os.listdir(STACK.parent))
    result = gitops("set", "desired/prod", "api_image_tag=1.4.3", "api_task_count=20")
    assert result.code == 1
    # The same error `gitops validate` would print for the edited file...
    assert ("desired/base/autoscaling.yaml:14: applicationautoscaling.ScalableTarget/"
            "iq-theory-api: spec.maxCapacity: maxCapacity 12 is below minCapacity 20"
            in result.err)
    assert ("1 error(s) with the new values: nothing was written to "
            "desired/prod/stack.yaml." in result.err)
    # ...and the file, and its folder, exactly as they were: no temporary file left.
    assert STACK.read_bytes() == before
    assert sorted(os.listdir(STACK.parent)) == listing


def test_a_string_value_stays_a_string(desired: Path, gitops: Any) -> None:
    """A tag of digits and dots is a number to YAML: 1.10 would deploy image 1.1."""
    result = gitops("set", "desired/prod", "az_a=1.10", "api_cpu=1024", "api_memory=2048")
    assert result.code == 0, result.err
    text = STACK.read_text()
    assert '  az_a: "1.10"\n' in text and '  api_cpu: "1024"\n' in text
    assert yaml.safe_load(text)["values"]["az_a"] == "1.10"


def test_a_number_takes_only_a_number(desired: Path, gitops: Any) -> None:
    before = STACK.read_bytes()
    result = gitops("set", "desired/prod", "api_task_count=four")
    assert result.code == 1
    assert result.err == ("error: desired/prod/stack.yaml:13: api_task_count is a whole number "
                          "(4): 'four' is not; a value keeps its type\n")
    assert STACK.read_bytes() == before


def test_an_argument_without_equals_is_an_error(desired: Path, gitops: Any) -> None:
    result = gitops("set", "desired/prod", "api_image_tag")
    assert result.code == 1
    assert "'api_image_tag': expected NAME=VALUE, e.g. api_image_tag=1.4.3" in result.err


def test_a_missing_stack_names_the_file(desired: Path, gitops: Any) -> None:
    result = gitops("set", "desired/prd", "api_image_tag=1.4.3")
    assert result.code == 1
    assert result.err.startswith("error: desired/prd/stack.yaml: no such file")


def test_exit_codes_of_the_command(desired: Path) -> None:
    """As a CI job runs it: a real process, its exit code and its one line."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "controller", "set", *args],
                              capture_output=True, text=True, env=env, cwd=desired,
                              timeout=60, check=False)

    done = run("desired/dev", "api_image_tag=0a1b2c3", "frontend_image_tag=0a1b2c3")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == \
        "desired/dev/stack.yaml: api_image_tag 1.5.0-rc.1 -> 0a1b2c3"
    again = run("desired/dev", "api_image_tag=0a1b2c3")
    assert (again.returncode, again.stdout) == (
        0, "desired/dev/stack.yaml: api_image_tag unchanged (0a1b2c3)\n")
    wrong = run("desired/dev", "api_image=0a1b2c3")
    assert wrong.returncode == 1
    assert "did you mean api_image_tag?" in wrong.stderr


# ---- the text kept: edit_values on files written every way YAML allows ----------------

def edited(text: str, **values: str) -> str:
    return edit_values(textwrap.dedent(text), values, "stack.yaml").text


def test_quotes_comments_and_blank_lines_are_kept() -> None:
    before = textwrap.dedent("""\
        # a stack
        name: s
        values:
          single: '1.4.2'   # single-quoted
          double: "1.4.2"  # double-quoted

          plain: 1.4.2 # plain
          count: 3
          ratio: 0.5
          flag: false
          empty:
          blank: ""
        """)
    after = edited(before, single="it's", double='say "hi"', plain="1.4.3", count="5",
                   ratio="1", flag="true", empty="x", blank="null")
    assert after == textwrap.dedent("""\
        # a stack
        name: s
        values:
          single: 'it''s'   # single-quoted
          double: "say \\"hi\\""  # double-quoted

          plain: 1.4.3 # plain
          count: 5
          ratio: 1
          flag: true
          empty: x
          blank: "null"
        """)
    assert yaml.safe_load(after)["values"] == {
        "single": "it's", "double": 'say "hi"', "plain": "1.4.3", "count": 5, "ratio": 1,
        "flag": True, "empty": "x", "blank": "null"}


@pytest.mark.parametrize("value", ["1.10", "true", "null", "", "~", "012", "a # b", "- x",
                                   "{x}", "x: y", " padded ", "*star", "&amp", "!bang"])
def test_a_plain_string_is_quoted_when_yaml_would_read_it_otherwise(value: str) -> None:
    after = edited("values:\n  tag: v1  # the tag\n", tag=value)
    assert yaml.safe_load(after)["values"]["tag"] == value
    assert after.endswith("  # the tag\n")


def test_a_flow_mapping_of_values_is_edited_in_place() -> None:
    after = edited("values: {a: 1, b: x}  # flow\n", b="y,z")
    assert after == 'values: {a: 1, b: "y,z"}  # flow\n'


def test_windows_line_endings_are_kept() -> None:
    after = edit_values("name: s\r\nvalues:\r\n  tag: \"1\"\r\n  n: 2\r\n", {"tag": "2"},
                        "stack.yaml").text
    assert after == "name: s\r\nvalues:\r\n  tag: \"2\"\r\n  n: 2\r\n"


@pytest.mark.parametrize(("text", "message"), [
    ("values:\n  a: &x 1\n  b: *x\n", "stack.yaml:3: b is an alias (*name) of another value"),
    ("values:\n  a: &x 1\n  b: *x\n", "stack.yaml:2: a has an anchor (&name) or a tag"),
    ("values:\n  a: !!str 1\n", "stack.yaml:2: a has an anchor (&name) or a tag (!tag)"),
    ("values:\n  a: |\n    text\n", "stack.yaml:2: a spans several lines"),
    ("values:\n  a: [1, 2]\n", "stack.yaml:2: a is a list: gitops set sets one-line values"),
    ("name: s\n", "stack.yaml: there is no `values:` mapping"),
    ("values:\n  a: 1\n  a: 2\n", "duplicate key 'a'"),
])
def test_what_set_does_not_edit_is_refused_with_where(text: str, message: str) -> None:
    name = "b" if "b is an alias" in message else "a"
    with pytest.raises(SetError) as refused:
        edit_values(text, {name: "3"}, "stack.yaml")
    assert message in str(refused.value)
