"""A stack at a commit, and the last good revision behind an invalid tip."""

from __future__ import annotations

import pytest

from controller.resources.registry import REGISTRY
from controller.source import (
    GitSource,
    last_good_revision,
    load_revision,
    search_history,
)
from controller.spec.issues import ValidationFailed
from tests.source.repos import INVALID_DOC, Repo
from tests.stacks import DECLARED

BROKEN = "desired/prod/broken.yaml"


def test_load_revision_reads_the_stack_at_that_commit(source: GitSource) -> None:
    sha = source.fetch()
    stack = load_revision(source, sha, "desired/prod", REGISTRY)
    assert stack.revision == sha
    assert stack.name == "iq-theory-prod"
    assert len(stack.resources) == DECLARED["prod"]
    # Files read as the repository names them, not as the extracted folder does.
    files = {r.file for r in stack.resources}
    assert files and all(f.startswith(("desired/base/", "desired/prod/")) for f in files)
    assert "desired/prod/egress.yaml" in files


def test_issues_name_files_in_the_repository(source: GitSource, repo: Repo) -> None:
    repo.commit("break it", {BROKEN: INVALID_DOC})
    sha = source.fetch()
    with pytest.raises(ValidationFailed) as err:
        load_revision(source, sha, "desired/prod/", REGISTRY)
    assert [str(i) for i in err.value.issues] == [
        f"{BROKEN}:4: sqs.Queue/iq-theory-broken: spec.bogus: unknown field"]


def test_a_missing_stack_folder_is_a_validation_error(source: GitSource) -> None:
    sha = source.fetch()
    with pytest.raises(ValidationFailed) as err:
        load_revision(source, sha, "desired/staging", REGISTRY)
    (issue,) = err.value.issues
    assert issue.file == "desired/staging"
    assert "no such folder" in issue.message and sha[:12] in issue.message


@pytest.mark.parametrize("path", ["/etc", "../outside", "desired/../../x"])
def test_a_stack_path_outside_the_repository_is_refused(source: GitSource, path: str) -> None:
    sha = source.fetch()
    with pytest.raises(ValueError, match="inside the repository"):
        load_revision(source, sha, path, REGISTRY)


def test_last_good_revision_skips_an_invalid_tip(source: GitSource, repo: Repo) -> None:
    good = repo.head()
    bad = repo.commit("break it", {BROKEN: INVALID_DOC})
    tip = source.fetch()
    assert tip == bad

    found = last_good_revision(source, tip, "desired/prod", REGISTRY)
    assert found is not None
    sha, stack = found
    assert sha == good and stack.revision == good and stack.name == "iq-theory-prod"
    # Why the newer commits were skipped stays available.
    search = search_history(source, tip, "desired/prod", REGISTRY)
    assert list(search.invalid) == [bad]
    assert str(search.invalid[bad][0]).startswith(f"{BROKEN}:4: ")


def test_a_valid_tip_is_its_own_last_good_revision(source: GitSource) -> None:
    tip = source.fetch()
    found = last_good_revision(source, tip, "desired/prod", REGISTRY)
    assert found is not None and found[0] == tip


def test_nothing_valid_within_the_limit_is_none(source: GitSource, repo: Repo) -> None:
    good = repo.head()
    repo.commit("break it", {BROKEN: INVALID_DOC})
    repo.empty_commits(99)  # 100 invalid commits on top of the good one
    tip = source.fetch()

    assert last_good_revision(source, tip, "desired/prod", REGISTRY) is None  # default limit: 100
    found = last_good_revision(source, tip, "desired/prod", REGISTRY, limit=101)
    assert found is not None and found[0] == good


def test_a_repository_without_the_stack_has_no_good_revision(repo: Repo, source: GitSource) -> None:
    tip = source.fetch()
    assert last_good_revision(source, tip, "desired/nowhere", REGISTRY) is None
