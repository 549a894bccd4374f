"""Rollout tracking without AWS: the hold on rolled-back revisions, states, the gauge, --wait.

Nodes are built by hand the way plan() leaves them: a resolved desired spec and the
live attrs the ECS service driver reads from one describe_services answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import REGISTRY

from controller.engine.changeset import Change, ChangeSet
from controller.engine.observe import Node
from controller.engine.rollout_wait import rollouts_started, wait_for_rollouts
from controller.engine.rollouts import (
    RolloutTracker,
    find_rollback,
)
from controller.resources.base import UNKNOWN, Desired, Observed, Policy
from controller.resources.registry import DRIVERS
from controller.spec.stack import ResourceDoc

STACK = "unit-rollouts"
FAMILY = "arn:aws:ecs:us-east-1:222222222222:task-definition/iq-theory-api"
OLD, NEW = f"{FAMILY}:1", f"{FAMILY}:2"
SERVICE, TD = "ecs.Service/iq-theory-api", "ecs.TaskDefinition/iq-theory-api"
BREAKER = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1."
TASKS_FAILED = "ECS deployment circuit breaker: tasks failed to start."


def deployment(did: str, status: str, revision: str, state: str, reason: str = "",
               failed: int = 0) -> dict[str, Any]:
    return {"id": did, "status": status, "taskDefinition": revision, "rolloutState": state,
            "rolloutStateReason": reason, "failedTasks": failed,
            "updatedAt": "2026-11-26T12:00:00+00:00"}


ROLLED_BACK = [deployment("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", BREAKER),
               deployment("ecs-svc/2", "ACTIVE", NEW, "FAILED", TASKS_FAILED, failed=10)]
# Later ECS drops the failed deployment and the PRIMARY's reason no longer names the breaker.
DROPPED = [deployment("ecs-svc/3", "PRIMARY", OLD, "COMPLETED", "ECS deployment completed.")]
ROLLING_OUT = [deployment("ecs-svc/2", "PRIMARY", NEW, "IN_PROGRESS")]


def node(kind: str, name: str, spec: dict[str, Any], attrs: dict[str, Any] | None = None,
         depends_on: frozenset[str] = frozenset()) -> Node:
    doc = ResourceDoc(kind, name, spec, Policy(), "ecs.yaml", 1, set(depends_on))
    live = None if attrs is None else Observed(fields={}, attrs=attrs)
    return Node(doc, DRIVERS[kind], desired=Desired(kind, name, STACK, spec), live=live)


def service(deployments: list[dict[str, Any]] | None, revision: Any = NEW,
            count: int = 4) -> Node:
    attrs = None if deployments is None else {"deployments": deployments}
    return node("ecs.Service", "iq-theory-api",
                {"cluster": "c", "taskDefinition": revision, "desiredCount": count}, attrs,
                frozenset({TD}))


def task_definition(tag: str) -> Node:
    return node("ecs.TaskDefinition", "iq-theory-api",
                {"containerDefinitions": [{"name": "api", "image": f"iq/api:{tag}"}]})


@dataclass
class FakePlan:
    """What states() reads of a Plan: the stack's name, the change set, the nodes."""

    nodes: dict[str, Node]
    changes: ChangeSet
    stack: Any = field(default_factory=lambda: SimpleNamespace(name=STACK))


def plan_of(nodes: list[Node], changes: list[Change]) -> Any:
    return FakePlan({n.id: n for n in nodes}, ChangeSet(STACK, None, changes))


def run(tracker: RolloutTracker, svc: Node, td: Node | None = None,
        td_pending: bool = True) -> tuple[Change, dict[str, str]]:
    """One plan round as plan() runs it: the task definition first (an earlier wave; the hold
    rule sees it only when pending), then the service's pending update; then the states."""
    changes = []
    if td is not None:
        td_change = Change("ecs.TaskDefinition", td.doc.name, "update" if td_pending else "no-op")
        if td_pending:
            assert tracker.hold_rule(td_change, td) is None  # a revision itself is never held
        changes.append(td_change)
    change = Change("ecs.Service", svc.doc.name, "update")
    reason = tracker.hold_rule(change, svc)
    change.held, change.reason = bool(reason), reason
    changes.append(change)
    return change, tracker.states(plan_of([svc] + ([td] if td else []), changes))


EVIDENCE = [
    ("failed deployment", "the new revision FAILED and the PRIMARY runs the old one",
     ROLLED_BACK, NEW, NEW),
    ("breaker reason only", "ECS names the deployment it returns to, not the revision it leaves",
     [deployment("ecs-svc/3", "PRIMARY", OLD, "IN_PROGRESS", BREAKER)], NEW, NEW),
    ("family:revision form", "a spec may name the revision without its ARN",
     ROLLED_BACK, "iq-theory-api:2", NEW),
    ("rolling out", "the PRIMARY is the revision git wants", ROLLING_OUT, NEW, None),
    ("failed without rollback", "breaker without rollback: PRIMARY itself FAILED, nothing to hold",
     [deployment("ecs-svc/2", "PRIMARY", NEW, "FAILED", TASKS_FAILED)], NEW, None),
    ("another revision failed", "an old failure says nothing about the revision git wants now",
     [deployment("ecs-svc/3", "PRIMARY", OLD, "COMPLETED"),
      deployment("ecs-svc/0", "INACTIVE", f"{FAMILY}:0", "FAILED", TASKS_FAILED)], NEW, None),
    ("changed by hand", "another revision deployed by hand is drift, not a rollback",
     [deployment("ecs-svc/9", "PRIMARY", OLD, "COMPLETED", "ECS deployment completed.")],
     NEW, None),
    ("new revision pending", "a revision not registered yet cannot have been rolled back",
     ROLLED_BACK, UNKNOWN, None),
]


@pytest.mark.parametrize(("name", "why", "deployments", "wanted", "rolled_back"), EVIDENCE,
                         ids=[c[0] for c in EVIDENCE])
def test_rollback_evidence(name: str, why: str, deployments: list[dict[str, Any]], wanted: Any,
                           rolled_back: str | None) -> None:
    found = find_rollback({"deployments": deployments}, wanted)
    assert (found.revision if found else None) == rolled_back, why
    if found is not None:
        assert "circuit breaker" in found.reason and not found.reason.endswith(".")


def test_held_update_says_which_revision_and_why() -> None:
    change, states = run(RolloutTracker(), service(ROLLED_BACK))
    assert change.reason == (
        f"held: revision {NEW} was rolled back by the ECS deployment circuit breaker (ECS "
        "deployment circuit breaker: tasks failed to start); change the service or its task "
        "definition in git to deploy again")
    assert states == {"iq-theory-api": "rolled_back"}


@dataclass
class Round:
    svc: Node
    td: Node | None
    held: bool
    state: str | None
    td_pending: bool = True


@dataclass
class Story:
    name: str
    why: str
    rounds: list[Round]
    fresh_each_round: bool = False
    saw_the_deploy: bool = True  # the tracker was there when 1.5.0 was registered


STORIES = [
    Story("memory outlives ECS", "ECS drops the failed deployment; the tracker still holds",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(DROPPED), None, True, "rolled_back"),
           Round(service(DROPPED), None, True, "rolled_back")]),
    Story("fresh tracker forgets", "why the daemon keeps one: without memory it would redeploy",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(DROPPED), None, False, "completed")], fresh_each_round=True),
    Story("new image in git", "a changed task definition releases the hold",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(DROPPED, revision=UNKNOWN), task_definition("1.6.0"), False,
                 "completed")]),
    Story("service spec in git", "its own spec changed: redeploy, the old evidence is spent",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(ROLLED_BACK, count=6), None, False, "completed")]),
    Story("fails again", "after a release, a new failed deployment holds again",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(ROLLED_BACK, count=6), None, False, "completed"),
           Round(service([deployment("ecs-svc/5", "PRIMARY", OLD, "IN_PROGRESS", BREAKER),
                          deployment("ecs-svc/4", "ACTIVE", NEW, "FAILED", TASKS_FAILED)],
                         count=6), None, True, "rolled_back")]),
    Story("same content again", "a revision registered by hand makes git's content register "
                                "again: same content, still held",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(DROPPED, revision=UNKNOWN), task_definition("1.5.0"), True,
                 "rolled_back")]),
    Story("restarted daemon", "it never saw 1.5.0 registered: it learns the content in force",
          [Round(service(ROLLED_BACK), task_definition("1.5.0"), True, "rolled_back",
                 td_pending=False),
           Round(service(DROPPED), task_definition("1.5.0"), True, "rolled_back",
                 td_pending=False),
           Round(service(DROPPED, revision=UNKNOWN), task_definition("1.6.0"), False,
                 "completed")], saw_the_deploy=False),
    Story("deployed by hand", "the service runs git's revision now: the hold is forgotten",
          [Round(service(ROLLED_BACK), None, True, "rolled_back"),
           Round(service(ROLLING_OUT), None, False, "in_progress"),
           Round(service(DROPPED), None, False, "completed")]),
]


@pytest.mark.parametrize("story", STORIES, ids=lambda s: s.name)
def test_hold_across_runs(story: Story) -> None:
    tracker = RolloutTracker()
    if story.saw_the_deploy:  # the run that registered 1.5.0 showed the tracker its content
        tracker.hold_rule(Change("ecs.TaskDefinition", "iq-theory-api", "update"),
                          task_definition("1.5.0"))
    for i, r in enumerate(story.rounds):
        if story.fresh_each_round:
            tracker = RolloutTracker()
        if r.svc.live is not None and r.svc.live.attrs["deployments"] == ROLLING_OUT:
            change = Change("ecs.Service", "iq-theory-api", "no-op")  # it runs git's revision
            states = tracker.states(plan_of([r.svc], [change]))
        else:
            change, states = run(tracker, r.svc, r.td, r.td_pending)
        assert change.held == r.held, f"round {i}: {story.why}"
        assert states.get("iq-theory-api") == r.state, f"round {i}: {story.why}"


STATES = [
    ("in progress", ROLLING_OUT, "in_progress"),
    ("completed", [deployment("ecs-svc/2", "PRIMARY", NEW, "COMPLETED")], "completed"),
    ("failed", [deployment("ecs-svc/2", "PRIMARY", NEW, "FAILED", TASKS_FAILED)], "failed"),
    ("no rolloutState", [{"id": "ecs-svc/2", "status": "PRIMARY", "taskDefinition": NEW}], None),
    ("not found", None, None),
]


@pytest.mark.parametrize(("name", "deployments", "state"), STATES, ids=[s[0] for s in STATES])
def test_state_follows_the_primary(name: str, deployments: Any, state: str | None) -> None:
    svc = service(deployments)
    plan = plan_of([svc], [Change("ecs.Service", svc.doc.name, "no-op")])
    assert RolloutTracker().states(plan).get("iq-theory-api") == state


def gauge(service: str, state: str) -> float | None:
    return REGISTRY.get_sample_value("gitops_ecs_rollout_state",
                                     {"stack": STACK, "service": service, "state": state})


def test_gauge_one_state_at_a_time_and_gone_with_the_service() -> None:
    tracker = RolloutTracker()
    api, web = service(ROLLING_OUT), node("ecs.Service", "iq-theory-web", {"cluster": "c"},
                                          {"deployments": DROPPED})
    changes = [Change("ecs.Service", n.doc.name, "no-op") for n in (api, web)]
    tracker.export(STACK, plan_of([api, web], changes))
    assert [gauge("iq-theory-api", s) for s in ("in_progress", "completed", "failed",
                                                "rolled_back")] == [1, 0, 0, 0]
    assert gauge("iq-theory-web", "completed") == 1
    # Unreadable this run (no live state): the last value stays, as for drift.
    unread = service(None)
    tracker.export(STACK, plan_of([unread], changes[:1]))
    assert gauge("iq-theory-api", "in_progress") == 1
    assert gauge("iq-theory-web", "completed") is None  # it left git


class FakeDriver:
    """Answers observe from a script of attrs, one per poll; counts batched prefetches."""

    def __init__(self, answers: list[list[dict[str, Any]]]) -> None:
        self.answers, self.prefetches = answers, 0

    def prefetch(self, desired: list[Desired], ctx: Any) -> None:
        self.prefetches += 1

    def observe(self, desired: Desired, ctx: Any) -> Observed:
        deployments = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return Observed(fields={}, attrs={"deployments": deployments})


WAITS = [
    ("completed", [ROLLING_OUT, [deployment("ecs-svc/2", "PRIMARY", NEW, "COMPLETED")]],
     "completed", f"rollout of {NEW} COMPLETED"),
    ("failed", [[deployment("ecs-svc/2", "PRIMARY", NEW, "FAILED", TASKS_FAILED)]], "failed",
     "FAILED (ECS deployment circuit breaker: tasks failed to start.)"),
    ("rolled back", [ROLLING_OUT, ROLLED_BACK], "rolled_back", "rolled back by the ECS deployment"),
    ("describe lags the update", [[deployment("ecs-svc/1", "PRIMARY", OLD, "COMPLETED")],
                                  [deployment("ecs-svc/2", "PRIMARY", NEW, "COMPLETED")]],
     "completed", "COMPLETED"),
    ("never finishes", [ROLLING_OUT], "timeout",
     f"timed out after 30 s: rollout of {NEW} IN_PROGRESS, 0 failed tasks"),
    ("another revision stays", [[deployment("ecs-svc/7", "PRIMARY", f"{FAMILY}:3", "COMPLETED")]],
     "timeout", f"waiting for a PRIMARY deployment of {NEW} (the PRIMARY runs {FAMILY}:3"),
]


@pytest.mark.parametrize(("name", "answers", "state", "message"), WAITS,
                         ids=[w[0] for w in WAITS])
def test_wait_for_rollouts(name: str, answers: Any, state: str, message: str) -> None:
    now = [0.0]
    driver = FakeDriver(list(answers))
    svc = service(None)
    svc.driver = driver  # type: ignore[assignment]
    plan: Any = SimpleNamespace(nodes={svc.id: svc}, stack=SimpleNamespace(name=STACK),
                                ctx=SimpleNamespace(aws=None))
    lines: list[str] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    outcomes = wait_for_rollouts(plan, [svc.id], timeout=30, poll_seconds=10,
                                 progress=lines.append, sleep=sleep, clock=lambda: now[0])
    assert outcomes[svc.id].state == state and message in outcomes[svc.id].message
    assert lines[-1] == f"{svc.id}: {outcomes[svc.id].message}"
    assert outcomes[svc.id].ok == (state == "completed")
    assert now[0] <= 30 and driver.prefetches >= 1


def test_wait_follows_only_what_apply_wrote() -> None:
    cs = ChangeSet(STACK, None, [
        Change("ecs.Service", "updated", "update", result="success"),
        Change("ecs.Service", "created", "create", result="success"),
        Change("ecs.Service", "held", "update", held=True, result="held"),
        Change("ecs.Service", "broken", "update", result="error"),
        Change("ecs.TaskDefinition", "api", "update", result="success"),
        Change("ecs.Service", "same", "no-op")])
    assert rollouts_started(cs) == ["ecs.Service/updated", "ecs.Service/created"]
