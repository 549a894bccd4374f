"""ECS rollouts followed across runs: their state, a hold on rolled-back revisions, --wait.

An image change registers a task-definition revision and updates the service; ECS
then rolls it out. When the deployment circuit breaker rolls it back, the service
runs the old revision again while git still names the new one, so a plain
reconciler would redeploy the failed revision every tick. The tracker holds that
update until the service's desired state changes in git, and remembers the hold in
memory because ECS drops the failed deployment from `deployments[]` after a while.

The engine knows rollouts only through ROLLOUT_KINDS and the few ECS words below.
Everything is read from the attributes the driver already observed (no AWS call),
except `wait_for_rollouts`, which polls through the driver's own batched observe.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from controller import metrics
from controller.engine.changeset import Change
from controller.engine.observe import Node
from controller.engine.reconcile import Plan
from controller.resources.base import Observed, is_unknown

log = structlog.get_logger("controller.engine.rollouts")


@dataclass(frozen=True)
class RolloutKind:
    """A kind whose updates roll out: the spec field naming the revision it deploys, and
    the kind whose desired spec is that revision's content."""

    revision_field: str
    revision_kind: str


ROLLOUT_KINDS = {"ecs.Service": RolloutKind("taskDefinition", "ecs.TaskDefinition")}
REVISION_KINDS = frozenset(k.revision_kind for k in ROLLOUT_KINDS.values())
# ECS's words in a describe_services deployment. After a rollback the new PRIMARY's
# rolloutStateReason reads "ECS deployment circuit breaker: rolling back to deploymentId
# ecs-svc/..." (the deployment it returns to, not the revision it leaves) and the failed
# deployment stays listed, no longer PRIMARY, with rolloutState FAILED.
PRIMARY, FAILED = "PRIMARY", "FAILED"
STATE_OF = {"IN_PROGRESS": "in_progress", "COMPLETED": "completed", "FAILED": "failed"}
ROLLED_BACK = "rolled_back"
STATES = ("in_progress", "completed", "failed", ROLLED_BACK)
ROLLBACK_WORDING = re.compile(r"circuit breaker.*roll(ing|ed) back", re.IGNORECASE)
POLL_SECONDS = 10.0
Key = tuple[str, str]  # (stack, resource name)


def digest(value: Any) -> str:
    """A stable fingerprint of a (resolved) spec: what git asked for, as one short string."""
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def same_revision(a: Any, b: Any) -> bool:
    """An ARN and `family:revision` name the same revision (a spec may use either form)."""
    return isinstance(a, str) and isinstance(b, str) and (
        a == b or a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1])


def primary_deployment(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    primaries = [d for d in attrs.get("deployments") or [] if d.get("status") == PRIMARY]
    return primaries[0] if primaries else attrs.get("rollout")


@dataclass(frozen=True)
class Rollback:
    """Evidence in one describe answer that the circuit breaker rolled `revision` back."""

    revision: str
    reason: str
    deployment_ids: frozenset[str]


def find_rollback(attrs: Mapping[str, Any], revision: Any,
                  ignore: Iterable[str] = ()) -> Rollback | None:
    """Was `revision` (what git wants) rolled back? Yes if a deployment of it FAILED while the
    PRIMARY runs another revision, or if the PRIMARY runs another revision because the circuit
    breaker says it is rolling back. Deployments in `ignore` are evidence already spent."""
    primary = primary_deployment(attrs)
    if (not isinstance(revision, str) or is_unknown(revision) or primary is None
            or same_revision(primary.get("taskDefinition"), revision)):
        return None
    spent = set(ignore)
    ids = {str(primary["id"])} if primary.get("id") else set()
    for d in attrs.get("deployments") or []:
        if (d.get("status") != PRIMARY and d.get("rolloutState") == FAILED
                and same_revision(d.get("taskDefinition"), revision) and d.get("id") not in spent):
            why = d.get("rolloutStateReason") or primary.get("rolloutStateReason") or FAILED
            return Rollback(str(d["taskDefinition"]), str(why).rstrip(". "),
                            frozenset(ids | {str(d["id"])}))
    why = str(primary.get("rolloutStateReason") or "")
    if ROLLBACK_WORDING.search(why) and primary.get("id") not in spent:
        return Rollback(revision, why.rstrip(". "), frozenset(ids))
    return None


def live_state(live: Observed | None) -> str | None:
    """in_progress / completed / failed from the PRIMARY deployment, None if ECS says none."""
    primary = primary_deployment(live.attrs) if live is not None else None
    return STATE_OF.get(str(primary.get("rolloutState"))) if primary else None


@dataclass
class Held:
    """A remembered hold: the rolled-back revision, and git's state when ECS rolled it back."""

    revision: str
    reason: str
    service_digest: str  # the service's resolved spec, without its revision field
    content_digest: str | None  # the revision kind's desired spec, once known
    deployment_ids: frozenset[str]

    @property
    def message(self) -> str:
        return (f"held: revision {self.revision} was rolled back by the ECS deployment circuit "
                f"breaker ({self.reason}); change the service or its task definition in git "
                "to deploy again")


class RolloutTracker:
    """Lives as long as the process: the daemon keeps one across runs, the CLI makes one.

    `hold_rule` is a HoldRule for plan(); `states`/`export` read the plan's nodes afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Key, Held] = {}
        self._spent: dict[Key, set[str]] = {}  # deployment ids whose hold git already released
        self._contents: dict[Key, str] = {}  # revision-kind resource -> digest of its desired spec

    def hold_rule(self, change: Change, node: Node) -> str | None:
        """Hold a pending update that would redeploy a revision ECS rolled back."""
        desired, rollout = node.desired, ROLLOUT_KINDS.get(node.doc.kind)
        with self._lock:
            if desired is not None and node.doc.kind in REVISION_KINDS:
                # A revision about to be registered: its content, seen before the services
                # that use it are decided (they come in a later wave).
                self._contents[(desired.stack, desired.name)] = digest(desired.spec)
            if desired is None or rollout is None or change.action != "update":
                return None
            return self._decide(rollout, node)

    def _decide(self, rollout: RolloutKind, node: Node) -> str | None:
        assert node.desired is not None
        spec, key = node.desired.spec, (node.desired.stack, node.desired.name)
        revision = spec.get(rollout.revision_field)
        service = digest({k: v for k, v in spec.items() if k != rollout.revision_field})
        content = self._content_of(rollout, node, key[0])
        held = self._held.get(key)
        if held is not None:
            if held.service_digest == service and (
                    content == held.content_digest if None not in (content, held.content_digest)
                    else same_revision(revision, held.revision)):
                return held.message
            del self._held[key]
            self._spent.setdefault(key, set()).update(held.deployment_ids)
            log.info("rollout hold released: the desired state changed in git",
                     id=node.id, revision=held.revision)
        attrs = node.live.attrs if node.live is not None else {}
        listed = {str(d.get("id")) for d in attrs.get("deployments") or []}
        spent = self._spent.get(key, set()) & listed  # ECS never lists a dropped one again
        self._spent[key] = spent
        found = find_rollback(attrs, revision, spent)
        if found is None:
            return None
        self._held[key] = Held(found.revision, found.reason, service, content,
                               found.deployment_ids)
        log.warning("rollout rolled back: holding the update until git changes",
                    id=node.id, revision=found.revision, reason=found.reason)
        return self._held[key].message

    def _content_of(self, rollout: RolloutKind, node: Node, stack: str) -> str | None:
        """The desired content of the revision(s) a service refers to, if the tracker saw it."""
        prefix = rollout.revision_kind + "/"
        found = [self._contents.get((stack, d[len(prefix):]))
                 for d in sorted(node.doc.depends_on) if d.startswith(prefix)]
        return digest(found) if found and None not in found else None

    def states(self, p: Plan) -> dict[str, str]:
        """Each service's rollout state after plan/apply, from its live attrs and the hold."""
        stack, by_id = p.stack.name, {c.id: c for c in p.changes.changes}
        out: dict[str, str] = {}
        with self._lock:
            for node in p.nodes.values():  # revisions in force: what services now run
                change = by_id.get(node.id)
                if node.doc.kind in REVISION_KINDS and node.desired is not None and change \
                        and (not change.pending or change.result == "success"):
                    self._contents[(stack, node.doc.name)] = digest(node.desired.spec)
            services = {n.doc.name: n for n in p.nodes.values() if n.doc.kind in ROLLOUT_KINDS}
            for name, node in services.items():
                held, change = self._held.get((stack, name)), by_id.get(node.id)
                if held is not None and change is not None and change.reason == held.message:
                    rollout = ROLLOUT_KINDS[node.doc.kind]
                    if held.content_digest is None and node.desired is not None and same_revision(
                            node.desired.spec.get(rollout.revision_field), held.revision):
                        # Its task definition is in force as that revision: learn its content.
                        held.content_digest = self._content_of(rollout, node, stack)
                    out[name] = ROLLED_BACK
                    continue
                if held is not None and change is not None and change.action != "error":
                    del self._held[(stack, name)]  # it no longer waits on that revision
                state = live_state(node.live)
                if state is not None:
                    out[name] = state
            for memory in (self._held, self._spent):
                for key in [k for k in memory if k[0] == stack and k[1] not in services]:
                    del memory[key]
        return out

    def export(self, stack: str, p: Plan) -> dict[str, str]:
        """states(), also set as gitops_ecs_rollout_state; returns them for logs."""
        states = self.states(p)
        set_rollout_gauge(stack, states,
                          [n.doc.name for n in p.nodes.values() if n.doc.kind in ROLLOUT_KINDS])
        return states


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
