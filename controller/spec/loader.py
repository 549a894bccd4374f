"""Load a stack folder into a validated `Stack`, reporting every error at once.

The pipeline: stack.yaml -> included folders -> YAML documents -> envelope
check -> values -> per-kind spec model -> names -> refs (dangling, attribute,
cycles). Each step adds `Issue`s instead of stopping, so a user fixes
everything in one pass.

Files come through a `StackFiles` (a confined folder, or a commit's objects)
and every read is bounded (`limits`): sizes are checked from the listing
before a byte is read, and YAML is parsed within one node budget per stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from controller.resources.base import TAG_SAFE_NAME, Policy
from controller.resources.registry import DRIVERS
from controller.spec import limits
from controller.spec.files import (
    Entry,
    FileRefused,
    StackFiles,
    child,
    inside_root,
    local_stack,
)
from controller.spec.graph import find_cycle
from controller.spec.issues import Issue, ValidationFailed
from controller.spec.stack import ResourceDoc, Stack, StackConfig
from controller.spec.substitution import Ref, SubstitutionError, find_refs, substitute_values
from controller.spec.yamldoc import NodeBudget, YamlDoc, load_documents

ENVELOPE_KEYS = ("kind", "name", "spec", "policy")
YAML_SUFFIXES = (".yaml", ".yml")
STACK_FILE = "stack.yaml"


def field_path(loc: tuple[str | int, ...]) -> str:
    """('spec', 'containerDefinitions', 0, 'image') -> spec.containerDefinitions[0].image"""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def pydantic_issues(err: ValidationError, doc: YamlDoc, file: str, base: tuple[str | int, ...],
                    resource: str | None) -> list[Issue]:
    issues = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        full = (*base, *loc)
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            message = "unknown field"
        issues.append(Issue(file, doc.line_of(full), message, resource, field_path(full)))
    return issues


@dataclass
class _Reading:
    """One load: where its files come from, what it has read so far, what went wrong."""

    files: StackFiles
    issues: list[Issue] = field(default_factory=list)
    budget: NodeBudget = field(default_factory=NodeBudget)
    stack_bytes: int = 0

    def texts(self, listed: list[tuple[str, int]]) -> dict[str, str]:
        """The text of each listed (path, size), within the file and stack limits."""
        wanted: list[str] = []
        for path, size in listed:
            shown = self.files.display(path)
            if size > limits.MAX_FILE_BYTES:
                self.issues.append(Issue(shown, 0, f"{limits.size_text(size)}, over the "
                                         f"{limits.size_text(limits.MAX_FILE_BYTES)} limit of "
                                         "one file: split it"))
                continue
            if self.stack_bytes + size > limits.MAX_STACK_BYTES:
                self.issues.append(Issue(shown, 0, "the stack's files together pass the "
                                         f"{limits.size_text(limits.MAX_STACK_BYTES)} limit of "
                                         "one stack: this file and the ones after it are not "
                                         "read"))
                break
            self.stack_bytes += size
            wanted.append(path)
        out: dict[str, str] = {}
        for path, data in self.files.read(wanted).items():
            if isinstance(data, FileRefused):
                self.issues.append(Issue(data.path, 0, data.reason))
                continue
            try:
                out[path] = data.decode("utf-8")
            except UnicodeDecodeError as err:
                self.issues.append(Issue(self.files.display(path), 0,
                                         f"not UTF-8 text (byte {err.start}): YAML files are "
                                         "text"))
        return out

    def documents(self, path: str, text: str) -> list[YamlDoc]:
        try:
            return load_documents(text, self.budget)
        except yaml.YAMLError as err:
            self.issues.append(_yaml_issue(self.files.display(path), err))
            return []

    def entries(self, folder: str) -> list[Entry] | None:
        try:
            return self.files.entries(folder)
        except FileRefused as err:
            self.issues.append(Issue(err.path, 0, err.reason))
            return None


def _stack_config(reading: _Reading, folder: str) -> tuple[StackConfig | None, YamlDoc | None]:
    """stack.yaml, validated, and its document (for the lines of `includes`)."""
    files = reading.files
    path = child(folder, STACK_FILE)
    shown = files.display(path)
    entries = reading.entries(folder)
    if entries is None and not reading.issues:
        reading.issues.append(Issue(files.display(folder), 0, "no such folder: a stack is a "
                                    "folder holding a stack.yaml, e.g. desired/prod"))
    if entries is None:
        return None, None
    entry = next((e for e in entries if e.name == STACK_FILE), None)
    if entry is None or entry.kind != "file":
        why = ("is a symlink, which is never followed" if entry is not None
               and entry.kind == "symlink" else
               "missing: a stack folder names its stack, region, account, includes and "
               "values there")
        reading.issues.append(Issue(shown, 0, why))
        return None, None
    text = reading.texts([(path, entry.size)]).get(path)
    docs = reading.documents(path, text) if text is not None else []
    if text is None or reading.issues:
        return None, None
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        reading.issues.append(Issue(shown, 1, "stack.yaml must hold exactly one mapping"))
        return None, None
    try:
        return StackConfig.model_validate(docs[0].value), docs[0]
    except ValidationError as err:
        reading.issues.extend(pydantic_issues(err, docs[0], shown, (), None))
        return None, None


def _yaml_issue(file: str, err: yaml.YAMLError) -> Issue:
    mark = getattr(err, "problem_mark", None)
    line = mark.line + 1 if mark else 0
    problem = getattr(err, "problem", None) or str(err)
    return Issue(file, line, f"invalid YAML: {problem}")


def _folders(reading: _Reading, folder: str, config: StackConfig,
             doc: YamlDoc) -> list[tuple[str, int | None]]:
    """The stack folder, then each include (with its index): folders inside the root, once."""
    shown = reading.files.display(child(folder, STACK_FILE))
    folders: list[tuple[str, int | None]] = [(folder, None)]
    if len(config.includes) > limits.MAX_INCLUDES:
        reading.issues.append(Issue(shown, doc.line_of(("includes",)), f"more than "
                                    f"{limits.MAX_INCLUDES} includes", field="includes"))
        return folders
    for i, include in enumerate(config.includes):
        target = inside_root(folder, include)
        if target is None:
            reading.issues.append(Issue(
                shown, doc.line_of(("includes", i)), f"include {include!r} leaves the "
                "repository: includes are folders inside it, relative to stack.yaml "
                "(e.g. ../base)", field=f"includes[{i}]"))
        elif target not in [f for f, _ in folders]:
            folders.append((target, i))
    return folders


def _resource_files(reading: _Reading, folders: list[tuple[str, int | None]],
                    doc: YamlDoc) -> list[tuple[str, int]]:
    """(path, size) of the YAML files of every folder, in a stable order."""
    found: list[tuple[str, int]] = []
    stack_file = reading.files.display(child(folders[0][0], STACK_FILE))
    for folder, include in folders:
        issues_before = len(reading.issues)
        entries = reading.entries(folder)
        if entries is None:
            if include is not None and len(reading.issues) == issues_before:
                reading.issues.append(Issue(
                    stack_file, doc.line_of(("includes", include)),
                    f"include {doc.value['includes'][include]!r} is not a folder",
                    field=f"includes[{include}]"))
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            if not entry.name.endswith(YAML_SUFFIXES) or entry.name == STACK_FILE:
                continue
            path = child(folder, entry.name)
            if entry.kind == "symlink":
                reading.issues.append(Issue(reading.files.display(path), 0,
                                            "a symlink, which is never followed: commit the "
                                            "file itself"))
            elif entry.kind == "file":
                found.append((path, entry.size))
            if len(found) > limits.MAX_FILES:
                reading.issues.append(Issue(reading.files.display(folder), 0, f"more than "
                                            f"{limits.MAX_FILES} YAML files in the stack"))
                return found[:limits.MAX_FILES]
    return found


def parse_resource(doc: YamlDoc, file: str, config: StackConfig,
                   issues: list[Issue]) -> ResourceDoc | None:
    """Check the envelope and the spec of one document."""
    raw = doc.value
    if not isinstance(raw, dict):
        issues.append(Issue(file, doc.start_line, "a resource document is a mapping with "
                                                  "kind, name and spec"))
        return None
    for key in raw:
        if key not in ENVELOPE_KEYS:
            issues.append(Issue(file, doc.line_of((key,)), f"unknown top-level field {key!r} "
                                f"(allowed: {', '.join(ENVELOPE_KEYS)})"))
    kind, name = raw.get("kind"), raw.get("name")
    if not isinstance(kind, str) or not isinstance(name, str) or not name:
        issues.append(Issue(file, doc.start_line, "every resource needs a `kind` and a `name`"))
        return None
    driver = DRIVERS.get(kind)
    if driver is None:
        issues.append(Issue(file, doc.line_of(("kind",)),
                            f"unknown kind {kind!r} (known: {', '.join(sorted(DRIVERS))})",
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
    spec = None if sub_errors else _validated(driver.spec_model, spec_raw, doc, file,
                                              ("spec",), rid, issues)
    policy = _validated(Policy, raw.get("policy") or {}, doc, file, ("policy",), rid, issues)
    if spec is None or policy is None or sub_errors:
        return None
    return ResourceDoc(kind, name, without_nulls(spec.model_dump(mode="json", exclude_unset=True,
                                                                 by_alias=True)),
                       Policy.model_validate(policy.model_dump()), file,
                       doc.line_of(("kind",)))


def _shown_id(kind: str, name: str) -> str:
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


def _validated(model: type[BaseModel], raw: Any, doc: YamlDoc, file: str,
               base: tuple[str | int, ...], rid: str, issues: list[Issue]) -> BaseModel | None:
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        issues.extend(pydantic_issues(err, doc, file, base, rid))
        return None


def check_refs(resources: list[ResourceDoc], lines: dict[str, YamlDoc],
               issues: list[Issue], invalid_ids: frozenset[str] = frozenset()) -> None:
    """Dangling refs, unknown attributes and cycles; records dependency edges.

    A ref to a resource that is written but invalid is not reported again as
    dangling: its own error is the one to fix.
    """
    by_id = {r.id: r for r in resources}
    for res in resources:
        doc = lines[res.id]
        for path, ref in find_refs(res.spec):
            where = ("spec", *path)
            at = doc.line_of(where)
            if not isinstance(ref, Ref):
                issues.append(Issue(res.file, at, f"malformed ref ${{{ref}}}: write "
                                    "${ref:Kind/name.attr}", res.id, field_path(where)))
                continue
            target = by_id.get(ref.target)
            if target is None and ref.target in invalid_ids:
                continue
            if target is None:
                issues.append(Issue(res.file, at, f"ref to {ref.target}, which is not in "
                                    "this stack", res.id, field_path(where)))
                continue
            attrs = DRIVERS[ref.kind].attributes
            if ref.attr not in attrs:
                issues.append(Issue(res.file, at, f"{ref.kind} has no attribute {ref.attr!r} "
                                    f"(it has: {', '.join(attrs)})", res.id, field_path(where)))
                continue
            res.depends_on.add(ref.target)
    cycle = find_cycle({r.id: sorted(r.depends_on) for r in resources})
    if cycle:
        first = by_id[cycle[0]]
        issues.append(Issue(first.file, first.line, "reference cycle: " + " -> ".join(cycle),
                            first.id))


def load_stack(folder: str | Path, revision: str | None = None) -> Stack:
    """Load and validate the stack in a local `folder`, confined to the git work tree that
    holds it; raises ValidationFailed with every issue."""
    files, relative = local_stack(folder)
    return load_stack_files(files, relative, revision, source=str(folder))


def load_stack_files(files: StackFiles, folder: str, revision: str | None = None,
                     source: str = "") -> Stack:
    """Load and validate the stack in `folder` of `files`; raises ValidationFailed."""
    reading = _Reading(files)
    config, config_doc = _stack_config(reading, folder)
    if config is None or config_doc is None:
        raise ValidationFailed(reading.issues)
    folders = _folders(reading, folder, config, config_doc)
    listed = _resource_files(reading, folders, config_doc)
    texts = reading.texts(listed)
    issues = reading.issues
    resources: list[ResourceDoc] = []
    docs_by_id: dict[str, YamlDoc] = {}
    invalid_ids: set[str] = set()
    for path, _ in listed:
        if path not in texts:
            continue
        shown = files.display(path)
        for doc in reading.documents(path, texts[path]):
            res = parse_resource(doc, shown, config, issues)
            if res is None:
                raw = doc.value if isinstance(doc.value, dict) else {}
                invalid_ids.add(f"{raw.get('kind')}/{raw.get('name')}")
                continue
            if res.id in docs_by_id:
                first = next(r for r in resources if r.id == res.id)
                issues.append(Issue(shown, res.line, f"duplicate name: already defined at "
                                    f"{first.file}:{first.line}", res.id))
                continue
            docs_by_id[res.id] = doc
            resources.append(res)
    check_refs(resources, docs_by_id, issues, frozenset(invalid_ids))
    if issues:
        raise ValidationFailed(issues)
    return Stack(config, resources, revision, source or files.display(folder))
