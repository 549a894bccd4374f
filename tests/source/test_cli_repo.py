"""`gitops validate|plan --repo URL --ref REF --path DIR`: a stack from git at a commit."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import AwsEnv
from tests.source.repos import INVALID_DOC, Repo
from tests.stacks import DECLARED, DESIRED


def test_plan_from_a_repository_reports_the_commit(prod_aws: AwsEnv, repo: Repo,
                                                   gitops: Any) -> None:
    result = gitops("plan", "--repo", repo.url, "--ref", "main", "--path", "desired/prod",
                    "--output", "json")
    assert result.code == 2, result.err
    plan = json.loads(result.out)
    assert plan["revision"] == repo.head()
    assert plan["stack"] == "iq-theory-prod"
    assert plan["summary"]["create"] == DECLARED["prod"]


def test_validate_from_a_repository(repo: Repo, gitops: Any) -> None:
    result = gitops("validate", "--repo", repo.url, "--path", "desired/prod")  # --ref: main
    assert result.code == 0, result.err
    assert f"iq-theory-prod: {DECLARED['prod']} resources, valid." in result.err


def test_validate_an_invalid_tip_names_file_and_line(repo: Repo, gitops: Any) -> None:
    repo.commit("break it", {"desired/prod/broken.yaml": INVALID_DOC})
    result = gitops("validate", "--repo", repo.url, "--path", "desired/prod")
    assert result.code == 1
    assert ("desired/prod/broken.yaml:4: sqs.Queue/iq-theory-broken: spec.bogus: unknown field"
            in result.err)


def test_a_missing_branch_is_an_error_naming_it(repo: Repo, gitops: Any) -> None:
    result = gitops("validate", "--repo", repo.url, "--ref", "nope", "--path", "desired/prod")
    assert result.code == 1
    assert "no branch or tag 'nope'" in result.err and repo.url in result.err


def test_path_and_repo_exclude_each_other(repo: Repo, gitops: Any) -> None:
    both = gitops("plan", DESIRED / "prod", "--repo", repo.url, "--path", "desired/prod")
    assert both.code == 1
    assert "not allowed with" in both.err


def test_repo_needs_a_path(repo: Repo, gitops: Any) -> None:
    result = gitops("validate", "--repo", repo.url)
    assert result.code == 1
    assert "--repo URL needs --path DIR" in result.err
    alone = gitops("validate", "--path", "desired/prod")
    assert alone.code == 1
    assert "only go with --repo" in alone.err


def test_a_folder_outside_git_still_has_no_revision(prod_aws: AwsEnv, gitops: Any) -> None:
    result = gitops("plan", DESIRED / "prod", "--output", "json")
    assert result.code == 2
    assert json.loads(result.out)["revision"] is None
