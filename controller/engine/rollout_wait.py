"""`gitops apply --wait`: follow the rollouts an apply started until they end.

Polls through the driver's own batched observe (one describe per poll) and judges
each service by its PRIMARY deployment, the way rollouts.py reads a rollback.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from controller.aws.errors import describe_error
from controller.engine.changeset import ChangeSet
from controller.engine.observe import Node
from controller.engine.reconcile import Plan
from controller.engine.rollouts import (
    FAILED,
    POLL_SECONDS,
    ROLLED_BACK,
    ROLLOUT_KINDS,
    find_rollback,
    primary_deployment,
    same_revision,
)
from controller.resources.base import Observed, RunContext


def rollouts_started(cs: ChangeSet) -> list[str]:
    """The services an apply wrote (created or updated): the rollouts `--wait` follows."""
    return [c.id for c in cs.changes if c.kind in ROLLOUT_KINDS and c.result == "success"
            and c.action in ("create", "update", "replace")]


@dataclass(frozen=True)
class Outcome:
    service: str
    state: str  # completed | failed | rolled_back | timeout
    message: str

    @property
    def ok(self) -> bool:
        return self.state == "completed"


def _judge(sid: str, node: Node, live: Observed | None) -> tuple[Outcome | None, str]:
    """A finished outcome, or None and what the rollout is doing now."""
    assert node.desired is not None
    revision = node.desired.spec.get(ROLLOUT_KINDS[node.doc.kind].revision_field)
    if live is None:
        return None, "not found yet"
    found = find_rollback(live.attrs, revision)
    if found is not None:
        return Outcome(sid, ROLLED_BACK, f"revision {found.revision} was rolled back by the "
                                         f"ECS deployment circuit breaker ({found.reason})"), ""
    primary = primary_deployment(live.attrs)
    if primary is None:
        return None, "no PRIMARY deployment yet"
    if not same_revision(primary.get("taskDefinition"), revision):
        # Describe may lag the update (ECS is eventually consistent): wait, do not judge.
        return None, (f"waiting for a PRIMARY deployment of {revision} (the PRIMARY runs "
                      f"{primary.get('taskDefinition')}, {primary.get('rolloutState')})")
    state, why = primary.get("rolloutState"), primary.get("rolloutStateReason")
    if state == "COMPLETED":
        return Outcome(sid, "completed", f"rollout of {revision} COMPLETED"), ""
    if state == FAILED:
        return Outcome(sid, "failed", f"rollout of {revision} FAILED ({why})"), ""
    return None, (f"rollout of {revision} {state or 'without rolloutState'}, "
                  f"{primary.get('failedTasks', 0)} failed tasks")


def wait_for_rollouts(p: Plan, service_ids: Sequence[str], *, timeout: float,
                      poll_seconds: float = POLL_SECONDS,
                      progress: Callable[[str], None] | None = None,
                      sleep: Callable[[float], None] = time.sleep,
                      clock: Callable[[], float] = time.monotonic) -> dict[str, Outcome]:
    """Poll (one batched describe per poll) until each rollout COMPLETED, failed, was rolled
    back, or `timeout` seconds passed. `p` is the applied plan: its nodes hold the revisions."""
    say = progress or (lambda _: None)
    deadline = clock() + timeout
    waiting = {sid: p.nodes[sid] for sid in service_ids}
    outcomes: dict[str, Outcome] = {}
    notes: dict[str, str] = {}
    while waiting:
        ctx = RunContext(p.ctx.aws, p.stack.name)
        for kind, driver in {n.doc.kind: n.driver for n in waiting.values()}.items():
            with contextlib.suppress(Exception):  # each observe below reports its own error
                driver.prefetch([n.desired for n in waiting.values()
                                 if n.doc.kind == kind and n.desired is not None], ctx)
        for sid, node in list(waiting.items()):
            try:
                assert node.desired is not None
                outcome, notes[sid] = _judge(sid, node, node.driver.observe(node.desired, ctx))
            except Exception as err:
                outcome, notes[sid] = None, f"unreadable ({describe_error(err)})"
            left = deadline - clock()
            if outcome is None and left <= 0:
                outcome = Outcome(sid, "timeout", f"timed out after {timeout:g} s: {notes[sid]}")
            if outcome is None:
                say(f"{sid}: {notes[sid]} ({left:.0f} s left)")
                continue
            outcomes[sid] = outcome
            del waiting[sid]
            say(f"{sid}: {outcome.message}")
        if waiting:
            sleep(max(0.0, min(poll_seconds, deadline - clock())))
    return {sid: outcomes[sid] for sid in service_ids}
