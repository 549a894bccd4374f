"""Bounds on what a stack may be: every read of desired state stays within them.

A commit is written by whoever can open a pull request, and `gitops validate`
reads it in CI before any review. Each bound is far above what a real stack
needs (IQ Theory's prod stack is 21 resources in 8 files, about 15 KB) and far
below what would hurt the machine reading it; a stack past one is invalid,
with the reason, found before the bytes past the bound are read.
"""

from __future__ import annotations

# One YAML file: 1,000 resources of a generated stack take about 600 KB.
MAX_FILE_BYTES = 1024 * 1024
# All files of a stack together, stack.yaml and includes with them.
MAX_STACK_BYTES = 8 * 1024 * 1024
# Files in a stack (its YAML, and the files and folders of the folders its specs name),
# and entries listed in one of its folders.
MAX_FILES = 1000
MAX_FOLDER_ENTRIES = 10_000
# Nesting of a folder a spec names (a function's code): each level is one more listing.
MAX_FOLDER_DEPTH = 16
# Folders a stack.yaml may include.
MAX_INCLUDES = 20
# YAML values (mapping, sequence or scalar nodes) in a stack once aliases are expanded:
# about 100 per resource, so room for 5,000 resources, and a few hundred MB at most.
MAX_YAML_NODES = 500_000
# Nesting of YAML values: a task definition's deepest field is about 8 levels down.
MAX_YAML_DEPTH = 64


def size_text(size: int) -> str:
    """Bytes as people read them: 27.0 MB, 1 MiB."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB".replace(".0 MiB", " MiB")
    if size >= 1024:
        return f"{size / 1024:.1f} KiB".replace(".0 KiB", " KiB")
    return f"{size} bytes"
