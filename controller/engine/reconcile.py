"""plan() and apply(): the two entry points the CLI and the daemon share.

plan = guard -> observe in waves -> decide (adopt, update, replace, refuse) ->
holds -> orphans. apply = refuse or write in dependency order, independent
resources at once, isolating failures and re-checking each write; then the old resources
of create-first replaces and the pruned orphans are deleted, dependents first.
A write AWS finishes later is recorded as progressing, and what needs its
attributes waits with the driver's words as the reason.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import structlog

from controller import metrics
from controller.aws.errors import AWS_ERRORS, describe_error, may_have_happened
from controller.aws.gateway import AwsGateway
from controller.aws.tags import ID_KEY, not_owned, retired_id
from controller.engine.changeset import Change, ChangeSet, Warning
from controller.engine.decide import decide, drift
from controller.engine.diff import top_level_fields
from controller.engine.guard import check_target
from controller.engine.observe import Node, build_nodes, observe_wave, pool, resolve
from controller.engine.prune import (
    Orphan,
    PruneRules,
    decide_orphans,
    deletion_order,
    find_orphans,
)
from controller.engine.recent import RecentCreates, unlisted_reason
from controller.engine.schedule import DEFAULT_PARALLELISM, in_dependency_order
from controller.engine.shutdown import Shutdown
from controller.model import Desired, Observed, is_unknown
from controller.resources.base import Driver, RunContext, Vanished
from controller.spec.graph import waves
from controller.spec.stack import Stack

log = structlog.get_logger("controller.engine")

# Why a pending change must not be written now (policy drift: report, a rolled-back
# revision...), or None to write it. It sees the node: the resource as written,
# resolved and observed.
HoldRule = Callable[[Change, Node, Mapping[str, Node]], "str | None"]


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
    drivers: Mapping[str, Driver]
    orphans: dict[str, Orphan] = field(default_factory=dict)
    # old resources of create-first replaces, deleted once their dependents moved
    retired: list[tuple[Node, Observed]] = field(default_factory=list)
    recent: RecentCreates | None = None


def plan(stack: Stack, aws: AwsGateway, *, hold: HoldRule | None = None,
         prune: bool = True, allow_prune: int | None = None,
         drivers: Mapping[str, Driver] | None = None) -> Plan:
    """Compute what apply would do. Makes no AWS write.

    `hold` may keep a pending change from being applied (the daemon's
    `policy.drift: report`, a revision AWS rolled back): it stays in the plan,
    with its reason, and apply leaves it alone. `prune=False` (a tip that failed
    to load) keeps every orphan; `allow_prune` lifts `pruneLimit` for one apply.
    `drivers` defaults to the registry the stack was validated against.
    """
    started, calls_before = time.monotonic(), aws.total_calls
    check_target(stack.config, aws)
    ctx = RunContext(aws, stack.name, check_images=stack.config.checkImages)
    kinds = drivers if drivers is not None else cast(Mapping[str, Driver], stack.kinds)
    nodes = build_nodes(stack.resources, kinds)
    order = waves({r.id: sorted(r.depends_on) for r in stack.resources})
    changes: dict[str, Change] = {}
    prefetched: set[str] = set()
    recent = RecentCreates.of(stack.name, stack.config.account)
    with pool() as readers:
        for wave in order:
            observe_wave([nodes[i] for i in wave], nodes, ctx, readers, prefetched)
            for rid in wave:
                changes[rid] = _decided(nodes[rid], nodes, stack.name, ctx, hold, recent)
    recent.save()
    warnings: list[Warning] = []
    orphans = find_orphans(kinds, ctx, set(nodes), warnings)
    rules = PruneRules(prune and stack.config.prune,
                       allow_prune if allow_prune is not None else stack.config.pruneLimit)
    deletes = decide_orphans(orphans, rules, warnings)
    warnings += duplicate_warnings(ctx)
    # Dependency order reads like the apply will run: the VPC before its subnets.
    changeset = ChangeSet(stack.name, stack.revision,
                          [changes[rid] for wave in order for rid in wave] + deletes, warnings)
    result = Plan(stack, changeset, nodes, order, ctx, started, calls_before, kinds,
                  {o.id: o for o in orphans}, recent=recent)
    _finish(result)
    return result


def _decided(node: Node, nodes: Mapping[str, Node], stack: str, ctx: RunContext,
             hold: HoldRule | None, recent: RecentCreates) -> Change:
    change = decide(node, stack)
    if change.action == "replace" and not change.refused:
        _refuse_unless_ours(node, change, ctx)
    if hold is not None and change.pending and not change.refused:
        reason = hold(change, node, nodes)
        if reason:
            change.held, change.reason = True, reason
    _hold_what_aws_lacks(node, change, ctx)
    _wait_for_a_lagging_create(node, change, recent)
    if node.readiness is not None and not node.readiness.ready:
        change.progress = f"{node.readiness.state}: {node.readiness.reason}"
    _mark_pending(node, change)
    return change


def _hold_what_aws_lacks(node: Node, change: Change, ctx: RunContext) -> None:
    """A write that needs what AWS does not hold yet (an image not in ECR) is held with the
    driver's words; one whose check failed is held too, saying why: nothing rolls blind."""
    if change.action not in ("create", "update", "replace") or change.refused or change.held:
        return
    assert node.desired is not None
    try:
        live = None if node.live is None or node.live.deleted else node.live
        reason = node.driver.missing(node.desired, live, ctx)
    except AWS_ERRORS as err:
        reason = f"its prerequisites cannot be checked ({describe_error(err)})"
    if reason:
        change.held, change.reason = True, f"held: {reason}"


def _wait_for_a_lagging_create(node: Node, change: Change, recent: RecentCreates) -> None:
    """A create sent minutes ago whose resource AWS does not list yet is held, not sent
    again (engine/recent.py); one AWS lists is forgotten."""
    if node.live is not None:
        recent.seen(node.id)
        return
    age = recent.unlisted_for(node.id)
    if change.action == "create" and age is not None and not change.held:
        change.held, change.reason = True, unlisted_reason(age)


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


def duplicate_warnings(ctx: RunContext) -> list[Warning]:
    """Two live resources that carry one identity: the first AWS listed is the one the
    stack manages; the other is shown, never deleted, for a person to remove."""
    return [Warning(rid, f"{len(ids)} live resources carry this identity: {', '.join(ids)}; "
                         f"the controller manages {ids[0]} and leaves the others (a create "
                         "retried after its answer was lost makes one): delete the one not "
                         "wanted")
            for rid, ids in sorted(ctx.duplicates.items())]


def _finish(p: Plan) -> None:
    p.changes.api_calls = p.ctx.aws.total_calls - p.calls_before
    p.changes.duration_seconds = time.monotonic() - p.started


def apply(p: Plan, *, stop: Shutdown | None = None,
          parallelism: int = DEFAULT_PARALLELISM) -> ChangeSet:
    """Carry out a plan in dependency order. Refused plans write nothing.

    Up to `parallelism` resources are written at once, each as soon as everything it
    depends on is done (engine/schedule.py); the change set keeps the plan's order.
    `stop` is checked before each write: a shutdown finishes the writes in flight
    (each is marked on it) and leaves the rest for the next run.
    """
    cs = p.changes
    if cs.refused:
        _finish(p)
        return cs
    cs.applied = True
    by_id = {c.id: c for c in cs.changes}

    def write(rid: str) -> None:
        if _may_write(by_id[rid], stop):
            with _writing(stop, rid):
                _apply_one(p, p.nodes[rid], by_id[rid], by_id)

    in_dependency_order([rid for wave in p.order for rid in wave],
                        {rid: p.nodes[rid].doc.depends_on for wave in p.order for rid in wave},
                        write, parallelism)
    # Writes ended in any order: the old resources go in the plan's order, reversed.
    position = {rid: i for i, rid in enumerate(by_id)}
    p.retired.sort(key=lambda retired: position[retired[0].id])
    for node, old in reversed(p.retired):
        if _may_write(by_id[node.id], stop):
            with _writing(stop, node.id):
                _delete_retired(p, node, old, by_id)
    for change in _prune_order(p, cs):
        if _may_write(change, stop):
            with _writing(stop, change.id):
                _prune(p, change)
    _finish(p)
    return cs


def _may_write(change: Change, stop: Shutdown | None) -> bool:
    """False once a shutdown was asked for: what is left waits for the next run."""
    if stop is not None and stop.requested and change.pending and change.result is None:
        change.result = "skipped"
        change.reason = "skipped: the controller is shutting down"
        return False
    return True


def _writing(stop: Shutdown | None, rid: str) -> contextlib.AbstractContextManager[None]:
    return stop.writing(rid) if stop is not None else contextlib.nullcontext()


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
    unusable = [d for d in deps if not _usable(p, p.nodes[d])]
    if unusable:
        change.result = "held"
        change.reason = "held: waits for " + _waited_for(p, unusable, by_id)
        return
    stale = node.desired is not None and is_unknown(node.desired.spec)
    node.desired = resolve(node, p.nodes, p.stack.name)
    if is_unknown(node.desired.spec):
        change.result = "held"
        change.reason = "held: waits for " + _waited_for(p, deps, by_id)
        return
    try:
        if stale:
            # Identity may have depended on what was just created: read afresh.
            node.live = node.driver.observe(node.desired, RunContext(p.ctx.aws, p.stack.name))
        node.live = _write(p, node, change)
        node.all_pending = False
        node.pending_attrs = set()
        node.readiness = node.driver.readiness(node.desired, node.live)
        if not node.readiness.ready:
            change.progress = f"{node.readiness.state}: {node.readiness.reason}"
        _succeeded(p, node.doc.kind, change)
    except Exception as err:  # any failure is this resource's: the run goes on
        _failed(p, node.doc.kind, change, err)


def _usable(p: Plan, dep: Node) -> bool:
    """Whether a dependency AWS refuses to use before it is ready (`ready_before_use`) is
    ready now: read once more when it was not (it may have become ready since the plan)."""
    if not dep.driver.ready_before_use or dep.readiness is None or dep.readiness.ready:
        return True
    if dep.desired is not None and not is_unknown(dep.desired.spec):
        try:
            live = dep.driver.observe(dep.desired, RunContext(p.ctx.aws, p.stack.name))
        except AWS_ERRORS:
            return False
        if live is not None:
            dep.live, dep.readiness = live, dep.driver.readiness(dep.desired, live)
    return dep.readiness.ready


def _waited_for(p: Plan, deps: list[str], by_id: dict[str, Change]) -> str:
    """The dependencies whose attributes are not known yet, and why, in their words."""
    reasons = []
    for dep in deps:
        readiness = p.nodes[dep].readiness
        if readiness is not None and not readiness.ready:
            reasons.append(f"{dep}: {readiness.reason or readiness.state}")
        elif by_id[dep].result == "held":
            reasons.append(f"{dep}, which is held")
    return ", ".join(reasons) or "a dependency whose attributes are not known yet"


def _succeeded(p: Plan, kind: str, change: Change) -> None:
    change.result = "success"
    metrics.APPLY_ACTIONS.labels(p.stack.name, kind, change.action, "success").inc()
    log.info("applied", id=change.id, kind=kind, name=change.name, action=change.action,
             fields=[f.path for f in change.fields], progress=change.progress)


def _failed(p: Plan, kind: str, change: Change, err: Exception) -> None:
    change.result = "error"
    change.error = describe_error(err)
    if change.action in ("create", "replace") and may_have_happened(err):
        change.error += ("; AWS may have made it before its answer was lost: the next run "
                         "looks for it by its identity before creating anything")
    metrics.APPLY_ACTIONS.labels(p.stack.name, kind, change.action, "error").inc()
    log.error("apply failed", id=change.id, action=change.action, error=change.error)


class NotConverged(Exception):
    """A write succeeded but the resource still differs: a driver or emulator gap."""


class NotOurs(Exception):
    """A delete found, at apply time, that the live resource is not this stack's."""


def _write(p: Plan, node: Node, change: Change) -> Observed:
    desired, driver, ctx = node.desired, node.driver, p.ctx
    assert desired is not None
    live = None if node.live is not None and node.live.deleted else node.live
    if live is not None:
        fields = drift(node, live)
        if not fields and change.action != "adopt":
            return live
        change.fields = fields
        if change.action == "adopt":
            # Tags first: from then on it is this stack's, whatever else fails.
            return _converge(driver.update(desired, live, [*top_level_fields(fields), "tags"],
                                           ctx), node, ctx)
        if change.action == "replace":
            why = not_ours(node, ctx)  # again, on what is live now, just before the delete
            if why:
                raise NotOurs(f"not deleted: {why}")
            if node.replace_order == "create_first":
                driver.retag(live, {ID_KEY: retired_id(node.id)}, ctx)
                p.retired.append((node, live))
            else:
                driver.delete(live, ctx)
            live = None
    if live is None:
        live = _create(p, node, desired)
    else:
        live = driver.update(desired, live, top_level_fields(change.fields), ctx)
    return _converge(live, node, ctx)


def _create(p: Plan, node: Node, desired: Desired) -> Observed:
    """Create, and note it (done, or maybe done: its answer lost, or not listed yet) so the
    next plan waits for AWS to list it instead of creating a second one. Only resources
    found by their tags: AWS refuses a second resource of the same name itself."""
    recent = p.recent if node.driver.identity == "tags" else None  # a name has no twin
    try:
        live = node.driver.create(desired, p.ctx)
    except Exception as err:
        if recent is not None and (isinstance(err, Vanished) or may_have_happened(err)):
            recent.sent(node.id)
        raise
    if recent is not None:
        recent.sent(node.id)
    return live


def _converge(live: Observed, node: Node, ctx: RunContext) -> Observed:
    """One more in-place update if the write left fields differing (some APIs drop fields
    on create: moto's create_service drops deploymentConfiguration); else NotConverged."""
    desired = node.desired
    assert desired is not None
    remaining = drift(node, live)
    if remaining:
        live = node.driver.update(desired, live, top_level_fields(remaining), ctx)
        remaining = drift(node, live)
    if remaining:
        raise NotConverged("still differs after the write: "
                           + ", ".join(f.path for f in remaining))
    return live


def _delete_retired(p: Plan, node: Node, old: Observed, by_id: dict[str, Change]) -> None:
    """The old resource of a create-first replace, now that dependents use the new one."""
    change = by_id[node.id]
    try:
        node.driver.delete(old, p.ctx)
    except Exception as err:
        change.result = "error"
        change.error = (f"the new {node.id} is in place; the old one (now tagged "
                        f"{retired_id(node.id)}) could not be deleted: {describe_error(err)}")
        log.error("apply failed", id=node.id, action="replace", error=change.error)


def _prune_order(p: Plan, cs: ChangeSet) -> list[Change]:
    """Pruned orphans in the kinds' deletion order: dependents first."""
    order = {kind: i for i, kind in enumerate(deletion_order(p.drivers))}
    deletes = [c for c in cs.changes if c.action == "delete" and c.id in p.orphans]
    return sorted(deletes, key=lambda c: (order.get(c.kind, len(order)), c.name))


def _prune(p: Plan, change: Change) -> None:
    if change.held or change.result:
        change.result = change.result or "held"
        return
    orphan = p.orphans[change.id]
    why = not_owned(orphan.live.tags or {}, p.stack.name, orphan.id)
    try:
        if why:
            raise NotOurs(f"not deleted: {why}")
        orphan.driver.delete(orphan.live, p.ctx)
        _succeeded(p, orphan.kind, change)
    except Exception as err:
        _failed(p, orphan.kind, change, err)
