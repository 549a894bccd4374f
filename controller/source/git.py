"""The desired state's source: one git repository followed at a branch or tag.

One local bare clone is kept per repository and fetched on every call, never
cloned afresh: a run costs one incremental fetch, and the history needed to
find the last good revision after a restart is already there. The fetch
forces the local ref to the remote's (`+refs/heads/main:refs/heads/main`):
the branch is the truth, so a force-push is followed, and logged.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import structlog

from controller.source.commit_files import CommitFiles
from controller.source.gitcmd import Git, SourceError, reason
from controller.source.remote import Remote, default_cache_dir, parse_remote

__all__ = ["GitSource", "SourceError"]

log = structlog.get_logger("controller.source")

_SHA = re.compile(r"[0-9a-f]{4,64}")
_MISSING_REF = "couldn't find remote ref"


class GitSource:
    """A branch or tag of a repository (`https://`, `ssh://`, `file://` or a local path).

    `token` (https) reaches git only through a credential helper; `timeout`
    bounds each fetch; `cache_dir` holds the clone (default: a per-repository folder
    in the user's cache directory).
    """

    def __init__(self, url: str, ref: str = "main", *, token: str | None = None,
                 timeout: float = 30.0, cache_dir: Path | None = None) -> None:
        check_ref(ref)
        self.remote: Remote = parse_remote(url, token)
        self.ref = ref
        self.timeout = timeout
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(self.remote)
        self.clone_dir = self.cache_dir / "repo.git"
        self._git = Git(self.clone_dir, self.remote.token, self.remote.username,
                        self.remote.https_host)
        self._known: str | None = None  # the full ref name `ref` resolved to last time

    @property
    def url(self) -> str:
        """The repository URL without credentials: safe for logs, errors and metrics."""
        return self.remote.display

    def __repr__(self) -> str:
        return f"GitSource({self.url!r}, ref={self.ref!r})"

    def fetch(self) -> str:
        """Fetch the ref (branch first, then tag) and return its tip commit sha."""
        deadline = time.monotonic() + self.timeout
        self._ensure_clone()
        last = ""
        for name in self._candidates():
            old = self._resolve(name)
            result = self._git.run(
                ["fetch", "--no-tags", "--quiet", "--", self.remote.fetch_url, f"+{name}:{name}"],
                timeout=deadline - time.monotonic(),
                what=f"fetching {self.ref!r} from {self.url} (limit {self.timeout:g}s)")
            if result.ok:
                new = self._resolve(name)
                if new is None:
                    raise SourceError(f"{self.ref!r} from {self.url}: fetched, but {name} "
                                      "does not name a commit")
                self._known = name
                self._note_history(name, old, new)
                return new
            last = reason(result.stderr)
            if _MISSING_REF not in result.stderr:
                raise SourceError(f"cannot fetch {self.ref!r} from {self.url}: {last}")
        raise SourceError(f"no branch or tag {self.ref!r} in {self.url} ({last})")

    def files(self, sha: str) -> CommitFiles:
        """The files of commit `sha`, read from git's objects: never a working tree, so
        local edits cannot leak into what is applied, and nothing but the stack is read."""
        return CommitFiles(self._git, self._commit(sha), self.timeout)

    def first_parent_history(self, sha: str, limit: int = 100) -> list[str]:
        """`sha` and its first-parent ancestors, newest first, at most `limit` commits.

        First parents only: a merge to the branch is one step, the commits of
        the merged branch (never deployed on their own) are not candidates.
        """
        full = self._commit(sha)
        out = self._git.output(["rev-list", "--first-parent", f"--max-count={max(limit, 0)}",
                                full, "--"], timeout=self.timeout, what="reading history")
        return out.split()

    def tree_id(self, sha: str) -> str:
        """The id of the commit's root tree: equal ids mean equal files, so equal validity."""
        return self._git.output(["rev-parse", "--verify", f"{self._commit(sha)}^{{tree}}"],
                                timeout=self.timeout, what="reading a tree id")

    # -- internals ----------------------------------------------------------------

    def _candidates(self) -> list[str]:
        if self.ref.startswith("refs/"):
            return [self.ref]
        names = [f"refs/heads/{self.ref}", f"refs/tags/{self.ref}"]
        if self._known in names:  # a tag stays a tag: ask for it first next time
            names.remove(self._known)
            names.insert(0, self._known)
        return names

    def _ensure_clone(self) -> None:
        if (self.clone_dir / "HEAD").is_file():
            return
        self.clone_dir.mkdir(parents=True, exist_ok=True)
        result = self._git.run(["init", "--bare", "--quiet"], timeout=self.timeout,
                               what="creating the local clone")
        if not result.ok:
            raise SourceError(f"cannot create the local clone in {self.clone_dir}: "
                              f"{reason(result.stderr)}")

    def _resolve(self, name: str) -> str | None:
        result = self._git.run(["rev-parse", "--verify", "--quiet", f"{name}^{{commit}}"],
                               timeout=self.timeout, what=f"reading {name}")
        return result.stdout.strip() if result.ok else None

    def _commit(self, sha: str) -> str:
        if not _SHA.fullmatch(sha):
            raise SourceError(f"not a commit sha: {sha!r}")
        full = self._resolve(sha)
        if full is None:
            raise SourceError(f"commit {sha} is not in the local clone of {self.url} "
                              "(fetch first)")
        return full

    def _note_history(self, name: str, old: str | None, new: str) -> None:
        if old is None or old == new:
            log.debug("fetched", url=self.url, ref=self.ref, sha=new)
            return
        result = self._git.run(["merge-base", "--is-ancestor", old, new], timeout=self.timeout,
                               what="checking history")
        if result.returncode == 1:
            log.warning("force-push followed", url=self.url, ref=self.ref, old=old, new=new)
        else:
            log.debug("fetched", url=self.url, ref=self.ref, sha=new, previous=old)


def check_ref(ref: str) -> None:
    """Refuse what git would refuse, and anything that could pass for an option."""
    bad = (not ref or ref.startswith(("-", "/")) or ref.endswith(("/", ".", ".lock"))
           or ".." in ref or "@{" in ref or "//" in ref
           or any(c in ref for c in " ~^:?*[\\") or any(ord(c) < 32 or ord(c) == 127 for c in ref))
    if bad:
        raise SourceError(f"invalid git ref {ref!r}: expected a branch or tag name such as main")
