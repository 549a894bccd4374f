"""Hypothesis strategies that break a valid stack (desired/prod with ../base) in one way.

Every strategy starts from the real stack's text and yields a `Fault`: the files it
rewrites (or adds, or turns into symlinks) and where the loader must point, written
down from the mutation itself, never from what the loader says. The places to break
are found by composing each file with PyYAML (node marks give every key's line and
every value's span), so a mutation lands on a random document, field or byte of the
real stack and the expected line is known before the loader runs.
"""

from __future__ import annotations

import itertools
import posixpath
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import assume
from hypothesis import strategies as st
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from controller.resources.registry import REGISTRY
from controller.spec import limits
from tests.stacks import DESIRED

STACK = "desired/prod"
STACK_FILE = f"{STACK}/stack.yaml"
# The files desired/prod reads: its own and those of ../base.
FILES = sorted([f"{STACK}/{p.name}" for p in (DESIRED / "prod").glob("*.yaml")]
               + [f"desired/base/{p.name}" for p in (DESIRED / "base").glob("*.yaml")])
RESOURCE_FILES = [f for f in FILES if f != STACK_FILE]
TEXT = {f: (DESIRED.parent / f).read_text() for f in FILES}
REF = re.compile(r"\$\{ref:(?P<kind>[A-Za-z0-9]+\.[A-Za-z0-9]+)/(?P<name>[^}]+)"
                 r"\.(?P<attr>[A-Za-z]+)\}")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Pair:
    """One `key: value` of a file: where the key is, where its value starts and ends."""

    file: str
    doc: int
    path: tuple[Any, ...]  # from the document's root
    line: int  # 1-based line of the key
    key_col: int
    key_at_line_start: bool  # the key is the first thing on its line (not `- key:`)
    start: int  # character index of the value
    end: int
    value: Node


@dataclass(frozen=True)
class Doc:
    """One resource document: its kind, name and the line of its `kind:`."""

    file: str
    index: int
    kind: str
    name: str
    kind_line: int
    start: int  # character index where the document's first key starts
    spec: MappingNode | None


def _walk(node: Node, file: str, doc: int, path: tuple[Any, ...], text: str,
          out: list[Pair]) -> None:
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if not isinstance(key, ScalarNode):
                continue
            line_start = text.rfind("\n", 0, key.start_mark.index) + 1
            first = text[line_start:key.start_mark.index].strip() == ""
            out.append(Pair(file, doc, (*path, key.value), key.start_mark.line + 1,
                            key.start_mark.column, first, value.start_mark.index,
                            value.end_mark.index, value))
            _walk(value, file, doc, (*path, key.value), text, out)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, file, doc, (*path, i), text, out)


def _scan() -> tuple[list[Pair], list[Doc]]:
    pairs: list[Pair] = []
    docs: list[Doc] = []
    for file in FILES:
        text = TEXT[file]
        for index, root in enumerate(yaml.compose_all(text, Loader=yaml.SafeLoader)):
            _walk(root, file, index, (), text, pairs)
            if file == STACK_FILE or not isinstance(root, MappingNode):
                continue
            by_key = {k.value: (k, v) for k, v in root.value}
            kind_key, kind = by_key["kind"]
            spec = by_key.get("spec", (None, None))[1]
            docs.append(Doc(file, index, kind.value, by_key["name"][1].value,
                            kind_key.start_mark.line + 1, root.start_mark.index,
                            spec if isinstance(spec, MappingNode) else None))
    return pairs, docs


PAIRS, DOCS = _scan()
IDS = {f"{d.kind}/{d.name}" for d in DOCS}
NAMES = {d.name for d in DOCS}
VALUES = yaml.safe_load(TEXT[STACK_FILE])["values"]


def _inline(p: Pair) -> bool:
    """A scalar written on the key's own line (plain or quoted, not a block scalar)."""
    return (isinstance(p.value, ScalarNode) and p.value.style in (None, "'", '"')
            and p.value.start_mark.line + 1 == p.line == p.value.end_mark.line + 1)


def _in_spec(p: Pair) -> bool:
    return p.file != STACK_FILE and len(p.path) >= 2 and p.path[0] == "spec"


SPEC_PAIRS = [p for p in PAIRS if _in_spec(p)]
# Fields a model types: not inside a policy document (`Version`, `Statement`...), an ECR
# lifecycle policy or an SNS filter policy, which are free JSON that AWS, not the
# loader, checks.
FREE_JSON = ("lifecyclePolicy", "filterPolicy")
TYPED_PAIRS = [p for p in SPEC_PAIRS
               if not any(isinstance(k, str) and k[:1].isupper() for k in p.path)
               and not any(k in FREE_JSON for k in p.path[:-1])]
INLINE_SPEC = [p for p in SPEC_PAIRS if _inline(p)]
REF_PAIRS = [p for p in INLINE_SPEC if REF.search(p.value.value)]
BLOCK_KEYS = [p for p in PAIRS if p.key_at_line_start]


ANY_FILE = "*"


@dataclass
class Fault:
    """One broken stack: what to write, and where the loader must point.

    `line`: the 1-based line the issue names; 0 when the issue is with the file as a
    whole (a symlink, a size); None when YAML may notice the fault further on, where
    the issue's line is at least `min_line`.
    """

    what: str
    file: str  # the file (or folder) the issue names, relative to the repository
    line: int | None
    says: str
    writes: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # path -> target (replaces it)
    min_line: int = 1
    ids: tuple[str, ...] = ()  # with file ANY_FILE: one of them is named

    def apply(self, root: Path) -> None:
        """Write the fault into a copy of the repository at `root`."""
        for name, data in self.writes.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        for name, target in self.links.items():
            path = root / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
            path.symlink_to(target.replace("{outside}", str(root.parent / "outside")))


def copy_repository(root: Path) -> Path:
    """`root` as a git work tree holding a copy of desired/ (and `outside/` beside it,
    which the stack must never read)."""
    (root / ".git").mkdir(parents=True)
    shutil.copytree(DESIRED, root / "desired", symlinks=True)
    outside = root.parent / "outside"
    if not outside.exists():
        shutil.copytree(DESIRED / "base", outside)
    return root


def _edit(file: str, start: int, end: int, new: str, *, text: str | None = None) -> bytes:
    old = TEXT[file] if text is None else text
    return (old[:start] + new + old[end:]).encode()


def _line_start(text: str, line: int) -> int:
    """Character index where 1-based `line` starts."""
    index = 0
    for _ in range(line - 1):
        index = text.index("\n", index) + 1
    return index


def _insert_line(file: str, before_line: int, new_line: str) -> bytes:
    text = TEXT[file]
    at = _line_start(text, before_line)
    return (text[:at] + new_line + "\n" + text[at:]).encode()


def _flow(value: str) -> str:
    """A double-quoted YAML scalar that reads back as exactly `value`: what is not
    printable escaped by its code point (JSON's \\ud83d\\ude00 pairs would read back as
    two lone surrogates in YAML)."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(f"\\U{ord(char):08x}" if ord(char) > 0xFFFF else f"\\u{ord(char):04x}")
    return '"' + "".join(out) + '"'


# --- wrong types, unknown fields, unknown kinds -----------------------------------------

# Not a mapping for a scalar: some fields take a scalar or a free JSON document (an SNS
# filter policy), which any mapping is.
WRONG_FOR = {ScalarNode: ["[[1, 2], {a: b}]", "[{wrong: [1, 2]}]"],
             MappingNode: ["[1, 2]", "[[1], [2]]"],
             SequenceNode: ["{wrong: 1}", "{a: {b: c}}"]}
ENVELOPE_WRONG = {"kind": "[sqs.Queue]", "name": "{a: 1}", "spec": "[1, 2]",
                  "policy": "[protect]", "dependsOn": "{a: b}"}


@st.composite
def wrong_type(draw: st.DrawFn) -> Fault:
    """A field of a spec, of a resource's envelope or of stack.yaml given a value of another
    type: a mapping where a scalar goes, a list where a mapping goes..."""
    where = draw(st.sampled_from(["spec", "envelope", "stack.yaml"]))
    if where == "spec":
        pair = draw(st.sampled_from(TYPED_PAIRS))
        new = draw(st.sampled_from(WRONG_FOR[type(pair.value)]))
        says = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in pair.path)[1:]
        line: int | None = pair.line
    elif where == "envelope":
        pair = draw(st.sampled_from([p for p in PAIRS if len(p.path) == 1
                                     and p.path[0] in ENVELOPE_WRONG and p.file != STACK_FILE]))
        new = ENVELOPE_WRONG[pair.path[0]]
        doc = next(d for d in DOCS if (d.file, d.index) == (pair.file, pair.doc))
        line = doc.kind_line if pair.path[0] in ("kind", "name") else pair.line
        says = "needs a `kind` and a `name`" if pair.path[0] in ("kind", "name") else ""
    else:
        pair = draw(st.sampled_from([p for p in PAIRS if p.file == STACK_FILE
                                     and len(p.path) == 1]))
        new = draw(st.sampled_from(WRONG_FOR[type(pair.value)]))
        line, says = pair.line, pair.path[0]
    end = pair.end
    if not isinstance(pair.value, ScalarNode):
        # A block value's end mark is where the next key starts: keep what is between.
        end = len(TEXT[pair.file][:end].rstrip())
        new = " " + new if new.startswith("[") else new  # not a `- ` item, but indented
    return Fault(f"wrong type at {pair.file}:{pair.line}", pair.file, line, says,
                 {pair.file: _edit(pair.file, pair.start, end, new)})


FIELD_NAME = st.from_regex(r"[a-z][A-Za-z0-9_]{0,24}", fullmatch=True)


def _known_fields(kind: str) -> set[str]:
    model = REGISTRY[kind].spec_model
    return {n for n in model.model_fields} | {f.alias for f in model.model_fields.values()
                                              if f.alias}


@st.composite
def unknown_field(draw: st.DrawFn) -> Fault:
    """A field no model has, added to a spec (as its first field) or to the envelope."""
    doc = draw(st.sampled_from(DOCS))
    name = draw(FIELD_NAME)
    if doc.spec is not None and doc.spec.flow_style is False and draw(st.booleans()):
        assume(name not in _known_fields(doc.kind))
        first = doc.spec.value[0][0]
        line = first.start_mark.line + 1
        new = f"{' ' * first.start_mark.column}{name}: 1"
        return Fault(f"unknown field spec.{name} in {doc.kind}", doc.file, line,
                     "unknown field", {doc.file: _insert_line(doc.file, line, new)})
    assume(name not in ("kind", "name", "spec", "policy", "adopt", "dependsOn"))
    line = doc.kind_line + 1
    return Fault(f"unknown envelope field {name}", doc.file, line, "unknown top-level field",
                 {doc.file: _insert_line(doc.file, line, f"{name}: 1")})


ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


@st.composite
def unknown_kind(draw: st.DrawFn) -> Fault:
    """A document's kind replaced by one no driver has: a near miss, or any text."""
    doc = draw(st.sampled_from(DOCS))
    kind = draw(st.one_of(
        st.sampled_from(sorted(REGISTRY)).flatmap(
            lambda k: st.sampled_from([k.lower(), k + "s", k.replace(".", "/"), k[:-1],
                                       k.upper(), " " + k])),
        st.from_regex(r"[a-z0-9]{1,10}\.[A-Z][A-Za-z0-9]{0,20}", fullmatch=True),
        ANY_TEXT))
    assume(kind not in REGISTRY)
    pair = next(p for p in PAIRS if (p.file, p.doc, p.path) == (doc.file, doc.index, ("kind",)))
    return Fault(f"unknown kind {kind!r}", doc.file, doc.kind_line, "unknown kind",
                 {doc.file: _edit(doc.file, pair.start, pair.end, _flow(kind))})


# --- refs: dangling and cyclic ----------------------------------------------------------


@st.composite
def dangling_ref(draw: st.DrawFn) -> Fault:
    """A ref (or a dependsOn) naming a resource that is not in the stack, or an attribute
    its kind does not have."""
    if draw(st.booleans()):
        doc = draw(st.sampled_from(DOCS))
        target = draw(st.sampled_from(sorted(REGISTRY))) + "/" + draw(ANY_TEXT.filter(bool))
        assume(target not in IDS and target.isprintable())
        return _depends_on(doc, [target], f"dependsOn {target!r}", "not in this stack")
    pair = draw(st.sampled_from(REF_PAIRS))
    text = pair.value.value
    match = draw(st.sampled_from(list(REF.finditer(text))))
    if draw(st.booleans()):
        attr = draw(st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True))
        assume(attr not in REGISTRY[match["kind"]].attributes)
        new = text[:match.start("attr")] + attr + text[match.end("attr"):]
        says = "has no attribute"
    else:
        name = draw(st.one_of(st.from_regex(r"[a-z0-9-]{1,30}", fullmatch=True),
                              st.text(st.characters(codec="utf-8", exclude_characters="}"),
                                      min_size=1, max_size=30)))
        assume(name not in NAMES)
        new = text[:match.start("name")] + name + text[match.end("name"):]
        says = "not in this stack"
    return Fault(f"ref {new!r}", pair.file, pair.line, says,
                 {pair.file: _edit(pair.file, pair.start, pair.end, _flow(new))})


def _depends_on(doc: Doc, targets: list[str], what: str, says: str) -> Fault:
    """`doc` given `dependsOn: targets` (added to what it has); the issue at that line."""
    text = _depends_on_in(doc, targets, None)
    existing = _pair(doc, ("dependsOn",))
    line = existing.line if existing is not None else doc.kind_line + 1
    return Fault(what, doc.file, line, says, {doc.file: text.encode()})


@st.composite
def ref_cycle(draw: st.DrawFn) -> Fault:
    """2 to 5 resources of the stack made to depend on each other in a ring (dependsOn)."""
    ring = draw(st.lists(st.sampled_from(DOCS), min_size=2, max_size=5,
                         unique_by=lambda d: (d.file, d.index)))
    ids = [f"{d.kind}/{d.name}" for d in ring]
    # One edit per document, from the last one in each file up, so offsets stay valid.
    order = sorted(range(len(ring)), key=lambda i: (ring[i].file, -ring[i].start))
    texts: dict[str, str] = {}
    for i in order:
        doc = ring[i]
        texts[doc.file] = _depends_on_in(doc, [ids[(i + 1) % len(ring)]], texts.get(doc.file))
    # The cycle reported may run through refs the stack already had, so through other
    # files: it names one of the new edges' resources, at its `kind:` line.
    return Fault(f"cycle {' -> '.join(ids)}", ANY_FILE, None, "reference cycle",
                 {f: t.encode() for f, t in texts.items()}, ids=tuple(ids))


def _pair(doc: Doc, path: tuple[Any, ...]) -> Pair | None:
    return next((p for p in PAIRS if (p.file, p.doc, p.path) == (doc.file, doc.index, path)),
                None)


def _depends_on_in(doc: Doc, targets: list[str], text: str | None) -> str:
    """The file's text with `targets` added to `doc`'s dependsOn; `text` holds the edits
    made so far, all of them below this document, so its offsets are the original's."""
    text = TEXT[doc.file] if text is None else text
    existing = _pair(doc, ("dependsOn",))
    if existing is not None:
        old = [n.value for n in existing.value.value]
        new = "[" + ", ".join(_flow(t) for t in [*old, *targets]) + "]"
        return text[:existing.start] + new + text[existing.end:]
    at = _line_start(text, doc.kind_line + 1)
    return text[:at] + "dependsOn: [" + ", ".join(_flow(t) for t in targets) + "]\n" + text[at:]


# --- duplicate keys ---------------------------------------------------------------------


PLAIN_KEY = re.compile(r"[A-Za-z_][-.\w]*")


@st.composite
def duplicate_key(draw: st.DrawFn) -> Fault:
    """A key written twice in one mapping (anywhere: envelope, spec, stack.yaml), the copy
    just above it; YAML would keep the last one and silently drop the first."""
    pair = draw(st.sampled_from(BLOCK_KEYS))
    value = draw(st.sampled_from(["1", "x", "null", "[]", "{}", '"${values.env}"']))
    key = pair.path[-1]
    written = key if PLAIN_KEY.fullmatch(key) else _flow(key)
    copy = f"{' ' * pair.key_col}{written}: {value}"
    return Fault(f"duplicate key {key!r}", pair.file, pair.line + 1, "duplicate key",
                 {pair.file: _insert_line(pair.file, pair.line, copy)})


# --- YAML bombs, deep nesting, broken YAML ----------------------------------------------

ANCHOR = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True)


@st.composite
def _bomb_text(draw: st.DrawFn) -> tuple[str, str]:
    """(YAML, what the loader says): a billion laughs, a recursive alias or deep nesting."""
    form = draw(st.sampled_from(["laughs", "recursive", "flow", "block", "unclosed",
                                 "through alias"]))
    if form == "laughs":
        fan = draw(st.integers(2, 16))
        levels = 1
        while fan ** levels <= limits.MAX_YAML_NODES:
            levels += 1
        names = draw(st.lists(ANCHOR, min_size=levels + 1, max_size=levels + 1, unique=True))
        lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * fan)}]"]
        for prev, name in itertools.pairwise(names):
            lines.append(f"{name}: &{name} [{', '.join(['*' + prev] * fan)}]")
        return "\n".join(lines) + "\n", "YAML values once aliases are expanded"
    if form == "recursive":
        name = draw(ANCHOR)
        return f"a: &{name} [x, {{b: *{name}}}]\n", "refers to a node that contains it"
    depth = draw(st.integers(limits.MAX_YAML_DEPTH + 1, 5_000))
    if form == "flow":
        return "a: " + "[" * depth + "]" * depth + "\n", "nested deeper than"
    if form == "unclosed":
        return "a: " + "{a: " * depth + "\n", "nested deeper than"
    if form == "block":
        depth = min(depth, 300)
        return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + "  " * depth + "x\n", \
            "nested deeper than"
    inner = draw(st.integers(1, limits.MAX_YAML_DEPTH - 1))
    outer = limits.MAX_YAML_DEPTH + 1 - inner
    return (f"a: &x {'[' * inner}1{']' * inner}\nb: {'[' * outer}*x{']' * outer}\n",
            "nested deeper than")


@st.composite
def yaml_bomb(draw: st.DrawFn) -> Fault:
    """A bomb or deep nesting as a document of its own, put before a random document of a
    random file (or at its end)."""
    file = draw(st.sampled_from(RESOURCE_FILES))
    text = TEXT[file]
    bomb, says = draw(_bomb_text())
    starts = [d.start for d in DOCS if d.file == file]
    at = draw(st.sampled_from([*starts, len(text)]))
    at = text.rfind("\n", 0, at) + 1 if at < len(text) else at
    before = text[:at] + ("" if at == 0 or text[:at].endswith("---\n") else "---\n")
    line = before.count("\n") + 1
    new = before + bomb + "---\n" + text[at:] if at < len(text) else before + bomb
    return Fault(f"bomb at {file}:{line}", file, None, says, {file: new.encode()},
                 min_line=line)


BREAKERS = ["[unclosed", "{a: 1", '"open', "'open", "\tkey: tab", "*undefined",
            "!!python/object:os.system x", "@reserved", "`backtick", "- item\nkey: x",
            "key: a: b", "%YAML 1.1", ": no key", "&a &b x", "? [a]\n: b"]


@st.composite
def broken_yaml(draw: st.DrawFn) -> Fault:
    """A line of broken YAML put before a random line of a random file (stack.yaml too)."""
    file = draw(st.sampled_from(FILES))
    lines = TEXT[file].count("\n")
    line = draw(st.integers(1, lines))
    breaker = draw(st.sampled_from(BREAKERS))
    prev = TEXT[file][:_line_start(TEXT[file], line)].rstrip("\n").rsplit("\n", 1)[-1]
    indent = len(prev) - len(prev.lstrip(" ")) if prev.strip() else 0
    if breaker.startswith(("?", "- ")):
        indent = 0
    new = " " * indent + breaker
    return Fault(f"broken YAML {breaker!r} at {file}:{line}", file, None, "",
                 {file: _insert_line(file, line, new)}, min_line=1)


# --- sizes and bytes --------------------------------------------------------------------


@st.composite
def oversized(draw: st.DrawFn) -> Fault:
    """A file (an existing one, stack.yaml included, or a new one) past the limit of one
    file: the stack's own text, then comments."""
    file = draw(st.one_of(st.sampled_from(FILES),
                          st.sampled_from(["desired/prod/big.yaml", "desired/base/zz.yml"])))
    extra = draw(st.integers(1, 64 * 1024))
    head = TEXT.get(file, "").encode()
    pad = limits.MAX_FILE_BYTES + extra - len(head)
    line = b"# " + b"x" * 77 + b"\n"
    body = head + line * (pad // len(line)) + b"#" * (pad % len(line))
    return Fault(f"{file} of {len(body)} bytes", file, 0, "limit of one file", {file: body})


INVALID_BYTES = [b"\xff", b"\xfe\xff", b"\x80", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf",
                 b"\xf8\x88\x80\x80\x80", b"\xe2\x82", b"\x00\xff"]


@st.composite
def not_utf8(draw: st.DrawFn) -> Fault:
    """Bytes that are not UTF-8 inserted at a random offset of a random file."""
    file = draw(st.sampled_from(FILES))
    data = TEXT[file].encode()
    at = draw(st.integers(0, len(data)))
    bad = draw(st.sampled_from(INVALID_BYTES))
    line = data[:at].count(b"\n") + 1
    return Fault(f"{bad!r} at byte {at} of {file}", file, line, "not UTF-8 text",
                 {file: data[:at] + bad + data[at:]})


# --- leaving the repository: symlinks, includes, folders --------------------------------

OUTSIDE_TARGETS = ["/etc/passwd", "/dev/zero", "/dev/urandom", "/proc/self/environ",
                   "{outside}/queues.yaml", "../../../outside/queues.yaml", "/", "/nowhere"]


@st.composite
def symlink_out(draw: st.DrawFn) -> Fault:
    """A symlink to outside the repository: a new YAML file, an existing one, stack.yaml,
    the included folder, or a file or folder of the function's code."""
    target = draw(st.sampled_from(OUTSIDE_TARGETS))
    where = draw(st.sampled_from(["new", "existing", "stack", "include", "code", "code file"]))
    if where == "include":
        return Fault("desired/base a symlink", "desired/base", 0, "a symlink",
                     links={"desired/base": "{outside}"})
    if where in ("code", "code file"):
        pair = next(p for p in PAIRS if p.path[-2:] == ("code", "path"))
        folder = posixpath.join(posixpath.dirname(pair.file), pair.value.value)
        link = folder if where == "code" else f"{folder}/" + draw(
            st.from_regex(r"[a-z_]{1,12}\.(py|txt)", fullmatch=True))
        return Fault(f"{link} a symlink", pair.file, pair.line, "symlink", links={link: target})
    if where == "stack":
        link = STACK_FILE
    elif where == "existing":
        link = draw(st.sampled_from(RESOURCE_FILES))
    else:
        folder = draw(st.sampled_from([STACK, "desired/base"]))
        link = f"{folder}/" + draw(st.from_regex(r"[a-z0-9_-]{1,16}\.ya?ml", fullmatch=True))
        assume(link not in FILES)
    return Fault(f"{link} -> {target}", link, 0, "symlink", links={link: target})


def leaves(base: str, relative: str) -> bool:
    """Whether `relative`, from folder `base` of the repository, goes above its root at
    any step (written independently of the loader's normpath)."""
    if relative.startswith("/"):
        return True
    depth = len(base.split("/"))
    for part in relative.split("/"):
        if part == "..":
            depth -= 1
        elif part not in ("", "."):
            depth += 1
        if depth < 0:
            return True
    return False


PART = st.sampled_from(["..", "..", "..", ".", "base", "desired", "prod", "x", "functions",
                        "etc", ""])
CLIMB = st.one_of(
    st.lists(PART, min_size=1, max_size=12).map("/".join),
    st.from_regex(r"/[a-z/]{0,20}", fullmatch=True),
    st.integers(3, 30).map(lambda n: "../" * n + "etc"))


@st.composite
def climbing_out(draw: st.DrawFn) -> Fault:
    """An include of stack.yaml, or the function's code path, that climbs out of the
    repository with ../ (or is absolute)."""
    path = draw(CLIMB)
    if draw(st.booleans()):
        assume(leaves(STACK, path))
        includes = next(p for p in PAIRS if p.file == STACK_FILE and p.path == ("includes",))
        item = includes.value.value[0]
        return Fault(f"include {path!r}", STACK_FILE, item.start_mark.line + 1,
                     "the repository", {STACK_FILE: _edit(
                         STACK_FILE, item.start_mark.index, item.end_mark.index, _flow(path))})
    pair = next(p for p in PAIRS if p.path[-2:] == ("code", "path"))
    assume(leaves(posixpath.dirname(pair.file), path))
    return Fault(f"code path {path!r}", pair.file, pair.line, "the repository",
                 {pair.file: _edit(pair.file, pair.start, pair.end, _flow(path))})


# --- ${...} inside values, hostile names ------------------------------------------------

TOKEN = st.text(st.characters(codec="utf-8", exclude_characters="}"), max_size=30)
AROUND = st.text(st.characters(codec="utf-8"), max_size=10)


def _substitutes(token: str) -> bool:
    """Whether `${token}` is a substitution that may succeed (a value that exists, a ref)."""
    if token.startswith("ref:"):
        return True
    if not token.startswith("values."):
        return False
    return token[len("values."):].split(".")[0] in VALUES


@st.composite
def substitution_garbage(draw: st.DrawFn) -> Fault:
    """A spec value holding a `${...}` that cannot be substituted: unknown, undefined,
    unclosed, nested, with any text around it."""
    pair = draw(st.sampled_from(INLINE_SPEC))
    prefix, token, suffix = draw(AROUND), draw(TOKEN), draw(AROUND)
    closed = draw(st.booleans())
    assume(not prefix.endswith("$") and not _substitutes(token))
    assume(closed or "}" not in suffix)
    value = prefix + "${" + token + ("}" if closed else "") + suffix
    return Fault(f"{value!r} at {pair.file}:{pair.line}", pair.file, pair.line,
                 "${",
                 {pair.file: _edit(pair.file, pair.start, pair.end, _flow(value))})


CONTROL_CHAR = st.characters(codec="utf-8", categories=["Cc"])
META = st.sampled_from(list(";|&<>*?{}[]!'\"`\\ \t$()~^"))


def _with(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Some text with one of `strategy`'s characters at a random place in it."""
    return st.tuples(ANY_TEXT, strategy, ANY_TEXT).map("".join)


HOSTILE_NAME = st.one_of(
    _with(CONTROL_CHAR),
    _with(META),
    _with(st.characters(codec="utf-8", min_codepoint=0x80)),
    st.integers(1_100, 20_000).map(lambda n: "a" * n),
    st.just(""),
)


@st.composite
def hostile_name(draw: st.DrawFn) -> Fault:
    """A resource's (or the stack's) name made of control characters, markup, shell and
    YAML metacharacters, non-ASCII text, or thousands of characters."""
    name = draw(HOSTILE_NAME)
    if draw(st.integers(0, 9)) == 0:
        pair = next(p for p in PAIRS if p.file == STACK_FILE and p.path == ("name",))
        says = "name"
        line = pair.line
    else:
        doc = draw(st.sampled_from(DOCS))
        pair = next(p for p in PAIRS
                    if (p.file, p.doc, p.path) == (doc.file, doc.index, ("name",)))
        says = "name" if name else "needs a `kind` and a `name`"
        line = pair.line if name else doc.kind_line
    return Fault(f"name {name[:60]!r}", pair.file, line, says,
                 {pair.file: _edit(pair.file, pair.start, pair.end, _flow(name))})


ALL: dict[str, Callable[[], st.SearchStrategy[Fault]]] = {
    "wrong type": wrong_type, "unknown field": unknown_field, "unknown kind": unknown_kind,
    "dangling ref": dangling_ref, "ref cycle": ref_cycle, "duplicate key": duplicate_key,
    "yaml bomb": yaml_bomb, "broken yaml": broken_yaml, "oversized": oversized,
    "not utf-8": not_utf8, "symlink out": symlink_out, "climbing out": climbing_out,
    "substitution": substitution_garbage, "hostile name": hostile_name,
}


def any_fault() -> st.SearchStrategy[Fault]:
    """One fault of any way."""
    return st.one_of([make() for make in ALL.values()])


def has_control(text: str) -> bool:
    """Whether `text` holds a control character (C0, DEL or C1): one would split a
    one-line issue or act on a terminal."""
    return CONTROL.search(text) is not None
