"""Folders holding a repository's files at one commit, one per sha, the last few kept.

Why folders per commit and not a working tree: the stack loader reads files,
and the files must be exactly those of the commit being applied. A working
tree can hold local edits or a half-finished checkout; a folder extracted from
git objects and published by an atomic rename cannot. Extracting again for a
sha already on disk is skipped, and old folders are removed so a long-running
daemon does not fill its disk.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

DEFAULT_KEEP = 5
STALE_STAGING_SECONDS = 3600  # a staging folder this old was left by a killed process


class TreeCache:
    """`root/<sha>/` folders; `get` extracts on first use and keeps the `keep` newest."""

    def __init__(self, root: Path, keep: int = DEFAULT_KEEP) -> None:
        self.root = root
        self.keep = max(keep, 1)

    def get(self, sha: str, extract: Callable[[Path], None]) -> Path:
        """The folder for `sha`; `extract(folder)` fills a fresh one when it is not cached."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / sha
        if final.is_dir():
            os.utime(final)  # most recently used: the last to be cleaned up
            return final.resolve()
        staging = self.root / f".tmp-{sha}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            extract(staging)
            try:
                staging.rename(final)
            except OSError:
                if not final.is_dir():  # not simply another process that was quicker
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.prune(current=sha)
        return final.resolve()

    def prune(self, current: str) -> None:
        """Remove all but the `keep` most recently used folders (never `current`)."""
        for leftover in self.root.glob(".tmp-*"):
            if time.time() - _mtime(leftover) > STALE_STAGING_SECONDS:
                _remove(leftover)
        folders = [p for p in self.root.iterdir()
                   if p.is_dir() and not p.name.startswith(".") and p.name != current]
        folders.sort(key=_mtime, reverse=True)
        for old in folders[self.keep - 1:]:
            shutil.rmtree(old, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
