"""Where a stack's files are read from: one root, no symlinks, sizes known before reading.

The loader never opens a path itself. It asks a `StackFiles` for the entries
of a folder (names, kinds and sizes) and then for the bytes of the files it
chose, all by POSIX paths relative to the root. Two kinds of root exist:

- `LocalFiles`: a folder on disk, confined to the git work tree it lives in
  (or, outside git, to the stack folder's parent, where `../base` lives);
- `source.commit_files.CommitFiles`: a commit's objects, never a checkout.

Both refuse symlinks: a link to `/etc/passwd` or to `/dev/zero` would read
outside the commit, or forever. `..` past the root is refused by
`inside_root` before any file system call.
"""

from __future__ import annotations

import os
import posixpath
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from controller.spec import limits

EntryKind = Literal["file", "folder", "symlink", "other"]


@dataclass(frozen=True)
class Entry:
    """One name in a folder: what it is and, for a file, its size in bytes."""

    name: str
    kind: EntryKind
    size: int = 0


class FileRefused(Exception):
    """A file or folder that is not read: `path` (as messages show it) and why."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class NotAFolder(FileRefused):
    """A folder was asked for and something else is there (`found`: "a file", ...).

    Apart from a missing folder (`entries` returns None) so that the message can
    say which mistake it is: `desired/prod/stack.yaml` given as the stack, or an
    include naming a file.
    """

    def __init__(self, path: str, found: str = "a file") -> None:
        self.found = found
        super().__init__(path, f"expected a folder, got {found}")


class StackFiles(ABC):
    """A tree of files addressed by POSIX paths relative to its root (`.` is the root)."""

    @abstractmethod
    def entries(self, folder: str) -> list[Entry] | None:
        """The folder's entries, or None when there is no such folder.

        Raises NotAFolder when a file is there instead; FileRefused when the folder
        or a folder on the way is a symlink, or it holds more than MAX_FOLDER_ENTRIES
        entries.
        """

    @abstractmethod
    def read(self, paths: list[str]) -> dict[str, bytes | FileRefused]:
        """The bytes of each regular file that `entries` listed, or why it was not read."""

    @abstractmethod
    def display(self, path: str) -> str:
        """How messages name `path`: relative to the working directory, or to the repository."""


def child(folder: str, name: str) -> str:
    """The root-relative path of `name` in `folder` (`.` is the root)."""
    return name if folder == "." else f"{folder}/{name}"


def inside_root(base: str, relative: str) -> str | None:
    """`base/relative` normalised, or None when it is absolute or leaves the root."""
    if relative.startswith("/") or posixpath.isabs(relative):
        return None
    joined = posixpath.normpath(posixpath.join(base, relative))
    if joined == ".." or joined.startswith("../"):
        return None
    return joined


def display_path(path: Path) -> str:
    """Paths in messages read relative to the working directory when they can."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def find_root(folder: Path) -> Path:
    """The git work tree that holds `folder` (the nearest parent with `.git`), else its parent.

    Found by looking at the file system, not by running git: `gitops validate`
    stays quick, and a folder outside any repository still reads `../base`.
    """
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder.parent


class LocalFiles(StackFiles):
    """Files under `root` on disk, read without following any symlink."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def entries(self, folder: str) -> list[Entry] | None:
        path = self._path(folder)
        try:
            mode = path.lstat().st_mode
        except (FileNotFoundError, NotADirectoryError):  # the latter: a file on the way
            return None
        if not stat.S_ISDIR(mode):
            raise NotAFolder(self.display(folder),
                             "a file" if stat.S_ISREG(mode) else "a special file")
        found: list[Entry] = []
        with os.scandir(path) as listing:
            for item in listing:
                if len(found) >= limits.MAX_FOLDER_ENTRIES:
                    raise FileRefused(self.display(folder), f"more than "
                                      f"{limits.MAX_FOLDER_ENTRIES:,} entries in one folder")
                found.append(_entry(item))
        return found

    def read(self, paths: list[str]) -> dict[str, bytes | FileRefused]:
        out: dict[str, bytes | FileRefused] = {}
        for path in paths:
            try:
                out[path] = self._read_one(path)
            except FileRefused as err:
                out[path] = err
        return out

    def display(self, path: str) -> str:
        return display_path(self.root / path)

    def _path(self, relative: str) -> Path:
        """The path on disk; FileRefused if any folder on the way is a symlink."""
        path = self.root
        for part in Path(relative).parts:
            if part == ".":
                continue
            path = path / part
            if path.is_symlink():
                raise FileRefused(display_path(path), "a symlink, which is never followed")
        return path

    def _read_one(self, relative: str) -> bytes:
        path = self._path(relative)
        try:
            # O_NOFOLLOW: a file swapped for a symlink since it was listed is still refused;
            # O_NONBLOCK: a FIFO never blocks the read.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as err:
            raise FileRefused(self.display(relative), f"cannot read: {err.strerror}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileRefused(self.display(relative), "not a regular file")
            data = b""
            while len(data) <= limits.MAX_FILE_BYTES:
                chunk = os.read(fd, limits.MAX_FILE_BYTES + 1 - len(data))
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        if len(data) > limits.MAX_FILE_BYTES:
            raise FileRefused(self.display(relative), f"over the "
                              f"{limits.size_text(limits.MAX_FILE_BYTES)} limit of one file")
        return data


def _entry(item: os.DirEntry[str]) -> Entry:
    if item.is_symlink():
        return Entry(item.name, "symlink")
    if item.is_dir(follow_symlinks=False):
        return Entry(item.name, "folder")
    if item.is_file(follow_symlinks=False):
        return Entry(item.name, "file", item.stat(follow_symlinks=False).st_size)
    return Entry(item.name, "other")


def local_stack(folder: str | Path) -> tuple[LocalFiles, str]:
    """The confined files a local stack folder is read from, and the folder inside them."""
    # abspath, not resolve(): a stack folder that is itself a committed symlink must be
    # seen, and refused, rather than followed.
    absolute = Path(os.path.abspath(folder))
    root = find_root(absolute)
    return LocalFiles(root), absolute.relative_to(root).as_posix()
