"""Load a stack folder into a validated `Stack`, reporting every error at once.

The pipeline: stack.yaml -> included folders -> YAML documents -> envelope
check -> values -> per-kind spec model -> refs (dangling, attribute, cycles).
Each step adds `Issue`s instead of stopping, so a user fixes everything in
one pass.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from controller.resources.base import Policy
from controller.resources.registry import DRIVERS
from controller.spec.graph import find_cycle
from controller.spec.issues import Issue, ValidationFailed
from controller.spec.stack import ResourceDoc, Stack, StackConfig
from controller.spec.substitution import Ref, SubstitutionError, find_refs, substitute_values
from controller.spec.yamldoc import YamlDoc, load_documents

ENVELOPE_KEYS = ("kind", "name", "spec", "policy")


def display_path(path: Path) -> str:
    """Paths in messages read relative to the working directory when they can."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


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


def read_stack_config(folder: Path) -> tuple[StackConfig | None, list[Issue]]:
    file = folder / "stack.yaml"
    shown = display_path(file)
    if not file.is_file():
        return None, [Issue(shown, 0, "no stack.yaml: a stack folder names its stack, region, "
                                      "account, includes and values there")]
    try:
        docs = load_documents(file.read_text())
    except yaml.YAMLError as err:
        return None, [_yaml_issue(shown, err)]
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        return None, [Issue(shown, 1, "stack.yaml must hold exactly one mapping")]
    try:
        return StackConfig.model_validate(docs[0].value), []
    except ValidationError as err:
        return None, pydantic_issues(err, docs[0], shown, (), None)


def _yaml_issue(file: str, err: yaml.YAMLError) -> Issue:
    mark = getattr(err, "problem_mark", None)
    line = mark.line + 1 if mark else 0
    problem = getattr(err, "problem", None) or str(err)
    return Issue(file, line, f"invalid YAML: {problem}")


def resource_files(folder: Path, config: StackConfig, issues: list[Issue]) -> list[Path]:
    """The stack folder's YAML files, then each include's, in a stable order."""
    folders = [folder]
    for include in config.includes:
        inc = (folder / include).resolve()
        if not inc.is_dir():
            issues.append(Issue(display_path(folder / "stack.yaml"), 1,
                                f"include {include!r} is not a folder"))
            continue
        folders.append(inc)
    files: list[Path] = []
    for f in folders:
        files.extend(sorted(p for p in f.iterdir()
                            if p.suffix in (".yaml", ".yml") and p.name != "stack.yaml"))
    return files


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
    rid = f"{kind}/{name}"
    driver = DRIVERS.get(kind)
    if driver is None:
        issues.append(Issue(file, doc.line_of(("kind",)),
                            f"unknown kind {kind!r} (known: {', '.join(sorted(DRIVERS))})", rid))
        return None
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
    return ResourceDoc(kind, name, spec.model_dump(mode="json", exclude_unset=True,
                                                   by_alias=True),
                       Policy.model_validate(policy.model_dump()), file,
                       doc.line_of(("kind",)))


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
    """Load and validate the stack in `folder`; raises ValidationFailed with every issue."""
    root = Path(folder)
    config, issues = read_stack_config(root)
    if config is None:
        raise ValidationFailed(issues)
    resources: list[ResourceDoc] = []
    docs_by_id: dict[str, YamlDoc] = {}
    invalid_ids: set[str] = set()
    for path in resource_files(root, config, issues):
        shown = display_path(path)
        try:
            docs = load_documents(path.read_text())
        except yaml.YAMLError as err:
            issues.append(_yaml_issue(shown, err))
            continue
        for doc in docs:
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
    return Stack(config, resources, revision, str(root))
