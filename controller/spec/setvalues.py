"""`gitops set STACK NAME=VALUE...`: change values of a stack.yaml as a person would.

A CI job that built image 1.4.3 changes one line, `api_image_tag: "1.4.2"`, and the
reviewer of its pull request sees that line and nothing else. So the file is never
re-dumped (that loses comments, order and quoting): each value's exact span is found
from the YAML node's marks and only that text is replaced, keeping its quote style
and the comment after it. A value keeps its type: a string stays a string even when
the new text would read as a number (`1.10`), so it is quoted where YAML needs it; a
number or a boolean only takes a new number or boolean.

The edited text is checked twice before anything is written: it must read back as
the old values with only the named ones changed, and the stack it makes must pass
the same validation as `gitops validate` (read from memory, not from disk). Then it
replaces the file in one rename, so the file is never half written.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from controller.model import Kinds
from controller.spec import limits
from controller.spec.files import Entry, FileRefused, StackFiles, child, display_path, local_stack
from controller.spec.loader import STACK_FILE, load_stack_files
from controller.spec.suggest import did_you_mean
from controller.spec.yamldoc import load_documents

STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}"
                               for t in ("str", "int", "float", "bool", "null"))
# What a value of each type may be set to, in words for the error.
TYPE_WORDS = {INT: "a whole number", FLOAT: "a number", BOOL: "true or false"}


class SetError(Exception):
    """Nothing was written; the message says why, naming the file."""


@dataclass(frozen=True)
class Change:
    """One NAME=VALUE as applied: the old and new text of the value (no quotes)."""

    name: str
    old: str
    new: str
    changed: bool

    def __str__(self) -> str:
        if self.changed:
            return f"{self.name} {self.old} -> {self.new}"
        return f"{self.name} unchanged ({self.old})"


def parse_assignments(args: list[str]) -> dict[str, str]:
    """NAME=VALUE arguments as {name: value}; SetError for one without '=' or a name given
    twice (which of the two would win is not obvious to a reader of the CI job)."""
    out: dict[str, str] = {}
    for arg in args:
        name, eq, value = arg.partition("=")
        if not eq or not name:
            raise SetError(f"{arg!r}: expected NAME=VALUE, e.g. api_image_tag=1.4.3")
        if name in out:
            raise SetError(f"{name} is given twice")
        if not value.isprintable():
            raise SetError(f"{name}: a value is one line of printable text")
        out[name] = value
    return out


# ---- finding the values in the text -------------------------------------------------------

def _compose(text: str) -> Node | None:
    """The document's node tree, with marks that index `text`'s characters (PyYAML's
    pure-Python reader: libyaml's marks are not documented to count characters)."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


def _values_node(root: Node | None, shown: str) -> MappingNode:
    if not isinstance(root, MappingNode):
        raise SetError(f"{shown}: a stack.yaml is one mapping with name, region, account, "
                       "includes and values")
    for key, value in root.value:
        if isinstance(key, ScalarNode) and key.value == "values":
            if not isinstance(value, MappingNode):
                raise SetError(f"{shown}:{value.start_mark.line + 1}: values is not a mapping")
            return value
    raise SetError(f"{shown}: there is no `values:` mapping to set a value in")


def _entries(values: MappingNode) -> dict[str, tuple[ScalarNode, Node]]:
    """name -> (key node, value node) of the values mapping."""
    return {key.value: (key, value) for key, value in values.value
            if isinstance(key, ScalarNode)}


def _scalar(key: ScalarNode, node: Node, name: str, text: str, shown: str) -> ScalarNode:
    """The value's node when it is a scalar written on one line after its key, bare or
    quoted; else SetError saying why `set` does not edit it."""
    where = f"{shown}:{key.start_mark.line + 1}: {name}"
    if not isinstance(node, ScalarNode):
        raise SetError(f"{where} is a {'mapping' if isinstance(node, MappingNode) else 'list'}"
                       ": gitops set sets one-line values")
    if node.start_mark.index < key.end_mark.index:
        raise SetError(f"{where} is an alias (*name) of another value: edit it by hand")
    if node.style in ("|", ">") or node.start_mark.line != node.end_mark.line:
        raise SetError(f"{where} spans several lines: gitops set sets one-line values")
    if text[node.start_mark.index:node.start_mark.index + 1] in ("&", "!"):
        raise SetError(f"{where} has an anchor (&name) or a tag (!tag): edit it by hand")
    return node


# ---- writing a new value -----------------------------------------------------------------

def _plain_reads_as(value: str, in_flow: bool) -> str | None:
    """The tag YAML gives `value` written plain after a key, or None when it cannot be
    written plain (YAML would read other text: `a # b`, `- x`, `{`, a trailing space)."""
    if in_flow and any(c in value for c in ",[]{}"):
        return None
    try:
        node = _compose(f"k: {value}\n")
    except yaml.YAMLError:
        return None
    if not isinstance(node, MappingNode) or len(node.value) != 1:
        return None
    scalar = node.value[0][1]
    if not isinstance(scalar, ScalarNode) or scalar.style is not None or scalar.value != value:
        return None
    return str(scalar.tag)


def _quoted(value: str, quote: str) -> str:
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    # A JSON string is a YAML double-quoted scalar: the same escapes.
    return json.dumps(value, ensure_ascii=False)


def _typed(value: str) -> Any:
    """`value` as YAML reads it written plain: a number or a boolean."""
    return yaml.safe_load(f"k: {value}\n")["k"]


def _new_text(node: ScalarNode, value: str, in_flow: bool, where: str) -> tuple[str, Any]:
    """The text to write for `value` in place of `node`, and the value YAML will read.

    A string (or an empty value) stays a string: in its old quotes, plain where YAML
    reads the text as that same string, else double-quoted. A number or boolean takes
    only a value YAML reads as the same type (a number may become a whole one).
    """
    old_tag = str(node.tag)
    reads_as = _plain_reads_as(value, in_flow)
    if old_tag in (STR, NULL):
        if node.style in ("'", '"'):
            return _quoted(value, node.style), value
        return (value if reads_as == STR else _quoted(value, '"')), value
    if reads_as != old_tag and not (old_tag == FLOAT and reads_as == INT):
        kind = TYPE_WORDS.get(old_tag, old_tag)
        raise SetError(f"{where} is {kind} ({node.value}): {value!r} is not; a value keeps "
                       "its type")
    return value, _typed(value)


# ---- the edit ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Edit:
    """The edited text of stack.yaml and what changed in it."""

    text: str
    changes: list[Change]

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


def edit_values(text: str, assignments: dict[str, str], shown: str) -> Edit:
    """`text` (a stack.yaml) with each named value replaced, every other character
    kept; SetError naming `shown` (the file as messages name it) when a name is not a
    value or a value cannot be set."""
    old_values = _read(text, shown)["values"]  # bounded: refuses an alias bomb first
    values = _values_node(_compose(text), shown)
    entries = _entries(values)
    splices: list[tuple[int, int, str]] = []
    expected = dict(old_values)
    changes: list[Change] = []
    for name, value in assignments.items():
        if name not in entries:
            raise SetError(f"{shown}: no value named {name!r} in values"
                           + (did_you_mean(name, entries)
                              or f" (it has {', '.join(entries)})"))
        key, written = entries[name]
        node = _scalar(key, written, name, text, shown)
        where = f"{shown}:{key.start_mark.line + 1}: {name}"
        new_text, new_value = _new_text(node, value, bool(values.flow_style), where)
        old_value = old_values[name]
        same = type(old_value) is type(new_value) and old_value == new_value
        changes.append(Change(name, str(node.value), value, not same))
        if not same:
            start, end = node.start_mark.index, node.end_mark.index
            # `name:` with nothing after it (null) is an empty span right after the colon.
            splices.append((start, end, new_text if end > start else f" {new_text}"))
            expected[name] = new_value
    edited = text
    for start, end, new_text in sorted(splices, reverse=True):
        edited = edited[:start] + new_text + edited[end:]
    _check_reads_back(edited, text, expected, shown)
    return Edit(edited, changes)


def _read(text: str, shown: str) -> dict[str, Any]:
    """stack.yaml's mapping, read within the loader's bounds (an alias bomb or a key
    written twice is refused as `gitops validate` refuses it)."""
    try:
        documents = load_documents(text)
    except yaml.YAMLError as err:
        raise SetError(f"{shown}: invalid YAML: {err}") from None
    if len(documents) != 1 or not isinstance(documents[0].value, dict):
        raise SetError(f"{shown}: a stack.yaml is one mapping with name, region, account, "
                       "includes and values")
    document = documents[0].value
    if not isinstance(document.get("values"), dict):
        raise SetError(f"{shown}: there is no `values:` mapping to set a value in")
    return document


def _check_reads_back(edited: str, text: str, expected: dict[str, Any], shown: str) -> None:
    """The edited file must read as the old one with only the named values changed: a
    guard against any text the splice could make that YAML reads otherwise."""
    try:
        before, after = _read(text, shown), _read(edited, shown)
    except SetError as err:
        raise SetError(f"{err}: the edit would make it so; nothing was written, edit it "
                       "by hand") from None
    before["values"] = expected
    if after != before or any(type(after["values"][k]) is not type(v)
                              for k, v in expected.items()):
        raise SetError(f"{shown}: the edit would change more than the values named: nothing "
                       "was written; edit it by hand")


# ---- validating from memory, then writing -------------------------------------------------

class _WithEditedFile(StackFiles):
    """The stack's files as they are on disk, but for one file read from memory: the
    loader validates the edit exactly as it would validate the file once written."""

    def __init__(self, files: StackFiles, path: str, data: bytes) -> None:
        self.files = files
        self.path = path
        self.data = data

    def entries(self, folder: str) -> list[Entry] | None:
        found = self.files.entries(folder)
        if found is None:
            return None
        return [Entry(e.name, e.kind, len(self.data)) if child(folder, e.name) == self.path
                else e for e in found]

    def read(self, paths: list[str]) -> dict[str, bytes | FileRefused]:
        out = self.files.read([p for p in paths if p != self.path])
        if self.path in paths:
            out[self.path] = self.data
        return out

    def display(self, path: str) -> str:
        return self.files.display(path)


def validate_edit(folder: str | Path, data: bytes, kinds: Kinds) -> None:
    """Validate the stack in `folder` with stack.yaml's bytes replaced by `data`; raises
    ValidationFailed with every issue, as `gitops validate` reports them."""
    files, relative = local_stack(folder)
    edited = _WithEditedFile(files, child(relative, STACK_FILE), data)
    load_stack_files(edited, relative, kinds, source=str(folder))


def read_stack_file(folder: str | Path) -> tuple[Path, str]:
    """stack.yaml of `folder`, and its text; SetError when it cannot be read."""
    path = Path(folder) / STACK_FILE
    shown = display_path(path)
    if path.is_symlink() or not path.is_file():
        raise SetError(f"{shown}: no such file (a stack is a folder holding a stack.yaml, "
                       "e.g. desired/prod)")
    if path.stat().st_size > limits.MAX_FILE_BYTES:
        raise SetError(f"{shown}: over the {limits.size_text(limits.MAX_FILE_BYTES)} limit "
                       "of one file")
    try:
        return path, path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise SetError(f"{shown}: not UTF-8 text") from None
    except OSError as err:
        raise SetError(f"{shown}: cannot read: {err.strerror}") from None


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` by `text` in one rename (a temporary file in the same folder, with
    the file's mode): a reader sees the old file or the new one, never a part."""
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def set_values(folder: str | Path, arguments: list[str], kinds: Kinds) -> tuple[str, Edit]:
    """Apply NAME=VALUE `arguments` to the stack.yaml of `folder`, all or none: the file
    as messages name it, and the edit. Raises SetError, or ValidationFailed when the
    edited stack is invalid; in both cases the file is left as it was."""
    assignments = parse_assignments(arguments)
    path, text = read_stack_file(folder)
    shown = display_path(path)
    edit = edit_values(text, assignments, shown)
    if edit.changed:
        validate_edit(folder, edit.text.encode("utf-8"), kinds)
        try:
            write_atomically(path, edit.text)
        except OSError as err:
            raise SetError(f"{shown}: cannot write: {err.strerror}; it was left as it "
                           "was") from None
    return shown, edit
