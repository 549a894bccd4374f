"""A commit's files read straight from git's objects: no checkout, no symlink, sizes first.

Why not extract the commit to a folder: a commit may hold a 200 MB binary or a
symlink to /etc/passwd beside its YAML, and a checkout writes all of it and
follows none of our rules. Here a folder is listed with `git ls-tree` (names,
modes and blob sizes, nothing read), the loader picks the YAML files and
checks their sizes, and only those blobs are read, in one `git cat-file
--batch`. A symlink is a blob with mode 120000: it is reported, never
followed, so nothing outside the commit can be read.
"""

from __future__ import annotations

from controller.source.gitcmd import Git, SourceError, reason
from controller.spec import limits
from controller.spec.files import Entry, EntryKind, FileRefused, NotAFolder, StackFiles, child

# git's modes: a folder, a symlink, a submodule; every other blob is a regular file.
_KINDS: dict[str, EntryKind] = {"040000": "folder", "120000": "symlink", "160000": "other"}


class CommitFiles(StackFiles):
    """The files of commit `sha` in the repository `git` runs against."""

    def __init__(self, git: Git, sha: str, timeout: float) -> None:
        self.git = git
        self.sha = sha
        self.timeout = timeout
        self._blobs: dict[str, str] = {}  # path -> object id, from the listings so far
        self._listed: dict[str, list[Entry] | None] = {}

    def entries(self, folder: str) -> list[Entry] | None:
        if folder not in self._listed:
            self._listed[folder] = self._list(folder)
        return self._listed[folder]

    def _list(self, folder: str) -> list[Entry] | None:
        if folder != ".":
            parent, _, name = folder.rpartition("/")
            own = next((e for e in self.entries(parent or ".") or [] if e.name == name), None)
            if own is None:
                return None
            if own.kind == "symlink":
                raise FileRefused(folder, "a symlink, which is never followed")
            if own.kind != "folder":
                raise NotAFolder(folder, "a file" if own.kind == "file" else "a submodule")
        spec = f"{self.sha}:{folder}" if folder != "." else f"{self.sha}^{{tree}}"
        result = self.git.run_bytes(
            ["ls-tree", "-z", "-l", spec], timeout=self.timeout,
            what=f"listing {folder} at {self.sha[:12]}",
            max_output=limits.MAX_FOLDER_ENTRIES * 512)
        if result.returncode != 0:
            raise SourceError(f"cannot list {folder} at {self.sha[:12]}: "
                              f"{reason(result.stderr)}")
        found: list[Entry] = []
        for record in result.stdout.split(b"\0"):
            if not record:
                continue
            if len(found) >= limits.MAX_FOLDER_ENTRIES:
                raise FileRefused(folder, f"more than {limits.MAX_FOLDER_ENTRIES:,} entries in "
                                          "one folder")
            head, _, raw_name = record.partition(b"\t")
            mode, _kind, oid, size = head.decode().split(maxsplit=3)
            name = raw_name.decode(errors="replace")
            kind = _KINDS.get(mode, "file")
            found.append(Entry(name, kind, int(size) if size.strip().isdigit() else 0))
            if kind == "file":
                self._blobs[child(folder, name)] = oid
        return found

    def read(self, paths: list[str]) -> dict[str, bytes | FileRefused]:
        """All the blobs in one `git cat-file --batch` (sizes were checked from the listing)."""
        out: dict[str, bytes | FileRefused] = {}
        wanted = [p for p in paths if p in self._blobs]
        for path in paths:
            if path not in self._blobs:
                out[path] = FileRefused(path, "not a regular file of the commit")
        if not wanted:
            return out
        request = "".join(f"{self._blobs[p]}\n" for p in wanted).encode()
        result = self.git.run_bytes(
            ["cat-file", "--batch"], stdin=request, timeout=self.timeout,
            what=f"reading files of {self.sha[:12]}",
            max_output=limits.MAX_STACK_BYTES + 128 * len(wanted))
        if result.returncode != 0:
            raise SourceError(f"cannot read files of {self.sha[:12]}: {reason(result.stderr)}")
        data, pos = result.stdout, 0
        for path in wanted:
            end = data.index(b"\n", pos)
            header = data[pos:end].split()
            size = int(header[2]) if len(header) == 3 else -1
            if size < 0 or size > limits.MAX_FILE_BYTES:
                out[path] = FileRefused(path, "not readable from the commit")
                pos = end + 1
                continue
            out[path] = data[end + 1:end + 1 + size]
            pos = end + 1 + size + 1
        return out

    def display(self, path: str) -> str:
        return path
