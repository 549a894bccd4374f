"""Where desired state comes from: a git repository at a pinned commit.

- `git.GitSource`: one local clone per repository, fetched (never re-cloned),
  commits extracted to folders; `SourceError` when git cannot deliver.
- `revision.load_revision` / `last_good_revision`: a validated `Stack` at a
  commit, and the newest valid commit when the tip is not.

A plain folder needs nothing from here: `spec.loader.load_stack(folder)`.
"""

from controller.source.git import GitSource, SourceError
from controller.source.revision import (
    HistorySearch,
    last_good_revision,
    load_revision,
    search_history,
)

__all__ = ["GitSource", "HistorySearch", "SourceError", "last_good_revision", "load_revision",
           "search_history"]
