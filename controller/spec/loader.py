"""Load a stack folder into a validated `Stack`, reporting every error at once.

The pipeline: stack.yaml -> included folders -> YAML documents -> envelope
check -> values -> per-kind spec model -> names -> the folders specs name (a
function's code, `Kind.folders`) -> refs (dangling, attribute, cycles) -> each
kind's checks across the stack (`Driver.lint`). Each step adds
`Issue`s instead of stopping, so a user fixes everything in one pass; root
causes come first (`issues.Rank`), and a ref that a file not read may explain
is folded into that file's issue rather than reported on its own (`refs`).

Files come through a `StackFiles` (a confined folder, or a commit's objects)
and every read is bounded (`limits`): sizes are checked from the listing
before a byte is read, and YAML is parsed within one node budget per stack.
Only `.yaml`/`.yml` files at the top of each stack folder are documents; other
files (a function's handler.py) and subfolders are read only when a spec names
their folder, whole, as a `Folder` value in that spec (`folders`).
"""

from __future__ import annotations

import dataclasses
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from controller.model import TAG_SAFE_NAME, Declared, Kind, Kinds, Policy
from controller.spec import limits
from controller.spec.files import (
    Entry,
    FileRefused,
    NotAFolder,
    StackFiles,
    child,
    inside_root,
    local_stack,
)
from controller.spec.folders import Budget, read_folders
from controller.spec.issues import Issue, Rank, ValidationFailed
from controller.spec.model_errors import Where, field_path, model_issues
from controller.spec.refs import Invalid, Unread, add_notes, check_refs
from controller.spec.stack import ResourceDoc, Stack, StackConfig
from controller.spec.substitution import SubstitutionError, substitute_values, whole_refs
from controller.spec.suggest import closest, did_you_mean
from controller.spec.yamldoc import NodeBudget, YamlDoc, load_documents

ENVELOPE_KEYS = ("kind", "name", "spec", "policy", "adopt", "dependsOn")
YAML_SUFFIXES = (".yaml", ".yml")
STACK_FILE = "stack.yaml"
STACK_HINT = "a stack is a folder holding a stack.yaml, e.g. desired/prod"
INCLUDE_HINT = "includes are folders inside the repository, relative to stack.yaml (e.g. ../base)"

@dataclass
class _Reading:
    """One load: where its files come from, what it has read so far, what went wrong."""

    files: StackFiles
    issues: list[Issue] = field(default_factory=list)
    budget: NodeBudget = field(default_factory=NodeBudget)
    stack_bytes: int = 0
    unread: list[Unread] = field(default_factory=list)

    def root_cause(self, issue: Issue, text: str | None = None,
                   subject: str = "this file") -> None:
        """Record the issue of a file or folder not read: listed first, and the refs to
        what it may define are folded into it (`refs.Unread`)."""
        self.unread.append(Unread(len(self.issues), text, subject))
        self.issues.append(dataclasses.replace(issue, rank=Rank.FILES))

    def texts(self, listed: list[tuple[str, int]]) -> dict[str, str]:
        """The text of each listed (path, size), within the file and stack limits."""
        wanted: list[str] = []
        for path, size in listed:
            shown = self.files.display(path)
            if size > limits.MAX_FILE_BYTES:
                self.root_cause(Issue(shown, 0, f"{limits.size_text(size)}, over the "
                                      f"{limits.size_text(limits.MAX_FILE_BYTES)} limit of "
                                      "one file: split it"))
                continue
            if self.stack_bytes + size > limits.MAX_STACK_BYTES:
                self.root_cause(Issue(shown, 0, "the stack's files together pass the "
                                      f"{limits.size_text(limits.MAX_STACK_BYTES)} limit of "
                                      "one stack: this file and the ones after it are not "
                                      "read"), subject="the files not read")
                break
            self.stack_bytes += size
            wanted.append(path)
        out: dict[str, str] = {}
        for path, data in self.files.read(wanted).items():
            if isinstance(data, FileRefused):
                self.root_cause(Issue(data.path, 0, data.reason))
                continue
            try:
                out[path] = data.decode("utf-8")
            except UnicodeDecodeError as err:
                # The line of the first byte that is not UTF-8, counted in the bytes.
                line = data.count(b"\n", 0, err.start) + 1
                self.root_cause(Issue(self.files.display(path), line, f"not UTF-8 text (byte "
                                      f"{err.start}): YAML files are text"),
                                text=data.decode("utf-8", errors="replace"))
        return out

    def documents(self, path: str, text: str) -> list[YamlDoc]:
        try:
            return load_documents(text, self.budget)
        except yaml.YAMLError as err:
            self.root_cause(_yaml_issue(self.files.display(path), err), text=text)
            return []

    def entries(self, folder: str) -> list[Entry] | None:
        """The folder's entries; None, with its issue, when it cannot be listed."""
        try:
            return self.files.entries(folder)
        except FileRefused as err:
            self.root_cause(Issue(err.path, 0, err.reason), subject="this folder")
            return None


def _stack_entries(reading: _Reading, folder: str) -> list[Entry] | None:
    """The stack folder's entries; None with the issue that says what is there instead."""
    files = reading.files
    try:
        entries = files.entries(folder)
    except NotAFolder as err:
        parent = posixpath.dirname(folder)
        hint = (f"give the folder that holds it, {files.display(parent or '.')}"
                if posixpath.basename(folder) == STACK_FILE else STACK_HINT)
        reading.root_cause(Issue(err.path, 0, f"{err.reason}: {hint}"))
        return None
    except FileRefused as err:
        reading.root_cause(Issue(err.path, 0, err.reason))
        return None
    if entries is None:
        reading.root_cause(Issue(files.display(folder), 0, f"no such folder: {STACK_HINT}"))
    return entries


def _stack_config(reading: _Reading, folder: str) -> tuple[StackConfig | None, YamlDoc | None]:
    """stack.yaml, validated, and its document (for the lines of `includes`)."""
    files = reading.files
    path = child(folder, STACK_FILE)
    shown = files.display(path)
    entries = _stack_entries(reading, folder)
    if entries is None:
        return None, None
    entry = next((e for e in entries if e.name == STACK_FILE), None)
    if entry is None or entry.kind != "file":
        why = ("is a symlink, which is never followed" if entry is not None
               and entry.kind == "symlink" else
               "missing: a stack folder names its stack, region, account, includes and "
               "values there")
        reading.root_cause(Issue(shown, 0, why))
        return None, None
    text = reading.texts([(path, entry.size)]).get(path)
    docs = reading.documents(path, text) if text is not None else []
    if text is None or reading.issues:
        return None, None
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        reading.root_cause(Issue(shown, docs[0].start_line if docs else 0,
                                 "stack.yaml must hold exactly one mapping"))
        return None, None
    try:
        return StackConfig.model_validate(docs[0].value), docs[0]
    except ValidationError as err:
        where = Where(docs[0], shown, (), None, Rank.FILES, show_input=True)
        reading.issues.extend(model_issues(err, StackConfig, docs[0].value, where))
        return None, None


def _yaml_issue(file: str, err: yaml.YAMLError) -> Issue:
    """The line of the problem, and where the construct it broke started when elsewhere
    (an unclosed `[` opened lines above the line where YAML noticed)."""
    mark = getattr(err, "problem_mark", None)
    line = mark.line + 1 if mark else 0
    problem = getattr(err, "problem", None) or str(err)
    context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
    if context and context_mark is not None and context_mark.line + 1 != line:
        problem += f" ({context} started at line {context_mark.line + 1})"
    return Issue(file, line, f"invalid YAML: {problem}", rank=Rank.FILES)


def _folders(reading: _Reading, folder: str, config: StackConfig,
             doc: YamlDoc) -> list[tuple[str, int | None]]:
    """The stack folder, then each include (with its index): folders inside the root, once."""
    shown = reading.files.display(child(folder, STACK_FILE))
    folders: list[tuple[str, int | None]] = [(folder, None)]
    if len(config.includes) > limits.MAX_INCLUDES:
        reading.root_cause(Issue(shown, doc.line_of(("includes",)), f"more than "
                                 f"{limits.MAX_INCLUDES} includes", field="includes"),
                           subject="the includes not read")
        return folders
    for i, include in enumerate(config.includes):
        target = inside_root(folder, include)
        if target is None:
            reading.root_cause(Issue(
                shown, doc.line_of(("includes", i)), f"include {include!r} leaves the "
                "repository: includes are folders inside it, relative to stack.yaml "
                "(e.g. ../base)", field=f"includes[{i}]"), subject="this include")
        elif target not in [f for f, _ in folders]:
            folders.append((target, i))
    return folders


def _include_entries(reading: _Reading, folder: str, include: int, config: StackConfig,
                     stack_file: str, doc: YamlDoc) -> list[Entry] | None:
    """An included folder's entries; None with an issue at its line of stack.yaml."""
    written = config.includes[include]
    where = (stack_file, doc.line_of(("includes", include)))
    try:
        entries = reading.files.entries(folder)
    except NotAFolder as err:
        reading.root_cause(Issue(*where, f"include {written!r}: {err.reason}: {INCLUDE_HINT}",
                                 field=f"includes[{include}]"), subject="this include")
        return None
    except FileRefused as err:
        reading.root_cause(Issue(err.path, 0, err.reason), subject="this folder")
        return None
    if entries is None:
        reading.root_cause(Issue(*where, f"include {written!r}: no such folder"
                                 + _sibling_folder(reading.files, folder, written),
                                 field=f"includes[{include}]"), subject="this include")
    return entries


def _sibling_folder(files: StackFiles, folder: str, written: str) -> str:
    """": did you mean ../base?" when a folder beside the missing one is named like it."""
    try:
        around = files.entries(posixpath.dirname(folder) or ".") or []
    except FileRefused:
        return ""
    name = closest(posixpath.basename(folder), [e.name for e in around if e.kind == "folder"])
    if name is None:
        return ""
    return f": did you mean {posixpath.join(posixpath.dirname(written.rstrip('/')), name)}?"


def _resource_files(reading: _Reading, folders: list[tuple[str, int | None]],
                    config: StackConfig, doc: YamlDoc) -> list[tuple[str, int]]:
    """(path, size) of the YAML files of every folder, in a stable order."""
    found: list[tuple[str, int]] = []
    stack_file = reading.files.display(child(folders[0][0], STACK_FILE))
    for folder, include in folders:
        entries = (reading.entries(folder) if include is None else
                   _include_entries(reading, folder, include, config, stack_file, doc))
        for entry in sorted(entries or [], key=lambda e: e.name):
            if not entry.name.endswith(YAML_SUFFIXES) or entry.name == STACK_FILE:
                continue
            path = child(folder, entry.name)
            if entry.kind == "symlink":
                reading.root_cause(Issue(reading.files.display(path), 0,
                                         "a symlink, which is never followed: commit the "
                                         "file itself"))
            elif entry.kind == "file":
                found.append((path, entry.size))
            if len(found) > limits.MAX_FILES:
                reading.root_cause(Issue(reading.files.display(folder), 0, f"more than "
                                         f"{limits.MAX_FILES} YAML files in the stack"),
                                   subject="the files not read")
                return found[:limits.MAX_FILES]
    return found


def parse_resource(doc: YamlDoc, file: str, config: StackConfig, kinds: Kinds,
                   issues: list[Issue]) -> ResourceDoc | None:
    """Check the envelope and the spec of one document."""
    raw = doc.value
    if not isinstance(raw, dict):
        issues.append(Issue(file, doc.start_line, "a resource document is a mapping with "
                                                  "kind, name and spec"))
        return None
    kind, name = raw.get("kind"), raw.get("name")
    named = isinstance(kind, str) and isinstance(name, str) and bool(name)
    _unknown_envelope_keys(raw, doc, file, _shown_id(kind, name) if named else None, issues)
    if not isinstance(kind, str) or not isinstance(name, str) or not name:
        issues.append(Issue(file, doc.line_of(()), "every resource needs a `kind` and a `name`"))
        return None
    driver = kinds.get(kind)
    if driver is None:
        hint = did_you_mean(kind, kinds) or f" (known: {', '.join(sorted(kinds))})"
        issues.append(Issue(file, doc.line_of(("kind",)), f"unknown kind {kind!r}{hint}",
                            _shown_id(kind, name)))
        return None
    bad_name = driver.name_rule.check(name)
    if bad_name:
        issues.append(Issue(file, doc.line_of(("name",)), f"name {name!r} is {bad_name}",
                            _shown_id(kind, name), "name"))
        return None
    rid = f"{kind}/{name}"
    sub_errors: list[SubstitutionError] = []
    spec_raw = substitute_values(raw.get("spec") or {}, config.values, sub_errors)
    for e in sub_errors:
        issues.append(Issue(file, doc.line_of(("spec", *e.path)), str(e), rid,
                            field_path(("spec", *e.path))))
    if not isinstance(spec_raw, dict):
        issues.append(Issue(file, doc.line_of(("spec",)), "spec must be a mapping", rid, "spec"))
        return None
    # A failed substitution already has its issue; validating its text would add noise.
    spec = None if sub_errors else _validated(driver.spec_model, spec_raw,
                                              Where(doc, file, ("spec",), rid), issues)
    policy = _validated(Policy, raw.get("policy") or {}, Where(doc, file, ("policy",), rid),
                        issues)
    adopt = _adopt(raw.get("adopt"), driver, doc, file, rid, issues)
    after = _depends_on(raw.get("dependsOn"), doc, file, rid, issues)
    if spec is None or policy is None or sub_errors or adopt is False or after is None:
        return None
    return ResourceDoc(kind, name, without_nulls(spec.model_dump(mode="json", exclude_unset=True,
                                                                 by_alias=True)),
                       Policy.model_validate(policy.model_dump()), file,
                       doc.line_of(("kind",)), adopt=adopt or None, after=after)


def _depends_on(value: Any, doc: YamlDoc, file: str, rid: str,
                issues: list[Issue]) -> tuple[str, ...] | None:
    """`dependsOn: [Kind/name, ...]`: the ids, () when absent, None (with an issue) when
    not a list of ids; whether they exist is checked with the refs."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
            isinstance(v, str) and "/" in v and v.isprintable() for v in value):
        issues.append(Issue(file, doc.line_of(("dependsOn",)), "a list of the resources to "
                            "make first, as Kind/name (e.g. ec2.InternetGateway/igw)", rid,
                            "dependsOn"))
        return None
    return tuple(value)


def _adopt(value: Any, kind: Kind, doc: YamlDoc, file: str, rid: str,
           issues: list[Issue]) -> str | Literal[False] | None:
    """`adopt: <AWS id>`: the id, None when absent, False (with an issue) when wrong."""
    if value is None:
        return None
    where = doc.line_of(("adopt",))
    if kind.identity != "tags":
        issues.append(Issue(file, where, f"{kind.kind} is found by its name: a same-named "
                            "resource is adopted without `adopt:` (the plan shows it)", rid,
                            "adopt"))
        return False
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        issues.append(Issue(file, where, "the AWS id of the resource to take over, e.g. "
                            "vpc-0abc1234", rid, "adopt"))
        return False
    return value.strip()


def _unknown_envelope_keys(raw: dict[Any, Any], doc: YamlDoc, file: str, shown: str | None,
                           issues: list[Issue]) -> None:
    for key in raw:
        if key not in ENVELOPE_KEYS:
            issues.append(Issue(file, doc.line_of((key,)), "unknown top-level field"
                                + did_you_mean(str(key), ENVELOPE_KEYS)
                                + " (a document holds kind, name, spec, policy, adopt "
                                  "and dependsOn)",
                                shown,
                                field_path((str(key),))))


def _shown_id(kind: Any, name: Any) -> str:
    """`Kind/name` for a message about an invalid one: quoted where it holds anything but
    plain characters (a newline, markup), since it is never printed raw."""
    plain = TAG_SAFE_NAME.check(kind) is None and TAG_SAFE_NAME.check(name) is None
    return f"{kind}/{name}" if plain else f"{kind!r}/{name!r}"


def without_nulls(value: Any) -> Any:
    """`value` without the keys set to null, at every depth.

    `field: null` means what leaving the field out means, as in Terraform: not
    managed. So a null never makes a write, and never a diff that returns every
    run; a field that can be removed in AWS says so with an empty value (`""`).
    """
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def _validated(model: type[BaseModel], raw: Any, where: Where,
               issues: list[Issue]) -> BaseModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        issues.extend(model_issues(err, model, raw, where))
        return None


@dataclass
class _Parsed:
    """The stack's valid resources in order, each one's document and the root-relative
    path of its file (where its folders are found from), and what did not validate."""

    resources: list[ResourceDoc]
    docs_by_id: dict[str, YamlDoc]
    origins: dict[str, str]
    invalid: Invalid


def _resources(reading: _Reading, listed: list[tuple[str, int]], texts: dict[str, str],
               config: StackConfig, kinds: Kinds) -> _Parsed:
    """Every valid resource of the stack's files in order, its document, and what was
    written but did not validate."""
    issues = reading.issues
    resources: list[ResourceDoc] = []
    docs_by_id: dict[str, YamlDoc] = {}
    origins: dict[str, str] = {}
    invalid_ids: set[str] = set()
    unknown_kinds: set[str] = set()
    for path, _ in listed:
        if path not in texts:
            continue
        shown = reading.files.display(path)
        for doc in reading.documents(path, texts[path]):
            res = parse_resource(doc, shown, config, kinds, issues)
            if res is None:
                raw = doc.value if isinstance(doc.value, dict) else {}
                invalid_ids.add(f"{raw.get('kind')}/{raw.get('name')}")
                kind = raw.get("kind")  # any YAML value: a list is not hashable
                known = isinstance(kind, str) and kind in kinds
                if not known and isinstance(raw.get("name"), str):
                    unknown_kinds.add(raw["name"])
                continue
            if res.id in docs_by_id:
                first = next(r for r in resources if r.id == res.id)
                issues.append(Issue(shown, res.line, f"duplicate name: already defined at "
                                    f"{first.file}:{first.line}", res.id))
                continue
            docs_by_id[res.id] = doc
            origins[res.id] = path
            resources.append(res)
    return _Parsed(resources, docs_by_id, origins,
                   Invalid(frozenset(invalid_ids), frozenset(unknown_kinds)))


def lint(resources: list[ResourceDoc], docs_by_id: dict[str, YamlDoc], kinds: Kinds,
         issues: list[Issue], skip: set[str] | None = None) -> None:
    """Each kind's own checks against the rest of the stack (`Driver.lint`); not of the
    resources in `skip` (a folder not read: its issue already says why)."""
    declared = {r.id: Declared(r.kind, r.name, r.spec,
                               {path: ref.target for path, ref in whole_refs(r.spec).items()})
                for r in resources}
    for res in resources:
        if skip and res.id in skip:
            continue
        doc = docs_by_id[res.id]
        for finding in kinds[res.kind].lint(declared[res.id], declared):
            issues.append(Issue(res.file, doc.line_of(finding.path), finding.message, res.id,
                                field_path(finding.path) or None, Rank.STACK))


def load_stack(folder: str | Path, kinds: Kinds, revision: str | None = None) -> Stack:
    """Load and validate the stack in a local `folder` against `kinds` (the registry of
    drivers), confined to the git work tree that holds it; raises ValidationFailed with
    every issue."""
    files, relative = local_stack(folder)
    return load_stack_files(files, relative, kinds, revision, source=str(folder))


def load_stack_files(files: StackFiles, folder: str, kinds: Kinds,
                     revision: str | None = None, source: str = "") -> Stack:
    """Load and validate the stack in `folder` of `files`; raises ValidationFailed."""
    reading = _Reading(files)
    config, config_doc = _stack_config(reading, folder)
    if config is None or config_doc is None:
        raise ValidationFailed(reading.issues)
    folders = _folders(reading, folder, config, config_doc)
    listed = _resource_files(reading, folders, config, config_doc)
    texts = reading.texts(listed)
    parsed = _resources(reading, listed, texts, config, kinds)
    budget = Budget(reading.stack_bytes, len(listed))
    unread_folders = read_folders(reading.files, parsed.resources, parsed.docs_by_id,
                                  parsed.origins, kinds, budget, reading.issues)
    reading.stack_bytes = budget.bytes
    check_refs(parsed.resources, parsed.docs_by_id, kinds, reading.issues, parsed.invalid,
               reading.unread)
    lint(parsed.resources, parsed.docs_by_id, kinds, reading.issues, unread_folders)
    add_notes(reading.issues, reading.unread)
    if reading.issues:
        raise ValidationFailed(reading.issues, stack=config.name)
    return Stack(config, parsed.resources, revision, source or files.display(folder), kinds)
