"""Concurrent, batched observation of a whole stack, in dependency waves.

Resources of one wave depend only on earlier waves, so their refs are known
(or known to be unknown) before they are read. Within a wave each kind first
gets one `prefetch` (its batched describe), then every resource is observed
on a thread pool: reads are concurrent, writes (apply) are not.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog

from controller.aws.errors import AWS_ERRORS, describe_error
from controller.model import UNKNOWN, Desired, ExactMap, Observed, Readiness
from controller.resources.base import Driver, ReplaceOrder, RunContext
from controller.spec.stack import ResourceDoc
from controller.spec.substitution import Ref, resolve_refs

MAX_READERS = 8
log = structlog.get_logger("controller.engine")


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
    # how far AWS is with `live` (the driver's word), once read
    readiness: Readiness | None = None
    # a replace's order, once decided
    replace_order: ReplaceOrder | None = None
    # fields another resource of the stack manages (`Driver.takes_over`): field -> its id
    managed: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.doc.id


def resolver(nodes: dict[str, Node]) -> Callable[[Ref], Any]:
    """How `${ref:...}` reads another node's attributes, or UNKNOWN until apply."""

    def lookup(ref: Ref) -> Any:
        target = nodes[ref.target]
        if ref.attr == "name" and target.driver.identity == "name":
            return target.doc.name  # the AWS name, known before the resource exists
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
        of_kind = [(n.driver, n.desired if n in wave else resolve(n, nodes, ctx.stack))
                   for n in nodes.values() if n.doc.kind == kind]
        # A failed batch read is remembered by the batch and raised to each observe.
        with contextlib.suppress(*AWS_ERRORS):
            of_kind[0][0].prefetch([d for _, d in of_kind if d is not None], ctx)

    list(pool.map(prefetch, new_kinds))
    list(pool.map(lambda node: read(node, ctx), wave))


def read(node: Node, ctx: RunContext) -> None:
    """Observe one node (by `adopt:` id when nothing carries our tags yet), with its tags
    and readiness; an AWS error becomes the node's error."""
    assert node.desired is not None
    try:
        live = node.driver.observe(node.desired, ctx)
        if live is None and node.doc.adopt:
            live = node.driver.find(node.doc.adopt, node.desired, ctx)
        if live is not None and live.tags is None:
            live.tags = node.driver.live_tags(node.desired, live, ctx)
        node.live = live
        node.readiness = node.driver.readiness(node.desired, live) if live else None
    except AWS_ERRORS as err:
        node.error = describe_error(err)
    except Exception as err:  # a driver's bug fails its resource, not the whole plan
        log.error("observe failed", id=node.id, exc_info=err)
        node.error = f"unexpected {type(err).__name__}: {err}"


def build_nodes(docs: list[ResourceDoc], drivers: Mapping[str, Driver]) -> dict[str, Node]:
    nodes = {d.id: Node(d, drivers[d.kind]) for d in docs}
    for manager in nodes.values():
        for target in sorted(manager.doc.depends_on & nodes.keys()):
            for name in manager.driver.takes_over.get(nodes[target].doc.kind, ()):
                nodes[target].managed.setdefault(name, manager.id)
    return nodes


def pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_READERS, thread_name_prefix="observe")
