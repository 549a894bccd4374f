"""The bad-input corpus (issue 11): generated broken stacks keep the loader's promises.

Each property starts from the real stack (a copy of desired/, prod with ../base) and
breaks it one way, at a random document, field, line or byte (`corpus_strategies`).
For every input: loading raises `ValidationFailed` and nothing else; an issue names the
broken file by its path in the repository, and the line when the fault is on one;
no issue prints a control character; the load takes under a deadline and, measured
with tracemalloc, allocates under MEMORY_BOUND at its peak; and the stack it was made
from still loads. Then a few inputs go through `gitops plan` (exit 1, zero AWS calls)
and through the daemon's reconciler (the valid revision stays in force).

Profiles: `corpus` (default, sized for `make test`) and `deep`
(HYPOTHESIS_PROFILE=deep: ten times the examples, for a run by hand). Both are
derandomized, so CI sees the same inputs on every run.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from controller import cli
from controller.daemon.reconciler import Reconciler
from controller.daemon.settings import Settings
from controller.resources.registry import REGISTRY
from controller.spec.issues import Issue, ValidationFailed
from controller.spec.loader import load_stack
from controller.spec.yamldoc import load_documents
from tests.source.repos import HERMETIC, Repo
from tests.spec import corpus_strategies as corpus
from tests.spec.corpus_strategies import Fault
from tests.stacks import DECLARED, write_stack

# The longest a load of one broken stack may take (the valid one takes about 0.15 s; a
# bomb the loader did not stop would take minutes): 2 s flaked once on this 2-core
# machine shared with a parallel run. And the most it may allocate at its peak,
# measured with tracemalloc: the valid stack and the inputs here (bombs, files past
# 1 MiB) peak at about 2 MB; a bomb expanded would take gigabytes.
TIME_BOUND = 5.0
MEMORY_BOUND = 64 * 1024 * 1024
# Hypothesis's deadline for a whole example: the load, once more under tracemalloc (about
# 6 times slower), and the copy of the repository it breaks.
DEADLINE_MS = 10_000

settings.register_profile("corpus", derandomize=True, database=None, deadline=DEADLINE_MS,
                          print_blob=False, suppress_health_check=[
                              HealthCheck.too_slow, HealthCheck.filter_too_much,
                              HealthCheck.data_too_large, HealthCheck.large_base_example])
settings.register_profile("deep", settings.get_profile("corpus"))
DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
PROFILE = settings.get_profile("deep" if DEEP else "corpus")


def examples(count: int, **changes: Any) -> settings:
    """The profile with `count` examples (ten times as many in the deep profile)."""
    return settings(PROFILE, max_examples=count * (10 if DEEP else 1), **changes)


@contextlib.contextmanager
def broken_copy(fault: Fault) -> Iterator[Path]:
    """A fresh copy of the repository with `fault` in it, as the working directory (so
    issues name files as the repository does)."""
    scratch = Path(tempfile.mkdtemp(prefix="corpus-"))
    try:
        root = corpus.copy_repository(scratch / "repo")
        fault.apply(root)
        with contextlib.chdir(root):
            yield root
    finally:
        shutil.rmtree(scratch)


def load_issues() -> list[Issue]:
    """The issues of the stack in the working directory, which must not load."""
    with pytest.raises(ValidationFailed) as caught:
        load_stack(corpus.STACK, REGISTRY)
    return caught.value.issues


def peak_memory() -> int:
    """The peak bytes a load of the stack in the working directory allocates."""
    tracemalloc.start()
    try:
        with contextlib.suppress(ValidationFailed):
            load_stack(corpus.STACK, REGISTRY)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_rejected(fault: Fault, *, traced: bool) -> None:
    """The loader's promises for one broken stack (see the module's docstring)."""
    with broken_copy(fault):
        started = time.perf_counter()
        issues = load_issues()
        took = time.perf_counter() - started
        peak = peak_memory() if traced else 0
    shown = [str(i) for i in issues]
    assert took < TIME_BOUND, (fault.what, took)
    assert peak < MEMORY_BOUND, (fault.what, peak)
    for issue in issues:
        assert issue.file and not issue.file.startswith(("/", "..")), (fault.what, shown)
        assert issue.line >= 0
        assert not corpus.has_control(str(issue)), (fault.what, str(issue))
    assert any(_points_at(issue, fault) for issue in issues), (fault.what, shown)


def _points_at(issue: Issue, fault: Fault) -> bool:
    if fault.says not in str(issue):
        return False
    if fault.file == corpus.ANY_FILE:
        return issue.line > 0 and any(i in issue.message for i in fault.ids)
    if fault.line is None:  # YAML notices the fault further on
        return issue.file == fault.file and issue.line >= fault.min_line
    return issue.file == fault.file and issue.line == fault.line


@pytest.fixture(scope="module", autouse=True)
def _the_valid_stack_loads() -> Iterator[None]:
    """Before and after the corpus: the stack every input was made from is valid, and a
    process that loaded hundreds of broken ones still loads it."""
    assert len(load_stack(corpus.DESIRED / "prod", REGISTRY).resources) == DECLARED["prod"]
    yield
    assert len(load_stack(corpus.DESIRED / "prod", REGISTRY).resources) == DECLARED["prod"]


# --- one property per way of breaking a stack ------------------------------------------

# Examples per way in the default profile, and whether each load's memory is measured
# (always in the deep profile): tracemalloc makes a load about 6 times slower, so by
# default only the ways whose input is large are measured.


def refused(name: str, count: int, *, traced: bool = False) -> Callable[[Fault], None]:
    """The property for one way of breaking a stack, as a test of its own (so that
    --hypothesis-show-statistics counts its inputs)."""
    @examples(count)
    @given(fault=corpus.ALL[name]())
    def test(fault: Fault) -> None:
        assert_rejected(fault, traced=traced or DEEP)

    test.__doc__ = f"A stack broken by {name} is refused, naming the file and line."
    return test


test_wrong_type = refused("wrong type", 10)
test_unknown_field = refused("unknown field", 6)
test_unknown_kind = refused("unknown kind", 6)
test_dangling_ref = refused("dangling ref", 8)
test_ref_cycle = refused("ref cycle", 6)
test_duplicate_key = refused("duplicate key", 8)
test_yaml_bomb = refused("yaml bomb", 8, traced=True)
test_broken_yaml = refused("broken yaml", 10)
test_oversized_file = refused("oversized", 3, traced=True)
test_not_utf8 = refused("not utf-8", 6)
test_symlink_out = refused("symlink out", 6)
test_climbing_out = refused("climbing out", 6)
test_substitution_garbage = refused("substitution", 8)
test_hostile_name = refused("hostile name", 10)


def test_every_way_has_its_property() -> None:
    tested = {name[len("test_"):] for name in globals() if name.startswith("test_")}
    assert len(corpus.ALL) == len(tested & {
        "wrong_type", "unknown_field", "unknown_kind", "dangling_ref", "ref_cycle",
        "duplicate_key", "yaml_bomb", "broken_yaml", "oversized_file", "not_utf8",
        "symlink_out", "climbing_out", "substitution_garbage", "hostile_name"})


# --- gitops plan: exit 1, no AWS call --------------------------------------------------


def where(fault: Fault) -> str:
    """How an issue at the fault starts: `file:line`, or `file` (whole file, or a line
    YAML finds further on)."""
    return f"{fault.file}:{fault.line}" if fault.line else fault.file


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def unreachable_aws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """AWS at a port where nothing listens, one attempt per call; the names of the calls
    the CLI makes (none, when the stack is refused first)."""
    calls: list[str] = []
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [
        ("before-call.*.*", lambda model, **_: calls.append(model.name))])
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    return calls


# The fixtures are set up once for all inputs of a test, on purpose: the AWS counter
# must stay at zero across them, the daemon keeps one revision in force across them.
ONCE = [*PROFILE.suppress_health_check, HealthCheck.function_scoped_fixture]


@examples(4, suppress_health_check=ONCE)
@given(fault=corpus.any_fault())
def test_plan_of_a_broken_stack_exits_1_and_calls_no_aws(unreachable_aws: list[str],
                                                          fault: Fault) -> None:
    """`gitops plan` refuses before the account check: nothing reaches AWS (which here is a
    port where nothing listens, and every call would be counted)."""
    err = io.StringIO()
    with broken_copy(fault), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["plan", corpus.STACK])
    assert code == 1, err.getvalue()
    assert unreachable_aws == []
    assert "nothing was read from or written to AWS" in err.getvalue()
    assert "error: unexpected" not in err.getvalue() and "Traceback" not in err.getvalue()
    assert fault.file == corpus.ANY_FILE or where(fault) in err.getvalue()


# --- the daemon keeps the last good revision -------------------------------------------


@dataclass
class Daemon:
    """A repository whose first commit is the valid stack, and a reconciler on it."""

    repo: Repo
    good: str
    config: Settings
    reconciler: Reconciler


@pytest.fixture
def daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           unreachable_aws: list[str]) -> Daemon:
    for name, value in HERMETIC.items():
        monkeypatch.setenv(name, value)
    repo = Repo(tmp_path / "origin")
    shutil.copytree(corpus.DESIRED, repo.path / "desired")
    good = repo.commit("the valid stack")
    config = Settings(repo=repo.url, path=corpus.STACK, mode="detect",
                      cache_dir=tmp_path / "cache")
    reconciler = Reconciler(config)
    assert reconciler.run_once().revision == good
    return Daemon(repo, good, config, reconciler)


@examples(3, suppress_health_check=ONCE, deadline=None)
@given(fault=corpus.any_fault())
def test_the_daemon_keeps_the_valid_revision_through_broken_commits(daemon: Daemon,
                                                                    fault: Fault) -> None:
    """A valid commit, then generated broken commits on top: the reconciler (detect mode)
    keeps the valid one in force and reports each broken one as invalid with its file and
    line; one started on the broken tip finds the valid one in the history."""
    repo = daemon.repo
    shutil.rmtree(repo.path / "desired")
    shutil.copytree(corpus.DESIRED, repo.path / "desired")
    fault.apply(repo.path)
    repo.commit(f"break it: {fault.what[:60]}")
    report = daemon.reconciler.run_once()
    assert report.result == "invalid", report.problems
    assert report.revision == daemon.good
    assert daemon.reconciler.in_force is not None
    assert daemon.reconciler.in_force.revision == daemon.good
    assert fault.file == corpus.ANY_FILE or any(
        p.startswith(where(fault)) for p in report.problems), (fault.what, report.problems)
    restarted = Reconciler(daemon.config).run_once()
    assert (restarted.result, restarted.revision) == ("invalid", daemon.good)


# --- what the corpus found, kept as plain reproductions ----------------------------------

QUEUE = "kind: sqs.Queue\nname: jobs\nspec: {}\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's folder as the working directory: issues name `s/resources.yaml`."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _issues_of(folder: Path, docs: str) -> list[str]:
    return _issues_of_folder(write_stack(folder, docs))


def test_a_kind_that_is_a_list_is_an_issue_not_a_crash(here: Path) -> None:
    """Before, `kind: [sqs.Queue]` raised TypeError (unhashable type: 'list')."""
    assert _issues_of(here / "s", "kind: [sqs.Queue]\nname: jobs\nspec: {}\n") == [
        "s/resources.yaml:1: every resource needs a `kind` and a `name`"]


def test_a_key_written_twice_is_an_issue_at_the_second(here: Path) -> None:
    """Before, YAML kept the last `name:` and the first vanished without a word."""
    (issue,) = _issues_of(here / "s", QUEUE.replace("spec:", "name: other\nspec:"))
    assert issue == ("s/resources.yaml:3: invalid YAML: duplicate key 'name': it is also at "
                     "line 2, and YAML would keep only the last")


def test_a_key_a_merge_brought_may_be_set_again() -> None:
    (doc,) = load_documents("a: &t {x: 1, y: 2}\nb:\n  <<: *t\n  y: 3\n")
    assert doc.value["b"] == {"x": 1, "y": 3}


def test_bytes_that_are_not_utf8_are_named_with_their_line(here: Path) -> None:
    """Before, the issue gave the byte offset only, with no line."""
    stack = write_stack(here / "s", QUEUE)
    (stack / "resources.yaml").write_bytes(QUEUE.encode().replace(b"jobs", b"j\xffobs"))
    assert _issues_of_folder(stack) == [
        "s/resources.yaml:2: not UTF-8 text (byte 23): YAML files are text"]


def _issues_of_folder(stack: Path) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        load_stack(stack, REGISTRY)
    return [str(i) for i in caught.value.issues]


@pytest.mark.parametrize(("value", "says"), [
    ("${ref:sqs.Queue/a\\x1b[31mb.arn}", r"ref to 'sqs.Queue/a\x1b[31mb', which is not in"),
    ("${ref:sqs.Queue\\n}", r"malformed ref '${ref:sqs.Queue\n}'"),
    ("${\\x07oops}", r"unknown substitution '${\x07oops}'"),
], ids=["dangling ref", "malformed ref", "unknown substitution"])
def test_control_characters_in_a_message_are_escaped(here: Path, value: str,
                                                     says: str) -> None:
    """Before, text from the file reached the message raw: a newline split the issue, an
    escape sequence reached the terminal."""
    (issue,) = _issues_of(here / "s", f'kind: sqs.Queue\nname: q\nspec:\n'
                                          f'  redrivePolicy: {{deadLetterTargetArn: "{value}", '
                                          f'maxReceiveCount: 5}}\n')
    assert says in issue and issue.startswith("s/resources.yaml:4: ")
    assert not corpus.has_control(issue)
