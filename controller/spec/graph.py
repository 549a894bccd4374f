"""Dependency graph helpers: cycle detection and dependency-ordered waves."""

from __future__ import annotations


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """A cycle as [a, b, ..., a], or None. Iterative DFS, stable order."""
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for start in sorted(edges):
        if state.get(start):
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            deps = edges.get(node, [])
            if i < len(deps):
                stack.append((node, i + 1))
                nxt = deps[i]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt):], nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def waves(edges: dict[str, list[str]]) -> list[list[str]]:
    """Group nodes by dependency depth: everything in a wave depends only on earlier waves."""
    depth: dict[str, int] = {}

    def depth_of(node: str) -> int:
        if node not in depth:
            deps = [d for d in edges.get(node, []) if d in edges]
            depth[node] = 1 + max((depth_of(d) for d in deps), default=-1)
        return depth[node]

    for node in edges:
        depth_of(node)
    out: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in sorted(edges):
        out[depth[node]].append(node)
    return out
