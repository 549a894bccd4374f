"""YAML documents with the line of every value, read within bounds.

Why a composer of our own: PyYAML keeps an alias as a reference to the
anchored node, so 451 bytes of nested aliases (a "billion laughs") parse
instantly and then expand into gigabytes in whatever walks the result; an
alias may even point at a node that contains it, and nesting is only bounded
by the stack. `BoundedComposer` counts every node as it would be once
expanded, refuses a recursive alias, and stops at a nesting depth, while the
document is being composed: a hostile file fails in time and memory
proportional to its size. libyaml's parser is used when PyYAML has it (it is
iterative, so deep nesting cannot overflow it, and several times faster).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from controller.spec import limits

Path = tuple[str | int, ...]
class NodeBudget:
    """How many YAML nodes (aliases expanded) a whole stack may still hold."""

    def __init__(self, nodes: int | None = None) -> None:
        self.limit = limits.MAX_YAML_NODES if nodes is None else nodes
        self.left = self.limit

    def spend(self, nodes: int) -> bool:
        self.left -= nodes
        return self.left >= 0


class BoundedComposer(Composer):
    """PyYAML's composer with the expanded size and depth of every node kept in check."""

    # Provided by the parser this composer is mixed with (libyaml's or PyYAML's).
    check_event: Any
    peek_event: Any

    def __init__(self, budget: NodeBudget) -> None:
        super().__init__()
        self.budget = budget
        self.size: dict[int, int] = {}  # id(node) -> nodes once expanded
        self.height: dict[int, int] = {}  # id(node) -> nesting levels below and including it
        self.depth = 0
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            if event.anchor in self.open_anchors:
                raise ComposerError(None, None, f"alias *{event.anchor} refers to a node that "
                                    "contains it (a recursive structure)", event.start_mark)
            node: Any = super().compose_node(parent, index)
            if self.depth + self.height[id(node)] > limits.MAX_YAML_DEPTH:
                self._too_deep(event.start_mark)
            return node
        event = self.peek_event()
        self.depth += 1
        if self.depth > limits.MAX_YAML_DEPTH:
            self._too_deep(event.start_mark)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        node = super().compose_node(parent, index)
        self.open_anchors.discard(event.anchor)
        self.depth -= 1
        self._measure(node)
        return node

    def _measure(self, node: Node) -> None:
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        size = 1 + sum(self.size[id(c)] for c in children)
        self.size[id(node)] = size
        self.height[id(node)] = 1 + max((self.height[id(c)] for c in children), default=0)
        if size > self.budget.left:
            raise ComposerError(None, None, f"more than {self.budget.limit:,} YAML values once "
                                "aliases are expanded (the limit of one stack): is it an alias "
                                "bomb?", node.start_mark)

    def compose_document(self) -> Node:
        node: Any = super().compose_document()
        self.budget.spend(self.size[id(node)])
        self.size.clear()
        self.height.clear()
        return node

    def _too_deep(self, mark: Any) -> None:
        raise ComposerError(None, None, f"nested deeper than {limits.MAX_YAML_DEPTH} levels",
                            mark)


class UniqueKeyConstructor(SafeConstructor):
    """PyYAML's safe constructor, refusing a key written twice in one mapping.

    YAML says keys are unique, and PyYAML keeps the last value without a word: a
    second `spec:` or `name:` in a document silently replaced the first. A key that a
    merge (`<<: *base`) brings in may still be set again, as YAML allows.
    """

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                        key_node, yaml.ScalarNode):
                    continue  # a complex key is refused as unhashable by the constructor
                key = self.construct_object(key_node)
                if key in seen:
                    raise ConstructorError(None, None, f"duplicate key {key!r}: it is also "
                                           f"at line {seen[key]}, and YAML would keep only "
                                           "the last", key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_CParser: Any = getattr(yaml, "CParser", None)
if _CParser is not None:
    class BoundedLoader(BoundedComposer, _CParser, UniqueKeyConstructor, Resolver):
        """libyaml's parser, our composer, PyYAML's safe constructor (keys unique)."""

        def __init__(self, text: str, budget: NodeBudget) -> None:
            _CParser.__init__(self, text)
            BoundedComposer.__init__(self, budget)
            UniqueKeyConstructor.__init__(self)
            Resolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    class BoundedLoader(Reader, Scanner, Parser, BoundedComposer,  # type: ignore[no-redef]
                        UniqueKeyConstructor, Resolver):
        """PyYAML's pure-Python parser (also iterative), our composer, its safe
        constructor (keys unique)."""

        def __init__(self, text: str, budget: NodeBudget) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)
            BoundedComposer.__init__(self, budget)
            UniqueKeyConstructor.__init__(self)
            Resolver.__init__(self)


@dataclass
class YamlDoc:
    """One YAML document: its value, a map from value path to 1-based line, and the text
    of each scalar as written (before YAML turned `012` into a number)."""

    value: Any
    lines: dict[Path, int]
    start_line: int
    texts: dict[Path, str] = field(default_factory=dict)

    def line_of(self, path: Path) -> int:
        """The line of `path` (a key's own line), or of its nearest ancestor that has one;
        for the document as a whole, the line of its `kind:`, where users look for a
        resource, else its first line."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(("kind",), self.start_line)

    def source(self, path: Path) -> str | None:
        """The scalar at `path` as written, or None when it is not a scalar."""
        return self.texts.get(path)


def _lines(node: Node, path: Path, out: dict[Path, int], texts: dict[Path, str]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            _lines(value_node, (*path, key), out, texts)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out, texts)
    elif isinstance(node, yaml.ScalarNode):
        texts[path] = node.value


def load_documents(text: str, budget: NodeBudget | None = None) -> list[YamlDoc]:
    """Parse every document of `text` within `budget` (a fresh one by default).

    Raises yaml.YAMLError, with a mark, on bad syntax and on any limit passed. A
    document holding nothing (only comments, or a `---` at the end) declares nothing
    and is left out.
    """
    loader = BoundedLoader(text, budget or NodeBudget())
    docs: list[YamlDoc] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path, int] = {}
            texts: dict[Path, str] = {}
            _lines(node, (), lines, texts)
            value = loader.construct_document(node)
            if value is not None:
                docs.append(YamlDoc(value, lines, node.start_mark.line + 1, texts))
    finally:
        loader.dispose()
    return docs
