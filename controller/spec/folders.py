"""Folders a spec names (a function's code), read whole through the stack's confined files.

A kind lists the spec fields that name a folder of the repository (`Driver.folders`,
e.g. "code.path", relative to the YAML file's folder). The loader reads each one
through the same `StackFiles` as the YAML, under the same rules: inside the
repository, no symlink anywhere in it (one is refused, never followed), every
file's size and the stack's total counted from the listing before a byte is read,
files and folders counted against the stack's file limit, and nesting bounded. The
driver gets a `Folder`: the path as written, carrying the bytes; it never opens a
file itself.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.model import Folder, Kinds
from controller.spec import limits
from controller.spec.files import FileRefused, StackFiles, child, inside_root
from controller.spec.issues import Issue
from controller.spec.model_errors import field_path
from controller.spec.stack import ResourceDoc
from controller.spec.substitution import find_refs
from controller.spec.yamldoc import YamlDoc

RELATIVE_HINT = "a folder inside the repository, relative to this file's folder"


class FolderProblem(Exception):
    """Why a folder cannot be read, in a user's words (the loader adds file and line);
    `missing`: there is no such folder (the message then says where paths start)."""

    def __init__(self, message: str, missing: bool = False) -> None:
        self.missing = missing
        super().__init__(message)


@dataclass
class Budget:
    """What the stack has used of its limits so far: bytes read and files listed."""

    bytes: int
    files: int


def read_folders(files: StackFiles, resources: list[ResourceDoc],
                 docs_by_id: Mapping[str, YamlDoc], origins: Mapping[str, str], kinds: Kinds,
                 budget: Budget, issues: list[Issue]) -> set[str]:
    """Read every folder a spec names (`Kind.folders`) and put it in that spec as a
    `Folder`, charging `budget`; an issue at the path's line for each one that cannot be
    read. `origins`: each resource's file, root-relative. Returns the ids whose folder
    was not read (not linted: their issue says why)."""
    done: dict[str, dict[str, bytes] | FolderProblem] = {}  # a folder two specs name: once
    failed: set[str] = set()
    for res in resources:
        for dotted in kinds[res.kind].folders:
            loc = tuple(dotted.split("."))
            problem = _attach(files, res, origins[res.id], loc, budget, done)
            if problem is not None:
                written = str(_get(res.spec, loc)).replace("$$", "$")
                issues.append(Issue(res.file, docs_by_id[res.id].line_of(("spec", *loc)),
                                    f"folder {written!r}: {problem}", res.id,
                                    field_path(("spec", *loc))))
                failed.add(res.id)
    return failed


def _get(spec: dict[str, Any], loc: tuple[str, ...]) -> Any:
    value: Any = spec
    for key in loc:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _attach(files: StackFiles, res: ResourceDoc, origin: str, loc: tuple[str, ...],
            budget: Budget, done: dict[str, dict[str, bytes] | FolderProblem]) -> str | None:
    """Replace the path at `loc` of the spec, when one is set, by its `Folder`; else why
    not. The path is read in the form values made (template `$$` back to `$`)."""
    value = _get(res.spec, loc)
    if not isinstance(value, str):
        return None  # not set: the spec names no folder (e.g. a function's S3 source)
    if find_refs(value):
        return "a folder is read when the stack is loaded, so it cannot hold a ${ref:...}"
    written = value.replace("$$", "$")
    target = inside_root(posixpath.dirname(origin), written)
    if target is None:
        return f"leaves the repository: {RELATIVE_HINT}"
    if target not in done:
        try:
            done[target] = read_folder(files, target, budget)
        except FolderProblem as err:
            done[target] = err
    found = done[target]
    if isinstance(found, FolderProblem):
        return f"{found} ({RELATIVE_HINT})" if found.missing else str(found)
    _get(res.spec, loc[:-1])[loc[-1]] = Folder(written, found)
    return None


def read_folder(files: StackFiles, folder: str, budget: Budget) -> dict[str, bytes]:
    """Every file under `folder` (root-relative), by its path inside the folder; the sizes
    are checked before anything is read, and what is read is charged to `budget`.
    Raises FolderProblem when the folder is missing, empty, holds a symlink or a special
    file, or passes a limit."""
    listed = _list_files(files, folder, budget)
    if not listed:
        raise FolderProblem(f"{files.display(folder)} holds no file")
    for path, size in listed:
        if size > limits.MAX_FILE_BYTES:
            raise FolderProblem(f"{files.display(path)} is {limits.size_text(size)}, over "
                                f"the {limits.size_text(limits.MAX_FILE_BYTES)} limit of "
                                "one file")
    total = sum(size for _, size in listed)
    if budget.bytes + total > limits.MAX_STACK_BYTES:
        raise FolderProblem(f"its {limits.size_text(total)} with the stack's other files "
                            f"pass the {limits.size_text(limits.MAX_STACK_BYTES)} limit of "
                            "one stack")
    out: dict[str, bytes] = {}
    for path, data in files.read([path for path, _ in listed]).items():
        if isinstance(data, FileRefused):
            raise FolderProblem(f"{data.path}: {data.reason}")
        out[posixpath.relpath(path, folder)] = data
    budget.bytes += total
    budget.files += len(listed)
    return out


def _list_files(files: StackFiles, folder: str, budget: Budget) -> list[tuple[str, int]]:
    """(root-relative path, size) of every file under `folder`, sorted: listings only."""
    found: list[tuple[str, int]] = []
    pending = [(folder, 0)]
    listed = 0  # files and folders: each folder is one more listing (one git call)
    while pending:
        current, depth = pending.pop()
        for name, kind, size in _entries(files, current, top=current == folder):
            path = child(current, name)
            listed += 1
            if budget.files + listed > limits.MAX_FILES:
                raise FolderProblem(f"more than {limits.MAX_FILES:,} files in the stack "
                                    "(its YAML files and the folders it reads)")
            if kind == "symlink":
                raise FolderProblem(f"{files.display(path)} is a symlink, which is never "
                                    "followed: commit the file itself")
            if kind == "other":
                raise FolderProblem(f"{files.display(path)} is not a regular file (a "
                                    "submodule or a special file)")
            if kind == "folder":
                if depth + 1 > limits.MAX_FOLDER_DEPTH:
                    raise FolderProblem(f"{files.display(path)} is nested deeper than "
                                        f"{limits.MAX_FOLDER_DEPTH} folders")
                pending.append((path, depth + 1))
            else:
                found.append((path, size))
    return sorted(found)


def _entries(files: StackFiles, folder: str, top: bool) -> list[tuple[str, str, int]]:
    """(name, kind, size) of each entry of `folder`, or FolderProblem saying what is there."""
    try:
        entries = files.entries(folder)
    except FileRefused as err:  # a file there (NotAFolder), a symlink on the way, too many
        raise FolderProblem(f"{err.path}: {err.reason}") from None
    if entries is None:
        if top:
            raise FolderProblem(f"no such folder {files.display(folder)}", missing=True)
        raise FolderProblem(f"{files.display(folder)} vanished while it was read")
    return [(e.name, e.kind, e.size) for e in entries]
