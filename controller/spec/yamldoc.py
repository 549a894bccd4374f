"""YAML documents with the line of every value, so errors can name file and line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """One YAML document: its value and a map from value path to 1-based line."""

    value: Any
    lines: dict[Path, int]
    start_line: int

    def line_of(self, path: Path) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.start_line


def _lines(node: yaml.Node, path: Path, out: dict[Path, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            _lines(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def load_documents(text: str) -> list[YamlDoc]:
    """Parse every document of `text`; raises yaml.YAMLError with a mark on bad syntax."""
    nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    values = list(yaml.safe_load_all(text))
    docs: list[YamlDoc] = []
    for node, value in zip(nodes, values, strict=True):
        if node is None:
            continue
        lines: dict[Path, int] = {}
        _lines(node, (), lines)
        docs.append(YamlDoc(value, lines, node.start_mark.line + 1))
    return docs
