"""The controller's folder of local state on this machine (a git clone, the stacks' write
locks): `$GITOPS_CACHE_DIR`, else `$XDG_CACHE_HOME/gitops-controller`, `~/.cache/...`, or
a folder of the temp dir, the first that can be written (a container's root file system
may be read-only). The CLI and the daemon of one user find the same folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_folder(*parts: str) -> Path:
    """`<the cache folder>/<parts...>`, made if missing."""
    explicit = os.environ.get("GITOPS_CACHE_DIR")
    candidates = [Path(explicit)] if explicit else []
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        candidates.append(Path(xdg) / "gitops-controller")
    home = os.environ.get("HOME")
    if home:
        candidates.append(Path(home) / ".cache" / "gitops-controller")
    candidates.append(Path(tempfile.gettempdir()) / f"gitops-controller-{os.getuid()}")
    for base in candidates:
        folder = base.joinpath(*parts)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise OSError("no writable cache folder (tried " + ", ".join(map(str, candidates)) + ")")
