"""What AWS rolled back is not written again until git changes: holds kept across runs.

When AWS undoes a change git asks for (ECS's circuit breaker rolls a revision
back), the resource runs the old state again while git still names the new one,
so a plain reconciler would redeploy the failed change every tick. A driver says
so in its readiness (`RolledBack`, with the AWS records that show it); the hold
keeps the resource's update from being written until its desired state changes
in git: its own spec, or the spec of anything it references (a task
definition's content). Kind-agnostic: the engine knows no kind's words.

The hold lives in memory, because AWS drops its evidence after a while (ECS
lists a failed deployment only for some time): the daemon keeps one across
runs, the CLI makes a fresh one, which holds while AWS still shows the evidence.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from controller import metrics
from controller.engine.changeset import Change
from controller.engine.observe import Node
from controller.engine.reconcile import Plan
from controller.model import Folder

log = structlog.get_logger("controller.engine.holds")

ROLLED_BACK = "rolled_back"
Key = tuple[str, str]  # (stack, resource id)


def digest(value: Any) -> str:
    """A stable fingerprint of what git asks for, as one short string: a folder a spec
    names counts with its files (a changed file is a change in git)."""
    text = json.dumps(_folders_whole(value), sort_keys=True, default=str,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _folders_whole(value: Any) -> Any:
    """`value` with each `Folder` (a str: its path) as its path and its files' fingerprint."""
    if isinstance(value, Folder):
        return f"{value}#{value.fingerprint}"
    if isinstance(value, dict):
        return {k: _folders_whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_folders_whole(v) for v in value]
    return value


def git_state(node: Node, nodes: Mapping[str, Node]) -> str:
    """The resource's spec as written and the specs it references, refs as text: what a
    commit changes, and nothing AWS changes (a new revision's ARN)."""
    return digest([node.doc.spec, *[nodes[d].doc.spec for d in sorted(node.doc.depends_on)
                                    if d in nodes]])


@dataclass
class Held:
    """A remembered hold: what was rolled back, why, and git's state at the time."""

    what: str
    reason: str
    git_state: str
    evidence: frozenset[str]

    @property
    def message(self) -> str:
        return (f"held: {self.what} was rolled back by AWS ({self.reason}); change it, or "
                "what it uses, in git to deploy again")


class RollbackHolds:
    """Lives as long as the process: the daemon keeps one across runs, the CLI makes one.

    `hold_rule` is a HoldRule for plan(); `phases`/`export` read the plan afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Key, Held] = {}
        self._spent: dict[Key, set[str]] = {}  # evidence a released hold already answered

    def hold_rule(self, change: Change, node: Node, nodes: Mapping[str, Node]) -> str | None:
        """Hold a pending update that would write again what AWS rolled back."""
        if change.action != "update" or node.desired is None:
            return None
        key = (node.desired.stack, node.id)
        state = git_state(node, nodes)
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                if held.git_state == state:
                    return held.message
                del self._held[key]
                self._spent.setdefault(key, set()).update(held.evidence)
                log.info("hold released: the desired state changed in git", id=node.id,
                         what=held.what)
            rolled = node.readiness.rolled_back if node.readiness else None
            if rolled is None or rolled.evidence <= self._spent.get(key, set()):
                return None
            self._held[key] = Held(rolled.what, rolled.reason, state, rolled.evidence)
            log.warning("rolled back by AWS: holding the update until git changes",
                        id=node.id, what=rolled.what, reason=rolled.reason)
            return self._held[key].message

    def phases(self, p: Plan) -> dict[str, str]:
        """Each resource's readiness phase (`in_progress`, `completed`...; `rolled_back`
        while held), for resources whose kind names phases; forgets what left git."""
        stack = p.stack.name
        out: dict[str, str] = {}
        with self._lock:
            for node in p.nodes.values():
                held = self._held.get((stack, node.id))
                if held is not None:
                    out[node.id] = ROLLED_BACK
                elif node.readiness is not None and node.readiness.phase is not None:
                    out[node.id] = node.readiness.phase
            for memory in (self._held, self._spent):
                for key in [k for k in memory if k[0] == stack and k[1] not in p.nodes]:
                    del memory[key]
        return out

    def export(self, p: Plan) -> dict[str, str]:
        """phases(), also set as gitops_ecs_rollout_state; returns them for logs."""
        phases = self.phases(p)
        names = {n.id: n.doc.name for n in p.nodes.values()}
        set_rollout_gauge(p.stack.name, {names[rid]: phase for rid, phase in phases.items()},
                          names.values())
        return phases


STATES = ("in_progress", "completed", "failed", ROLLED_BACK)


def set_rollout_gauge(stack: str, states: Mapping[str, str], services: Iterable[str]) -> None:
    """1 for each service's current state, 0 for the others; a service not read this run keeps
    its series, one that left git loses them."""
    for service, state in states.items():
        for candidate in STATES:
            metrics.ECS_ROLLOUT_STATE.labels(stack, service, candidate).set(int(candidate == state))
    keep = set(services)
    series = {(s.labels["stack"], s.labels["service"], s.labels["state"])
              for family in metrics.ECS_ROLLOUT_STATE.collect() for s in family.samples}
    for labels in sorted(series):
        if labels[0] == stack and labels[1] not in keep:
            metrics.ECS_ROLLOUT_STATE.remove(*labels)
