"""A stack at a commit, and the last good revision when the tip does not validate.

An invalid tip is never applied (DESIGN.md, failure isolation): the daemon
keeps the revision in force. After a restart it has none in memory, so it
walks the branch's first-parent history for the newest commit that validates.
Issues name files relative to the repository (`desired/prod/stack.yaml:3`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath

import structlog

from controller.model import Kinds
from controller.source.git import GitSource
from controller.spec.issues import Issue, ValidationFailed
from controller.spec.loader import load_stack_files
from controller.spec.stack import Stack

log = structlog.get_logger("controller.source")

HISTORY_LIMIT = 100


def stack_path(path: str) -> str:
    """The stack folder inside the repository, normalised; absolute or escaping paths are bad.

    Raises ValueError: that is a setting to fix, not a revision to skip.
    """
    clean = PurePosixPath(path.strip().strip("/") or ".")
    if path.strip().startswith("/") or ".." in clean.parts:
        raise ValueError(f"stack path {path!r} must be a folder inside the repository, "
                         "e.g. desired/prod")
    return str(clean)


def load_revision(source: GitSource, sha: str, path: str, kinds: Kinds) -> Stack:
    """Load and validate the stack at `path` in commit `sha` (`Stack.revision` is `sha`).

    Raises ValidationFailed (a missing folder included: it is that commit's problem)
    and SourceError when the commit cannot be read. Files are named relative to the
    repository (`desired/prod/stack.yaml:3`).
    """
    folder = stack_path(path)
    try:
        return load_stack_files(source.files(sha), folder, kinds, revision=sha,
                                source=f"{source.url}@{sha[:12]}:{folder}")
    except ValidationFailed as err:
        if any(i.file == folder and "no such folder" in i.message for i in err.issues):
            raise ValidationFailed([Issue(folder, 0, f"no such folder in {source.url} at commit "
                                                     f"{sha[:12]}: check the stack path")]) \
                from None
        raise


@dataclass
class HistorySearch:
    """The outcome of a last-good search: what was found and why newer commits were skipped."""

    found: tuple[str, Stack] | None = None
    invalid: dict[str, list[Issue]] = field(default_factory=dict)  # sha -> its issues, newest first


def search_history(source: GitSource, tip: str, path: str, kinds: Kinds,
                   limit: int = HISTORY_LIMIT) -> HistorySearch:
    """Walk `tip`'s first-parent history (at most `limit` commits) for a commit that validates."""
    search = HistorySearch()
    invalid_trees: dict[str, list[Issue]] = {}  # commits with equal trees need one load
    for sha in source.first_parent_history(tip, limit):
        tree = source.tree_id(sha)
        if tree in invalid_trees:
            search.invalid[sha] = invalid_trees[tree]
            continue
        try:
            search.found = (sha, load_revision(source, sha, path, kinds))
            break
        except ValidationFailed as err:
            search.invalid[sha] = invalid_trees[tree] = err.issues
    if search.found is None:
        log.warning("no valid revision in history", url=source.url, ref=source.ref,
                    tip=tip, searched=len(search.invalid))
    elif search.invalid:
        log.info("last good revision", revision=search.found[0], skipped=len(search.invalid))
    return search


def last_good_revision(source: GitSource, tip: str, path: str, kinds: Kinds,
                       limit: int = HISTORY_LIMIT) -> tuple[str, Stack] | None:
    """The newest commit (sha, stack) at or below `tip` that validates, or None.

    For the issues of the commits skipped on the way, use `search_history`.
    """
    return search_history(source, tip, path, kinds, limit).found
