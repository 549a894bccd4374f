"""Hostile or broken commits: every read is bounded, confined to the repository, no symlink.

Each case is a reproduction: before, a YAML bomb took 2.25 GB, a symlink to /dev/zero
grew until MemoryError, and includes and symlinks read files from outside the commit.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.resources.registry import REGISTRY
from controller.source import GitSource, load_revision
from controller.spec import limits
from controller.spec.issues import ValidationFailed
from controller.spec.loader import load_stack
from tests.source.repos import Repo
from tests.stacks import write_stack

GROUP = "kind: logs.LogGroup\nname: /app\nspec: {retentionInDays: 7}\n"
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi",
                                                               strict=True))


def errors(folder: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_stack(folder, REGISTRY)
    return [str(i) for i in caught.value.issues]


def only_error(folder: Path) -> str:
    found = errors(folder)
    assert len(found) == 1, found
    return found[0]


# --- size, aliases, depth -------------------------------------------------------------


@pytest.mark.parametrize(("text", "says"), [
    (BOMB, "more than 500,000 YAML values once aliases are expanded"),
    ("a: &a [x, *a]\n", "alias *a refers to a node that contains it"),
    ("a: " + "[" * 100_000, "nested deeper than 64 levels"),
    ("a: &a " + "[" * 40 + "1" + "]" * 40 + "\nb: " + "[" * 30 + "*a" + "]" * 30 + "\n",
     "nested deeper than 64 levels"),
], ids=["alias bomb", "recursive alias", "deep nesting", "deep through an alias"])
def test_yaml_past_a_bound_is_invalid_with_the_reason(tmp_path: Path, text: str,
                                                      says: str) -> None:
    stack = write_stack(tmp_path / "s", GROUP)
    (stack / "hostile.yaml").write_text(text)
    message = only_error(stack)
    assert message.startswith("s/hostile.yaml:") or "hostile.yaml:" in message
    assert f"invalid YAML: {says}" in message


def test_aliases_within_the_bound_are_fine(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", "kind: ecs.Cluster\nname: c\nspec:\n"
                        "  containerInsights: &on enabled\n  tags: {insights: *on}\n")
    assert load_stack(stack, REGISTRY).resources[0].spec == {"containerInsights": "enabled",
                                                   "tags": {"insights": "enabled"}}


def test_the_node_budget_is_one_per_stack(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_YAML_NODES", 40)
    stack = write_stack(tmp_path / "s", GROUP)
    for n in range(4):  # each file alone is within the budget, together they are not
        (stack / f"g{n}.yaml").write_text(GROUP.replace("/app", f"/app{n}"))
    assert any("YAML values once aliases are expanded" in e for e in errors(stack))


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", GROUP)
    line = "#" + "x" * 98 + "\n"
    (stack / "big.yaml").write_text(line * (limits.MAX_FILE_BYTES // len(line) + 1))
    assert only_error(stack).endswith("limit of one file: split it")


def test_a_stack_over_its_total_size_is_invalid(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_STACK_BYTES", 1000)
    stack = write_stack(tmp_path / "s", GROUP)
    for n in range(20):
        (stack / f"g{n:02}.yaml").write_text(GROUP.replace("/app", f"/app{n}"))
    assert "limit of one stack" in " ".join(errors(stack))


def test_too_many_files_is_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_FILES", 3)
    stack = write_stack(tmp_path / "s", GROUP)
    for n in range(4):
        (stack / f"g{n}.yaml").write_text(GROUP.replace("/app", f"/app{n}"))
    assert "more than 3 YAML files" in " ".join(errors(stack))


def test_binary_is_reported_not_parsed(tmp_path: Path) -> None:
    stack = write_stack(tmp_path / "s", GROUP)
    (stack / "image.yaml").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(64))
    assert "not UTF-8 text" in only_error(stack)


# --- nothing is read from outside the repository ----------------------------------------


@pytest.fixture
def work_tree(tmp_path: Path) -> Path:
    """A git work tree holding desired/prod; `outside/` beside it holds a resource."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "planted.yaml").write_text(
        "kind: sqs.Queue\nname: planted-from-outside\nspec: {}\n")
    write_stack(root / "desired" / "prod", GROUP)
    return root


def _include(stack: Path, include: str) -> None:
    text = (stack / "stack.yaml").read_text()
    (stack / "stack.yaml").write_text(text.replace("values:", f"includes: ['{include}']\nvalues:"))


@pytest.mark.parametrize("include", ["../../../outside", "/tmp", "../../.."],
                         ids=["relative, out of the work tree", "absolute", "the root's parent"])
def test_an_include_that_leaves_the_repository_is_refused(work_tree: Path,
                                                          include: str) -> None:
    stack = work_tree / "desired" / "prod"
    _include(stack, include)
    message = only_error(stack)
    assert f"include {include!r} leaves the repository" in message
    assert "stack.yaml:4: includes[0]:" in message


def test_an_include_inside_the_repository_is_read(work_tree: Path) -> None:
    base = work_tree / "desired" / "base"
    base.mkdir()
    (base / "q.yaml").write_text("kind: sqs.Queue\nname: jobs\nspec: {}\n")
    stack = work_tree / "desired" / "prod"
    _include(stack, "../base")
    assert [r.id for r in load_stack(stack, REGISTRY).resources] == ["logs.LogGroup//app",
                                                                     "sqs.Queue/jobs"]


@pytest.mark.parametrize(("link", "target", "says"), [
    ("desired/prod/passwd.yaml", "/etc/passwd", "desired/prod/passwd.yaml: a symlink"),
    ("desired/prod/zero.yaml", "/dev/zero", "desired/prod/zero.yaml: a symlink"),
    ("desired/base", "/etc", "desired/base: a symlink"),
], ids=["to /etc/passwd", "to /dev/zero", "an included folder"])
def test_symlinks_are_never_followed(work_tree: Path, monkeypatch: pytest.MonkeyPatch,
                                     link: str, target: str, says: str) -> None:
    monkeypatch.chdir(work_tree)
    (work_tree / link).symlink_to(target)
    stack = work_tree / "desired" / "prod"
    if link == "desired/base":
        _include(stack, "../base")
    message = only_error(stack)
    assert message.startswith(says) and "never followed" in message


def test_a_stack_folder_that_is_a_symlink_is_refused(work_tree: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(work_tree)
    (work_tree / "desired" / "staging").symlink_to(work_tree.parent / "outside")
    assert "desired/staging: a symlink" in only_error(Path("desired/staging"))


# --- the same from a commit's objects ------------------------------------------------------


def _committed(tmp_path: Path, files: dict[str, str], links: dict[str, str]) -> GitSource:
    repo = Repo(tmp_path / "origin")
    for name, target in links.items():
        (repo.path / name).parent.mkdir(parents=True, exist_ok=True)
        (repo.path / name).symlink_to(target)
    repo.commit("hostile", files)
    source = GitSource(repo.url, cache_dir=tmp_path / "cache")
    return source


def _revision_errors(source: GitSource) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_revision(source, source.fetch(), "desired/prod", REGISTRY)
    return [str(i) for i in caught.value.issues]


STACK_YAML = 'name: s\nregion: us-east-1\naccount: "111111111111"\n'


def test_a_commit_symlink_is_reported_and_not_read(tmp_path: Path) -> None:
    source = _committed(tmp_path, {"desired/prod/stack.yaml": STACK_YAML},
                        {"desired/prod/passwd.yaml": "/etc/passwd",
                         "desired/prod/up.yaml": "../../../../outside.yaml"})
    found = _revision_errors(source)
    assert found == ["desired/prod/passwd.yaml: a symlink, which is never followed: commit the "
                     "file itself", "desired/prod/up.yaml: a symlink, which is never followed: "
                     "commit the file itself"]


def test_a_commit_include_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    source = _committed(tmp_path, {"desired/prod/stack.yaml":
                                   STACK_YAML + "includes: ['../../..']\n"}, {})
    assert _revision_errors(source) == [
        "desired/prod/stack.yaml:4: includes[0]: include '../../..' leaves the repository: "
        "includes are folders inside it, relative to stack.yaml (e.g. ../base)"]


def test_a_commit_file_over_the_limit_is_refused_from_its_size(tmp_path: Path) -> None:
    big = GROUP + "#" * (limits.MAX_FILE_BYTES + 10) + "\n"
    source = _committed(tmp_path, {"desired/prod/stack.yaml": STACK_YAML,
                                   "desired/prod/big.yaml": big,
                                   "assets/blob.bin": "x" * 3_000_000}, {})
    found = _revision_errors(source)
    assert len(found) == 1 and found[0].startswith("desired/prod/big.yaml: 1 MiB")
    assert found[0].endswith("over the 1 MiB limit of one file: split it")
