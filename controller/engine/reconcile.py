"""plan() and apply(): the two entry points the CLI and the daemon share.

plan = guard -> observe in waves -> diff -> decide; apply = plan -> refuse or
write in dependency order, one resource at a time, isolating failures and
re-checking each write against the desired state.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from controller import metrics
from controller.aws.errors import describe_error
from controller.aws.gateway import AwsGateway
from controller.aws.tags import not_owned
from controller.engine.changeset import Action, Change, ChangeSet
from controller.engine.diff import FieldChange, diff_fields, top_level_fields
from controller.engine.guard import check_target
from controller.engine.observe import Node, build_nodes, observe_wave, pool, resolve
from controller.engine.shutdown import Shutdown
from controller.resources.base import Observed, RunContext, is_unknown
from controller.spec.graph import waves
from controller.spec.stack import Stack

log = structlog.get_logger("controller.engine")


@dataclass
class Plan:
    """A computed plan: the change set plus what apply needs to carry it out."""

    stack: Stack
    changes: ChangeSet
    nodes: dict[str, Node]
    order: list[list[str]]
    ctx: RunContext
    started: float
    calls_before: int


def decide(node: Node) -> Change:
    """Turn one observed node into a Change (pure: no AWS calls)."""
    doc, driver, desired = node.doc, node.driver, node.desired
    if node.error is not None or desired is None:
        return Change(doc.kind, doc.name, "error", error=node.error)
    if node.live is None or node.live.deleted:
        fields = [FieldChange(f"spec.{k}", None, v) for k, v in desired.spec.items()]
        reason = "restore: deleted out of band, still recoverable" if node.live else None
        return Change(doc.kind, doc.name, "create", fields, reason=reason,
                      note=driver.plan_note("create", desired, None, list(desired.spec)),
                      after=node.written)
    fields = diff_fields(desired.spec, node.live.fields)
    if not fields:
        return Change(doc.kind, doc.name, "no-op")
    top = top_level_fields(fields)
    before = {k: node.live.fields.get(k) for k in top}
    after = {k: desired.spec.get(k) for k in top}
    immutable = [f for f in top if f in driver.immutable]
    action: Action = "replace" if immutable else "update"
    change = Change(doc.kind, doc.name, action, fields,
                    note=driver.plan_note(action, desired, node.live, top),
                    before=before, after=after)
    if not immutable:
        return change
    change.reason = f"immutable field(s) changed: {', '.join(immutable)}"
    protect = doc.policy.protect if doc.policy.protect is not None else driver.holds_data
    if protect:
        change.refused = True
        change.reason = (f"refused: replacing {doc.kind} would destroy its data "
                         f"({', '.join(immutable)} cannot change in place); set "
                         "policy.protect: false to allow it")
    return change


def not_ours(node: Node, ctx: RunContext) -> str | None:
    """Why the live resource must not be deleted by this stack, or None when it may.

    Replace (and prune) delete: only what carries this stack's ownership tags for this
    very resource. A same-named role someone else made, a resource of another stack,
    or one whose tags cannot be read is left alone.
    """
    assert node.desired is not None and node.live is not None
    try:
        tags = node.driver.live_tags(node.desired, node.live, ctx)
    except Exception as err:
        return f"its ownership tags cannot be read ({describe_error(err)})"
    return not_owned(tags, ctx.stack, node.id)


def _refuse_unless_ours(node: Node, change: Change, ctx: RunContext) -> None:
    why = not_ours(node, ctx)
    if why:
        change.refused = True
        change.reason = (f"refused: replacing {node.id} would delete the resource in AWS, and "
                         f"{why}; nothing of it is changed. Delete or rename it by hand if "
                         "that is intended")


def _mark_pending(node: Node, change: Change) -> None:
    """Attributes that this run will change read as '(known after apply)' downstream.

    A held change will not be written: its dependents read its current attributes.
    """
    if change.held:
        return
    restoring = node.live is not None and node.live.deleted
    if change.action in ("replace", "error") or (change.action == "create" and not restoring):
        node.all_pending = True
    elif change.action == "update":
        node.pending_attrs = set(node.driver.changed_by_update)


def plan(stack: Stack, aws: AwsGateway, *, hold: HoldRule | None = None) -> Plan:
    """Compute what apply would do. Makes no AWS write.

    `hold` may keep a pending change from being applied (the daemon's
    `policy.drift: report`, a revision ECS rolled back): it stays in the plan,
    with its reason, and apply leaves it alone.
    """
    started, calls_before = time.monotonic(), aws.total_calls
    check_target(stack.config, aws)
    ctx = RunContext(aws, stack.name)
    nodes = build_nodes(stack.resources)
    order = waves({r.id: sorted(r.depends_on) for r in stack.resources})
    changes: dict[str, Change] = {}
    prefetched: set[str] = set()
    with pool() as readers:
        for wave in order:
            observe_wave([nodes[i] for i in wave], nodes, ctx, readers, prefetched)
            for rid in wave:
                changes[rid] = decide(nodes[rid])
                if changes[rid].action == "replace" and not changes[rid].refused:
                    _refuse_unless_ours(nodes[rid], changes[rid], ctx)
                if hold is not None and changes[rid].pending and not changes[rid].refused:
                    reason = hold(changes[rid], nodes[rid])
                    if reason:
                        changes[rid].held, changes[rid].reason = True, reason
                _mark_pending(nodes[rid], changes[rid])
    # Dependency order reads like the apply will run: the VPC before its subnets.
    changeset = ChangeSet(stack.name, stack.revision,
                          [changes[rid] for wave in order for rid in wave])
    result = Plan(stack, changeset, nodes, order, ctx, started, calls_before)
    _finish(result)
    return result


def _finish(p: Plan) -> None:
    p.changes.api_calls = p.ctx.aws.total_calls - p.calls_before
    p.changes.duration_seconds = time.monotonic() - p.started


# Why a pending change must not be written now (policy drift: report, a rolled-back
# revision...), or None to write it. It sees the node: the resource as written,
# resolved and observed.
HoldRule = Callable[[Change, Node], "str | None"]


def apply(p: Plan, *, stop: Shutdown | None = None) -> ChangeSet:
    """Carry out a plan in dependency order, one write at a time. Refused plans write nothing.

    `stop` is checked between writes: a shutdown finishes the write in flight
    (each write is marked on it) and leaves the rest for the next run.
    """
    cs = p.changes
    if cs.refused:
        _finish(p)
        return cs
    cs.applied = True
    by_id = {c.id: c for c in cs.changes}
    for wave in p.order:
        for rid in wave:
            change = by_id[rid]
            if stop is not None and stop.requested and change.pending and not change.result:
                change.result = "skipped"
                change.reason = "skipped: the controller is shutting down"
                continue
            with stop.writing(rid) if stop is not None else contextlib.nullcontext():
                _apply_one(p, p.nodes[rid], change, by_id)
    _finish(p)
    return cs


def _apply_one(p: Plan, node: Node, change: Change, by_id: dict[str, Change]) -> None:
    deps = sorted(node.doc.depends_on)
    blocked = [d for d in deps
               if by_id[d].result in ("error", "skipped") or by_id[d].action == "error"]
    if change.action == "error":
        change.result = "error"
        return
    if not change.pending or change.result:
        return  # nothing to write: a failed dependency skips nothing here
    if blocked:
        change.result = "skipped"
        change.reason = f"skipped: depends on {', '.join(blocked)}, which failed"
        log.warning("skipped", id=change.id, blocked_by=blocked)
        return
    if change.held:
        change.result = "held"
        return
    stale = node.desired is not None and is_unknown(node.desired.spec)
    node.desired = resolve(node, p.nodes, p.stack.name)
    if is_unknown(node.desired.spec):
        waiting = [d for d in deps if by_id[d].result == "held"]
        change.result = "held"
        change.reason = f"held: waits for {', '.join(waiting) or 'a dependency'}, which is held"
        return
    try:
        if stale:
            # Identity may have depended on what was just created: read afresh.
            node.live = node.driver.observe(node.desired, RunContext(p.ctx.aws, p.stack.name))
        node.live = _write(node, change, p.ctx)
        node.all_pending = False
        node.pending_attrs = set()
        change.result = "success"
        metrics.APPLY_ACTIONS.labels(p.stack.name, node.doc.kind, change.action, "success").inc()
        log.info("applied", id=change.id, kind=node.doc.kind, name=node.doc.name,
                 action=change.action, fields=[f.path for f in change.fields])
    except Exception as err:
        change.result = "error"
        change.error = describe_error(err)
        metrics.APPLY_ACTIONS.labels(p.stack.name, node.doc.kind, change.action, "error").inc()
        log.error("apply failed", id=change.id, action=change.action, error=change.error)


class NotConverged(Exception):
    """A write succeeded but the resource still differs: a driver or emulator gap."""


class NotOurs(Exception):
    """A replace found, at apply time, that the live resource is not this stack's."""


def _write(node: Node, change: Change, ctx: RunContext) -> Observed:
    desired, driver = node.desired, node.driver
    assert desired is not None
    live = None if node.live is not None and node.live.deleted else node.live
    if live is not None:
        fields = diff_fields(desired.spec, live.fields)
        if not fields:
            return live
        change.fields = fields
        if change.action == "replace":
            why = not_ours(node, ctx)  # again, on what is live now, just before the delete
            if why:
                raise NotOurs(f"not deleted: {why}")
            driver.delete(desired, live, ctx)
            live = None
    if live is None:
        live = driver.create(desired, ctx)
    else:
        live = driver.update(desired, live, top_level_fields(change.fields), ctx)
    remaining = diff_fields(desired.spec, live.fields)
    if remaining:
        # Some APIs drop fields on create (moto's create_service drops
        # deploymentConfiguration): one in-place update in the same run.
        live = driver.update(desired, live, top_level_fields(remaining), ctx)
        remaining = diff_fields(desired.spec, live.fields)
    if remaining:
        raise NotConverged("still differs after the write: "
                           + ", ".join(f.path for f in remaining))
    return live
