"""Concurrent, batched observation of a whole stack, in dependency waves.

Resources of one wave depend only on earlier waves, so their refs are known
(or known to be unknown) before they are read. Within a wave each kind first
gets one `prefetch` (its batched describe), then every resource is observed
on a thread pool: reads are concurrent, writes (apply) are not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from controller.aws.errors import describe_error
from controller.resources.base import (
    UNKNOWN,
    Desired,
    Driver,
    ExactMap,
    Observed,
    RunContext,
)
from controller.resources.registry import DRIVERS
from controller.spec.stack import ResourceDoc
from controller.spec.substitution import Ref, resolve_refs

MAX_READERS = 8


@dataclass
class Node:
    """One resource through a run: as written, as resolved, as found, as decided."""

    doc: ResourceDoc
    driver: Driver
    desired: Desired | None = None
    live: Observed | None = None
    error: str | None = None
    # attrs that are not yet known because this run will change them
    pending_attrs: set[str] = field(default_factory=set)
    all_pending: bool = False

    @property
    def id(self) -> str:
        return self.doc.id


def resolver(nodes: dict[str, Node]) -> Callable[[Ref], Any]:
    """How `${ref:...}` reads another node's attributes, or UNKNOWN until apply."""

    def lookup(ref: Ref) -> Any:
        target = nodes[ref.target]
        if ref.attr == "name" and target.doc.name:
            return target.doc.name
        if target.all_pending or ref.attr in target.pending_attrs or target.live is None:
            return UNKNOWN
        return target.live.attrs.get(ref.attr, UNKNOWN)

    return lookup


def resolve(node: Node, nodes: dict[str, Node], stack: str) -> Desired:
    spec = node.driver.normalise(resolve_refs(node.doc.spec, resolver(nodes)))
    if isinstance(spec.get("tags"), dict):
        # Every kind's `tags` is a user map: a tag added by hand is drift.
        spec["tags"] = ExactMap(spec["tags"])
    return Desired(node.doc.kind, node.doc.name, stack, spec, node.doc.policy)


def observe_wave(wave: list[Node], nodes: dict[str, Node], ctx: RunContext,
                 pool: ThreadPoolExecutor) -> None:
    """Resolve, prefetch per kind, then observe every node of one wave."""
    by_kind: dict[str, list[Node]] = defaultdict(list)
    for node in wave:
        node.desired = resolve(node, nodes, ctx.stack)
        by_kind[node.doc.kind].append(node)

    def prefetch(kind: str) -> None:
        try:
            DRIVERS[kind].prefetch([n.desired for n in by_kind[kind] if n.desired], ctx)
        except Exception:
            pass

    list(pool.map(prefetch, by_kind))

    def observe(node: Node) -> None:
        assert node.desired is not None
        try:
            node.live = node.driver.observe(node.desired, ctx)
        except Exception as err:
            node.error = describe_error(err)

    list(pool.map(observe, wave))


def build_nodes(docs: list[ResourceDoc]) -> dict[str, Node]:
    return {d.id: Node(d, DRIVERS[d.kind]) for d in docs}


def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_READERS, thread_name_prefix="observe")
