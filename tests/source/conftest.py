"""Git tests run hermetically: no user git config, caches in the test's tmp folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from controller.source import GitSource
from tests.source.repos import Repo, desired_repo


@pytest.fixture(autouse=True)
def _hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("GITOPS_CACHE_DIR", raising=False)  # the default folder is tested
    monkeypatch.delenv("GITOPS_GIT_TOKEN", raising=False)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    """The origin: a working repository with desired/ committed on main."""
    return desired_repo(tmp_path / "origin")


@pytest.fixture
def source(repo: Repo, tmp_path: Path) -> GitSource:
    return GitSource(repo.url, "main", cache_dir=tmp_path / "cache", timeout=30)
