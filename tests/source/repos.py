"""Real git repositories made in a test's tmp folder, isolated from the user's git config."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from tests.stacks import copy_desired

# The test's own git commands ignore the machine's config (signing, hooks, templates).
HERMETIC = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}

# A document the loader rejects, with a known line: spec.bogus is line 4.
INVALID_DOC = textwrap.dedent("""\
    kind: sqs.Queue
    name: iq-theory-broken
    spec:
      bogus: 1
    """)


class Repo:
    """A working repository on branch main, with a local identity."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet", "--initial-branch=main")
        self.git("config", "user.name", "Test Author")
        self.git("config", "user.email", "test@example.com")
        self.git("config", "commit.gpgsign", "false")

    @property
    def url(self) -> str:
        return self.path.as_uri()

    def git(self, *args: str) -> str:
        env = {**os.environ, **HERMETIC}
        for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
            env.pop(var, None)
        result = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True,
                                text=True, check=False, timeout=60)
        assert result.returncode == 0, f"git {' '.join(args)}: {result.stderr}"
        return result.stdout.strip()

    def write(self, name: str, text: str) -> None:
        file = self.path / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)

    def commit(self, message: str, files: dict[str, str] | None = None) -> str:
        """Write `files`, commit everything, return the new sha."""
        for name, text in (files or {}).items():
            self.write(name, text)
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.head()

    def empty_commits(self, count: int) -> str:
        """`count` commits on main that change nothing (fast: commit-tree, one ref update)."""
        sha = self.head()
        tree = self.git("rev-parse", "HEAD^{tree}")
        for n in range(count):
            sha = self.git("commit-tree", tree, "-p", sha, "-m", f"empty {n}")
        self.git("update-ref", "refs/heads/main", sha)
        return sha

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def desired_repo(path: Path) -> Repo:
    """A repository holding a copy of desired/, committed once on main."""
    repo = Repo(path)
    copy_desired(path)
    repo.commit("desired state")
    return repo
