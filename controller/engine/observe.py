"""Concurrent, batched observation of a whole stack, in dependency waves.

Resources of one wave depend only on earlier waves, so their refs are known
(or known to be unknown) before they are read. Within a wave each kind first
gets one `prefetch` (its batched describe), then every resource is observed
on a thread pool: reads are concurrent, writes (apply) are not.
"""

from __future__ import annotations

import contextlib
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
    # the spec as written, refs resolved but not normalised: what a plan shows of a create
    written: dict[str, Any] | None = None
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
        value = target.live.attrs.get(ref.attr)
        return UNKNOWN if value is None else value

    return lookup


def resolve(node: Node, nodes: dict[str, Node], stack: str) -> Desired:
    lookup = resolver(nodes)
    node.written = resolve_refs(node.doc.spec, lookup)
    spec = node.driver.normalise(resolve_refs(node.doc.spec, lookup))
    if isinstance(spec.get("tags"), dict):
        # Every kind's `tags` is a user map: a tag added by hand is drift.
        spec["tags"] = ExactMap(spec["tags"])
    return Desired(node.doc.kind, node.doc.name, stack, spec, node.doc.policy)


def observe_wave(wave: list[Node], nodes: dict[str, Node], ctx: RunContext,
                 pool: ThreadPoolExecutor, prefetched: set[str]) -> None:
    """Resolve, prefetch each kind not yet prefetched, then observe every node of one wave.

    A kind's prefetch covers all its resources in the stack, not only this
    wave's: two services in different waves (their security groups differ in
    depth) still share one `describe_services` call. Resources of later waves
    are resolved as far as known now; drivers skip what they cannot identify
    yet, and `observe` reads those afresh.
    """
    for node in wave:
        node.desired = resolve(node, nodes, ctx.stack)
    new_kinds = sorted({n.doc.kind for n in wave} - prefetched)
    prefetched.update(new_kinds)

    def prefetch(kind: str) -> None:
        of_kind = [n.desired if n in wave else resolve(n, nodes, ctx.stack)
                   for n in nodes.values() if n.doc.kind == kind]
        # A failed batch read is not fatal: each observe reports its own error.
        with contextlib.suppress(Exception):
            DRIVERS[kind].prefetch([d for d in of_kind if d is not None], ctx)

    list(pool.map(prefetch, new_kinds))

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
