"""Folders a spec names (a function's code): read whole by the loader, under the same rules
as the YAML (inside the repository, no symlink, sizes and counts bounded), errors at the
YAML line, and a changed file is a changed hash in the plan, and only that.

lambda.Function is the kind that names one (`folders = ("code.path",)`); until the
registry lists it, the tests add it to the kinds they load with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller import render
from controller.aws.gateway import AwsGateway
from controller.engine import holds
from controller.engine.reconcile import apply, plan
from controller.model import Digest, Folder
from controller.resources.lambda_eventsourcemapping import EventSourceMappingDriver
from controller.resources.lambda_function import FunctionDriver, bundle, code_sha256
from controller.resources.registry import REGISTRY
from controller.source import GitSource, load_revision
from controller.spec import limits
from controller.spec.issues import ValidationFailed
from controller.spec.loader import load_stack
from controller.spec.substitution import resolve_refs
from tests.conftest import REGION, AwsEnv
from tests.source.repos import Repo
from tests.stacks import write_stack

KINDS = {**REGISTRY, "lambda.Function": FunctionDriver(),
         "lambda.EventSourceMapping": EventSourceMappingDriver()}
HANDLER = b"def handler(event, context):\n    return {'batchItemFailures': []}\n"
ROLE = """\
kind: iam.Role
name: fn-role
spec:
  assumeRolePolicyDocument:
    Version: "2012-10-17"
    Statement:
      - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
"""
FUNCTION = """\
kind: lambda.Function
name: fn
spec:
  code:
    path: {path}
  runtime: python3.12
  handler: handler.handler
  role: ${{ref:iam.Role/fn-role.arn}}
"""
PATH_LINE = 13  # the line of `path:` in resources.yaml (ROLE, ---, FUNCTION)


def stack_with_code(root: Path, path: str = "functions/worker",
                    files: dict[str, bytes] | None = None) -> Path:
    """A stack whose function's code is `path` (relative to resources.yaml), holding `files`
    (handler.py by default) inside `root`, a git work tree."""
    (root / ".git").mkdir(parents=True, exist_ok=True)
    stack = write_stack(root / "s", ROLE + "---\n" + FUNCTION.format(path=path))
    for name, data in ({"handler.py": HANDLER} if files is None else files).items():
        (stack / path / name).parent.mkdir(parents=True, exist_ok=True)
        (stack / path / name).write_bytes(data)
    return stack


def errors(stack: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_stack(stack, KINDS)
    return [str(i) for i in caught.value.issues]


def only_error(stack: Path) -> str:
    found = errors(stack)
    assert len(found) == 1, found
    return found[0]


def code_of(stack: Path) -> Folder:
    fn = next(r for r in load_stack(stack, KINDS).resources if r.kind == "lambda.Function")
    path = fn.spec["code"]["path"]
    assert isinstance(path, Folder)
    return path


# --- read --------------------------------------------------------------------------------


def test_the_folder_is_read_whole_and_survives_ref_resolution(tmp_path: Path) -> None:
    files = {"handler.py": HANDLER, "jobs/__init__.py": b"", "jobs/run.py": b"X = 1\n",
             # YAML inside a code folder is code, never a resource document of the stack
             "config.yaml": b"not: [a, resource\n", "README": b"\xff binary is fine\n"}
    stack = stack_with_code(tmp_path / "repo", files=files)
    folder = code_of(stack)
    assert folder == "functions/worker" and folder.files == files
    fn = next(r for r in load_stack(stack, KINDS).resources if r.kind == "lambda.Function")
    resolved = resolve_refs(fn.spec, lambda ref: "arn:aws:iam::111111111111:role/fn-role")
    assert resolved["code"]["path"] is fn.spec["code"]["path"]  # the same object, files on
    assert resolved["role"] == "arn:aws:iam::111111111111:role/fn-role"


def test_the_stack_s_own_folders_ignore_code_files(tmp_path: Path) -> None:
    # handler.py sits beside the YAML: only .yaml/.yml at a stack folder's top are read
    stack = stack_with_code(tmp_path / "repo", path=".", files={"handler.py": HANDLER})
    assert set(code_of(stack).files) >= {"handler.py", "resources.yaml", "stack.yaml"}


def test_a_folder_from_values_is_read(tmp_path: Path) -> None:
    stack = stack_with_code(tmp_path / "repo")
    text = (stack / "resources.yaml").read_text()
    (stack / "resources.yaml").write_text(text.replace("functions/worker",
                                                       "functions/${values.fn}"))
    (stack / "stack.yaml").write_text((stack / "stack.yaml").read_text() + "  fn: worker\n")
    assert code_of(stack).files == {"handler.py": HANDLER}


def test_an_s3_source_names_no_folder(tmp_path: Path) -> None:
    stack = stack_with_code(tmp_path / "repo")
    text = (stack / "resources.yaml").read_text()
    (stack / "resources.yaml").write_text(text.replace(
        "path: functions/worker", "s3Bucket: artifacts\n    s3Key: worker.zip"))
    fn = next(r for r in load_stack(stack, KINDS).resources if r.kind == "lambda.Function")
    assert fn.spec["code"] == {"s3Bucket": "artifacts", "s3Key": "worker.zip"}


# --- errors at the YAML line ----------------------------------------------------------------


def test_a_missing_folder_names_the_file_and_line(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stack_with_code(tmp_path / "repo", files={})
    monkeypatch.chdir(tmp_path / "repo")
    assert only_error(Path("s")) == (
        f"s/resources.yaml:{PATH_LINE}: lambda.Function/fn: spec.code.path: folder "
        "'functions/worker': no such folder s/functions/worker (a folder inside the "
        "repository, relative to this file's folder)")


@pytest.mark.parametrize(("files", "says"), [
    ({"__init__.py": b""}, "handler.py is not in 'functions/worker'"),
    ({"handler.py/x": b""}, "handler.py is not in"),
], ids=["no handler module", "handler.py is a folder"])
def test_the_handler_module_must_be_in_the_folder(tmp_path: Path, files: dict[str, bytes],
                                                  says: str) -> None:
    assert says in only_error(stack_with_code(tmp_path / "repo", files=files))


def test_an_empty_folder_and_a_file_are_refused(tmp_path: Path) -> None:
    stack = stack_with_code(tmp_path / "repo", files={})
    (stack / "functions" / "worker").mkdir(parents=True)
    assert only_error(stack).endswith("functions/worker holds no file")
    (stack / "functions" / "worker").rmdir()
    (stack / "functions" / "worker").write_text("x")
    assert "expected a folder, got a file" in only_error(stack)


def test_a_ref_in_the_path_is_refused(tmp_path: Path) -> None:
    stack = stack_with_code(tmp_path / "repo", path="functions/${ref:iam.Role/fn-role.name}")
    assert "cannot hold a ${ref:...}" in only_error(stack)


# --- confined: no symlink, inside the repository ------------------------------------------


@pytest.mark.parametrize(("link", "target"), [
    ("functions/worker/passwd", "/etc/passwd"),
    ("functions/worker/lib", "/usr/lib"),
    ("functions/worker/up.py", "../../../../outside.py"),
    ("functions/worker", "/etc"),
], ids=["a file to /etc/passwd", "a folder to /usr/lib", "relative, out of the repo",
        "the folder itself"])
def test_a_symlink_is_refused_never_followed(tmp_path: Path, link: str, target: str) -> None:
    (tmp_path / "outside.py").write_text("SECRET = 1\n")
    stack = stack_with_code(tmp_path / "repo",
                            files={} if link == "functions/worker" else None)
    (stack / link).parent.mkdir(parents=True, exist_ok=True)
    (stack / link).symlink_to(target)
    message = only_error(stack)
    assert "spec.code.path: folder 'functions/worker':" in message
    assert f"s/{link}" in message and "a symlink, which is never followed" in message


def test_a_path_leaving_the_repository_is_refused(tmp_path: Path) -> None:
    # the function's spec refuses `..` itself; the loader also confines what any kind names
    stack = stack_with_code(tmp_path / "repo", path="functions/../../../x")
    assert only_error(stack).endswith("spec.code.path: folder 'functions/../../../x': leaves "
                                      "the repository: a folder inside the repository, "
                                      "relative to this file's folder")


# --- bounded ---------------------------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_from_its_size(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    stack = stack_with_code(tmp_path / "repo", files={"handler.py": HANDLER,
                                                      "model.bin": b"x" * 1001})
    assert only_error(stack).endswith("functions/worker/model.bin is 1001 bytes, over the "
                                      "1000 bytes limit of one file")


def test_the_folder_counts_against_the_stack_s_total(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_STACK_BYTES", 2000)
    stack = stack_with_code(tmp_path / "repo", files={"handler.py": HANDLER,
                                                      "a.py": b"#" * 900, "b.py": b"#" * 900})
    assert "limit of one stack" in only_error(stack)


@pytest.mark.parametrize(("limit", "value", "says"), [
    ("MAX_FILES", 5, "more than 5 files in the stack"),
    ("MAX_FOLDER_DEPTH", 2, "nested deeper than 2 folders"),
])
def test_file_count_and_depth_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          limit: str, value: int, says: str) -> None:
    monkeypatch.setattr(limits, limit, value)
    files = {"handler.py": HANDLER, **{f"a/b/c/m{n}.py": b"" for n in range(5)}}
    assert says in only_error(stack_with_code(tmp_path / "repo", files=files))


# --- from a commit's objects -----------------------------------------------------------------


def test_a_commit_s_folder_is_read_from_its_objects_and_a_symlink_refused(
        tmp_path: Path) -> None:
    repo = Repo(tmp_path / "origin")
    resources = ROLE + "---\n" + FUNCTION.format(path="functions/worker")
    stack_yaml = 'name: s\nregion: us-east-1\naccount: "111111111111"\n'
    repo.commit("function", {"desired/s/stack.yaml": stack_yaml,
                             "desired/s/resources.yaml": resources,
                             "desired/s/functions/worker/handler.py": HANDLER.decode(),
                             "desired/s/functions/worker/jobs/run.py": "X = 1\n"})
    source = GitSource(repo.url, cache_dir=tmp_path / "cache")
    stack = load_revision(source, source.fetch(), "desired/s", KINDS)
    fn = next(r for r in stack.resources if r.kind == "lambda.Function")
    assert fn.spec["code"]["path"].files == {"handler.py": HANDLER, "jobs/run.py": b"X = 1\n"}

    (repo.path / "desired/s/functions/worker/passwd").symlink_to("/etc/passwd")
    repo.commit("a link", {})
    with pytest.raises(ValidationFailed) as caught:
        load_revision(source, source.fetch(), "desired/s", KINDS)
    assert [str(i) for i in caught.value.issues] == [
        f"desired/s/resources.yaml:{PATH_LINE}: lambda.Function/fn: spec.code.path: folder "
        "'functions/worker': desired/s/functions/worker/passwd is a symlink, which is never "
        "followed: commit the file itself"]


# --- a changed file is a changed hash, in the plan, and only that -----------------------------


def test_one_changed_file_changes_the_hash(tmp_path: Path) -> None:
    stack = stack_with_code(tmp_path / "repo", files={"handler.py": HANDLER, "x.py": b"A\n"})
    before = FunctionDriver().normalise({"code": {"path": code_of(stack)}})["code"]["sha256"]
    (stack / "functions/worker/x.py").write_bytes(b"B\n")
    after = FunctionDriver().normalise({"code": {"path": code_of(stack)}})["code"]["sha256"]
    assert before != after
    assert after == code_sha256(bundle({"handler.py": HANDLER, "x.py": b"B\n"}))


def test_a_changed_file_is_a_change_in_git_for_holds(tmp_path: Path) -> None:
    # a hold (a rollback AWS made) is released by a change in git: a folder's file is one
    stack = stack_with_code(tmp_path / "repo", files={"handler.py": HANDLER, "x.py": b"A\n"})
    before = holds.digest(load_stack(stack, KINDS).resources[1].spec)
    assert holds.digest(load_stack(stack, KINDS).resources[1].spec) == before
    (stack / "functions/worker/x.py").write_bytes(b"B\n")
    assert holds.digest(load_stack(stack, KINDS).resources[1].spec) != before


def test_the_plan_shows_a_changed_file_as_the_code_s_hash_and_only_that(
        tmp_path: Path, aws: AwsEnv) -> None:
    stack = stack_with_code(tmp_path / "repo", files={"handler.py": HANDLER,
                                                      "x.py": b"SECRET_MARKER = 1\n"})
    assert not apply(plan(load_stack(stack, KINDS), AwsGateway(REGION))).failed
    assert not plan(load_stack(stack, KINDS), AwsGateway(REGION)).changes.has_changes

    (stack / "functions/worker/x.py").write_bytes(b"SECRET_MARKER = 2\n")
    changes = plan(load_stack(stack, KINDS), AwsGateway(REGION)).changes
    pending = [c for c in changes.changes if c.pending]
    assert [(c.id, c.action) for c in pending] == [("lambda.Function/fn", "update")]
    assert [f.path for f in pending[0].fields] == ["spec.code.sha256"]
    old, new = pending[0].fields[0].live, pending[0].fields[0].desired
    assert isinstance(new, Digest) and new == code_sha256(bundle(
        {"handler.py": HANDLER, "x.py": b"SECRET_MARKER = 2\n"}))

    text = render.text(changes)
    assert f"~ lambda.Function/fn (new code from functions/worker, sha256 {new[:8]}...)" in text
    assert f"~ sha256: {old[:8]}... -> {new[:8]}..." in text
    for shown in (text, render.markdown(changes), render.as_json(changes)):
        assert "SECRET_MARKER" not in shown  # never a file's content
    fields = json.loads(render.as_json(changes))["changes"]
    fn = next(c for c in fields if c["id"] == "lambda.Function/fn")
    assert fn["fields"] == [{"path": "spec.code.sha256", "live": old, "desired": new}]
