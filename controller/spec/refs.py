"""Refs between resources: dangling ones, unknown attributes, cycles; and their root causes.

A ref to a resource that is not in the stack is usually a symptom: the file
that defines the resource did not parse, or an include was not found. Such a
ref is not reported on its own, where it would hide its cause among a dozen
errors; the issue of the file or folder not read says instead how many refs
elsewhere wait for it. A ref that nothing unread can explain is dangling, and
its message names the closest resource of the stack.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass, field

from controller.model import Kinds
from controller.spec.graph import find_cycle
from controller.spec.issues import Issue, Rank, printable
from controller.spec.model_errors import field_path
from controller.spec.stack import ResourceDoc
from controller.spec.substitution import Ref, find_refs
from controller.spec.suggest import closest, did_you_mean
from controller.spec.yamldoc import YamlDoc

# How many ref targets a root cause's note names before "and N more".
NOTE_TARGETS = 3


@dataclass
class Unread:
    """A file or folder that was not read, at `issues[index]`: the resources it holds are
    unknown, so refs to them are folded into its issue.

    `text` is the file's text when it was read but did not parse (the refs it may
    explain are those whose name it declares); None when anything may be there.
    """

    index: int
    text: str | None = None
    subject: str = "this file"  # "this folder", "the files not read"
    # refs folded into this root cause: target `Kind/name` -> how many
    folded: Counter[str] = field(default_factory=Counter)

    def may_define(self, name: str) -> bool:
        """Whether the resource `name` may be in here: its text declares `name: <name>`
        (a document that did not parse still reads as text), or its text is unknown."""
        if self.text is None:
            return True
        quoted = re.escape(name)
        return re.search(rf"\bname:[ \t]*(['\"]?){quoted}\1[ \t]*(?:$|#|,|\}})", self.text,
                         re.MULTILINE) is not None

    def note(self) -> str:
        """"(2 refs elsewhere name sqs.Queue/jobs, which this file may define: ...)"."""
        count = sum(self.folded.values())
        targets = sorted(self.folded)
        if len(targets) > NOTE_TARGETS:
            targets = [*targets[:NOTE_TARGETS], f"{len(targets) - NOTE_TARGETS} more"]
        shown = " and ".join([", ".join(targets[:-1]), targets[-1]] if len(targets) > 1
                             else targets)
        refs = "1 ref elsewhere names" if count == 1 else f"{count} refs elsewhere name"
        checked = "it is checked" if count == 1 else "they are checked"
        reads = "they are read" if self.subject.startswith("the ") else "it reads"
        return f" ({refs} {shown}, which {self.subject} may define: {checked} once {reads})"


@dataclass(frozen=True)
class Invalid:
    """Documents that were written but did not validate: refs to them are not reported,
    their own error is the one to fix."""

    ids: frozenset[str] = frozenset()
    # names of documents whose kind is unknown: a ref names them with the right kind
    names_of_unknown_kinds: frozenset[str] = frozenset()

    def explains(self, ref: Ref) -> bool:
        return ref.target in self.ids or ref.name in self.names_of_unknown_kinds


def check_refs(resources: list[ResourceDoc], lines: dict[str, YamlDoc], kinds: Kinds,
               issues: list[Issue],
               invalid: Invalid = Invalid(), unread: list[Unread] | None = None) -> None:
    """Dangling refs, unknown attributes and cycles; records dependency edges.

    Dangling refs that a file not read may explain are folded into its issue.
    """
    by_id = {r.id: r for r in resources}
    for res in resources:
        doc = lines[res.id]
        for path, ref in find_refs(res.spec):
            problem = _ref_problem(ref, resources, by_id, kinds, invalid, unread or [])
            if problem is not None:
                where = ("spec", *path)
                issues.append(Issue(res.file, doc.line_of(where), problem, res.id,
                                    field_path(where), Rank.STACK))
            elif isinstance(ref, Ref) and ref.target in by_id:
                res.depends_on.add(ref.target)
        for index, target in enumerate(res.after):
            kind, _, name = target.partition("/")
            if target in by_id and target != res.id:
                res.depends_on.add(target)
            elif target != res.id and _fold(Ref(kind, name, "id"), unread or []):
                continue  # a file or folder not read may hold it: its issue says so
            else:
                why = "itself" if target == res.id else "not in this stack"
                issues.append(Issue(res.file, doc.line_of(("dependsOn", index)),
                                    f"dependsOn names {target}, which is {why}", res.id,
                                    field_path(("dependsOn", index)), Rank.STACK))
    _check_cycles(resources, by_id, issues)


def _ref_problem(ref: Ref | str, resources: list[ResourceDoc], by_id: dict[str, ResourceDoc],
                 kinds: Kinds,
                 invalid: Invalid, unread: list[Unread]) -> str | None:
    """What is wrong with one ref, or None (also when a root cause explains it)."""
    if not isinstance(ref, Ref):
        return f"malformed ref {printable('${' + ref + '}')}: write ${{ref:Kind/name.attr}}"
    if ref.target not in by_id:
        if invalid.explains(ref) or _fold(ref, unread):
            return None
        return (f"ref to {printable(ref.target)}, which is not in this stack"
                + _nearest(ref, resources))
    attrs = kinds[ref.kind].attributes
    if ref.attr not in attrs:
        hint = did_you_mean(ref.attr, attrs) or f" (it has: {', '.join(attrs)})"
        return f"{ref.kind} has no attribute {ref.attr!r}{hint}"
    return None


def _fold(ref: Ref, unread: list[Unread]) -> bool:
    """Count `ref` against every file or folder not read that may define its target."""
    causes = [u for u in unread if u.may_define(ref.name)]
    for cause in causes:
        cause.folded[ref.target] += 1
    return bool(causes)


def _nearest(ref: Ref, resources: list[ResourceDoc]) -> str:
    """": did you mean Kind/name?" for the closest resource of the stack: the same kind (or
    the closest kind there is) and the closest name of that kind."""
    kinds = {r.kind for r in resources}
    kind = ref.kind if ref.kind in kinds else closest(ref.kind, kinds)
    if kind is None:
        return ""
    name = closest(ref.name, [r.name for r in resources if r.kind == kind])
    if name is None or (kind, name) == (ref.kind, ref.name):
        return ""
    return f": did you mean {kind}/{name}?"


def _check_cycles(resources: list[ResourceDoc], by_id: dict[str, ResourceDoc],
                  issues: list[Issue]) -> None:
    cycle = find_cycle({r.id: sorted(r.depends_on) for r in resources})
    if cycle:
        first = by_id[cycle[0]]
        issues.append(Issue(first.file, first.line, "reference cycle: " + " -> ".join(cycle),
                            first.id, rank=Rank.STACK))


def add_notes(issues: list[Issue], unread: list[Unread]) -> None:
    """Append to each root cause's issue the refs folded into it."""
    for cause in unread:
        if cause.folded:
            issue = issues[cause.index]
            issues[cause.index] = dataclasses.replace(issue,
                                                      message=issue.message + cause.note())
