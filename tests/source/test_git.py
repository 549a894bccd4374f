"""GitSource against real repositories: one clone fetched each time, files from objects."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from controller.source import GitSource, SourceError
from tests.source.repos import Repo


def test_fetch_returns_the_tip(source: GitSource, repo: Repo) -> None:
    assert source.fetch() == repo.head()
    assert (source.clone_dir / "HEAD").is_file()


def test_the_next_fetch_reuses_the_same_clone(source: GitSource, repo: Repo,
                                              tmp_path: Path) -> None:
    first = source.fetch()
    marker = source.clone_dir / "marker-left-by-the-test"
    marker.write_text("still here")
    objects_inode = (source.clone_dir / "objects").stat().st_ino
    second = repo.commit("deploy 1.4.3", {"desired/prod/notes.txt": "1.4.3\n"})

    assert source.fetch() == second != first
    assert marker.read_text() == "still here"  # fetched into, not cloned again
    assert (source.clone_dir / "objects").stat().st_ino == objects_inode
    # A restarted daemon (a new GitSource on the same folder) keeps the clone too.
    again = GitSource(repo.url, "main", cache_dir=tmp_path / "cache")
    assert again.fetch() == second and marker.exists()


def test_a_local_path_and_the_default_cache_folder(repo: Repo, tmp_path: Path) -> None:
    source = GitSource(str(repo.path))
    assert source.fetch() == repo.head()
    assert source.clone_dir.is_relative_to(tmp_path / "xdg-cache" / "gitops-controller")
    # The same repository maps to the same clone.
    assert GitSource(str(repo.path)).clone_dir == source.clone_dir


def test_a_force_push_is_followed_and_logged(source: GitSource, repo: Repo) -> None:
    base = repo.head()
    old = repo.commit("a commit that will be rewritten", {"desired/prod/x.txt": "1\n"})
    assert source.fetch() == old
    repo.git("reset", "--quiet", "--hard", base)
    new = repo.commit("the rewritten history", {"desired/prod/x.txt": "2\n"})

    with capture_logs() as logs:
        assert source.fetch() == new
    warnings = [e for e in logs if e["event"] == "force-push followed"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["old"] == old and warnings[0]["new"] == new
    assert warnings[0]["ref"] == "main"


def test_a_fast_forward_is_not_a_force_push(source: GitSource, repo: Repo) -> None:
    source.fetch()
    repo.commit("next", {"desired/prod/x.txt": "1\n"})
    with capture_logs() as logs:
        source.fetch()
    assert not [e for e in logs if e["event"] == "force-push followed"]


def test_a_tag_is_followed_as_its_commit(repo: Repo, tmp_path: Path) -> None:
    tagged = repo.head()
    repo.git("tag", "-a", "v1.4.2", "-m", "release")  # annotated: peeled to the commit
    repo.commit("after the tag")
    source = GitSource(repo.url, "v1.4.2", cache_dir=tmp_path / "cache")
    assert source.fetch() == tagged
    assert source.fetch() == tagged  # the second time straight from the tag


def test_a_missing_branch_names_the_ref_and_the_repository(repo: Repo, tmp_path: Path) -> None:
    source = GitSource(repo.url, "no-such-branch", cache_dir=tmp_path / "cache")
    with pytest.raises(SourceError) as err:
        source.fetch()
    message = str(err.value)
    assert "no branch or tag 'no-such-branch'" in message
    assert repo.url in message
    assert "couldn't find remote ref" in message


def test_an_unreachable_remote_names_the_repository(tmp_path: Path) -> None:
    source = GitSource("file:///nonexistent", "main", cache_dir=tmp_path / "cache")
    with pytest.raises(SourceError) as err:
        source.fetch()
    message = str(err.value)
    assert "'main'" in message and "file:///nonexistent" in message
    assert "does not appear to be a git repository" in message  # git's own reason


def test_a_hung_remote_is_cut_off_by_the_timeout(tmp_path: Path) -> None:
    # A listening socket that never answers: the connection opens, the reply never comes.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        source = GitSource(f"http://127.0.0.1:{port}/repo.git", timeout=1.0,
                           cache_dir=tmp_path / "cache")
        started = time.monotonic()
        with pytest.raises(SourceError, match="timed out"):
            source.fetch()
    assert time.monotonic() - started < 10


def test_a_ref_that_could_pass_for_an_option_is_refused() -> None:
    with pytest.raises(SourceError, match="invalid git ref"):
        GitSource("file:///x", "--upload-pack=touch /tmp/pwned")
    with pytest.raises(SourceError, match="invalid git ref"):
        GitSource("file:///x", "main:other")


def test_files_are_the_commit_not_local_edits(source: GitSource, repo: Repo,
                                              tmp_path: Path) -> None:
    sha = source.fetch()
    committed = (repo.path / "desired/prod/stack.yaml").read_bytes()
    # Uncommitted and untracked edits in the origin's working tree...
    (repo.path / "desired/prod/stack.yaml").write_text("name: edited-but-not-committed\n")
    (repo.path / "desired/prod/untracked.yaml").write_text("kind: x\n")

    files = source.files(sha)
    names = [e.name for e in files.entries("desired/prod") or []]
    assert names == ["egress.yaml", "stack.yaml"]
    assert files.read(["desired/prod/stack.yaml"]) == {"desired/prod/stack.yaml": committed}
    assert source.fetch() == sha  # ...are not commits either
    # Read from git's objects: nothing was written beside the clone.
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["repo.git"]


def test_files_of_an_unknown_commit_is_a_source_error(source: GitSource) -> None:
    source.fetch()
    with pytest.raises(SourceError, match="not in the local clone"):
        source.files("0" * 40)
    with pytest.raises(SourceError, match="not a commit sha"):
        source.files("--output=/tmp/x")


def test_first_parent_history_skips_the_commits_of_merged_branches(source: GitSource,
                                                                   repo: Repo) -> None:
    base = repo.head()
    repo.git("checkout", "--quiet", "-b", "feature")
    feature = repo.commit("work on a branch", {"desired/prod/f.txt": "f\n"})
    repo.git("checkout", "--quiet", "main")
    on_main = repo.commit("meanwhile on main", {"desired/prod/m.txt": "m\n"})
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")
    merge = repo.head()

    tip = source.fetch()
    assert tip == merge
    assert source.first_parent_history(tip) == [merge, on_main, base]
    assert feature not in source.first_parent_history(tip)
    assert source.first_parent_history(tip, limit=2) == [merge, on_main]
