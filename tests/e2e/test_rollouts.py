"""ECS rollouts end to end: `apply --wait`, and a circuit-breaker rollback that is not redeployed.

moto never finishes (or fails, or rolls back) a deployment: its deployments[] stay as
create_service made them, IN_PROGRESS (MOTO-NOTES.md). These tests rewrite the
DescribeServices answer in-process with a botocore after-call hook, the way ECS would
answer, through the same gateway hooks the CLI and the engine use.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY as METRICS

from controller import cli
from controller.engine.holds import RollbackHolds
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conftest import AwsEnv, push_prod_images
from tests.stacks import DESIRED, copy_desired

SERVICE = "iq-theory-api"
FAMILY = "arn:aws:ecs:us-east-1:222222222222:task-definition/iq-theory-api"
BREAKER = "ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1000."
TASKS_FAILED = "ECS deployment circuit breaker: tasks failed to start."
Deployments = Callable[[dict[str, Any]], list[dict[str, Any]]]


def deployment(did: str, status: str, revision: str, state: str, reason: str = "",
               failed: int = 0) -> dict[str, Any]:
    return {"id": did, "status": status, "taskDefinition": revision, "desiredCount": 4,
            "runningCount": 4, "failedTasks": failed, "rolloutState": state,
            "rolloutStateReason": reason}


class EcsAnswers:
    """after-call.ecs.DescribeServices: ECS's deployments[] for the API service, as a function
    of the live service (its taskDefinition); None leaves moto's answer alone. The other
    services read as ECS shows them once their own rollout is long done: COMPLETED (moto
    keeps every rollout IN_PROGRESS for ever, and `--wait` waits for all of them)."""

    def __init__(self) -> None:
        self.api: Deployments | None = None

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        for service in parsed.get("services") or []:
            if service["serviceName"] == SERVICE and self.api is not None:
                service["deployments"] = self.api(service)
            elif service["serviceName"] != SERVICE:
                service["deployments"] = [deployment("ecs-svc/9", "PRIMARY",
                                                     service["taskDefinition"], "COMPLETED")]


class Calls:
    """before-call hook counting the writes that matter here."""

    def __init__(self) -> None:
        self.ops: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.ops.append(model.name)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> tuple[EcsAnswers, Calls]:
    fake, calls = EcsAnswers(), Calls()
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [("after-call.ecs.DescribeServices", fake),
                                               ("before-call.ecs.*", calls)])
    return fake, calls


def set_image_tag(stack: Path, tag: str, aws: AwsEnv) -> None:
    """A deploy as CI makes it: the image pushed to ECR, then its tag set in git."""
    push_prod_images(aws.client("ecr"), tag)
    text = (stack / "stack.yaml").read_text()
    before = text.split('api_image_tag: "', 1)[1].split('"', 1)[0]
    (stack / "stack.yaml").write_text(text.replace(f'api_image_tag: "{before}"',
                                                   f'api_image_tag: "{tag}"'))


@pytest.fixture
def deployed(prod_aws: AwsEnv, gitops: Any, tmp_path: Path,
             answers: tuple[EcsAnswers, Calls]) -> Path:
    """desired/prod applied from empty, then a new image tag in git (not applied yet): the
    revision numbers below (:1, :2) are those of a stack made from empty."""
    stack = copy_desired(tmp_path) / "prod"
    assert gitops("apply", stack, "--auto-approve").code == 0
    push_prod_images(prod_aws.client("ecr"))  # what git names now, pushed before it was set
    set_image_tag(stack, "1.5.0", prod_aws)
    return stack


TAGS = itertools.count(1)


@pytest.fixture
def image_change(applied_prod: AwsEnv, gitops: Any, tmp_path: Path,
                 answers: tuple[EcsAnswers, Calls]) -> Iterator[Path]:
    """The module's applied desired/prod, and a new image tag in git (not applied yet);
    afterwards desired/prod is applied again, as the shared stack's contract says."""
    stack = copy_desired(tmp_path) / "prod"
    set_image_tag(stack, f"1.5.{next(TAGS)}", applied_prod)
    yield stack
    answers[0].api = None
    assert gitops("apply", DESIRED / "prod", "--auto-approve").code == 0


@dataclass
class WaitCase:
    name: str
    ecs: Deployments | None
    timeout: str
    code: int
    says: str


WAITS = [
    # Done by the time the update is read back: nothing is left to wait for.
    WaitCase("completed", lambda s: [deployment("ecs-svc/2", "PRIMARY", s["taskDefinition"],
                                                "COMPLETED")], "600", 0,
             "Waiting up to 600 s for 0 resource(s)"),
    WaitCase("failed", lambda s: [deployment("ecs-svc/2", "PRIMARY", s["taskDefinition"],
                                             "FAILED", TASKS_FAILED, failed=10)], "600", 1,
             f"ecs.Service/{SERVICE}: failed: rollout FAILED: ECS deployment circuit breaker: "
             "tasks failed"),
    # moto's own answer: its deployments[] never change on update, so the PRIMARY it shows
    # stays the first revision, IN_PROGRESS, for ever.
    WaitCase("never finishes", None, "2", 1,
             f"ecs.Service/{SERVICE}: timed out after 2 s: waiting for a PRIMARY deployment "
             "of iq-theory-api:"),  # the revision the shared stack is at
]


@pytest.mark.parametrize("case", WAITS, ids=lambda c: c.name)
def test_apply_waits_for_the_rollout(case: WaitCase, image_change: Path, gitops: Any,
                                     answers: tuple[EcsAnswers, Calls]) -> None:
    answers[0].api = case.ecs
    result = gitops("apply", image_change, "--auto-approve", "--wait", "--timeout",
                    case.timeout)
    assert result.code == case.code, result.out + result.err
    assert "Apply complete: 2 changed" in result.out  # the new revision and the service
    assert "Waiting up to" in result.err
    assert case.says in result.err
    assert result.out.count("Waiting") == 0  # progress goes to stderr only


def rolled_back(service: dict[str, Any]) -> list[dict[str, Any]]:
    """What ECS shows after the breaker rolled :2 back: PRIMARY :1 again, :2 FAILED."""
    return [deployment("ecs-svc/1001", "PRIMARY", f"{FAMILY}:1", "COMPLETED", BREAKER),
            deployment("ecs-svc/1002", "ACTIVE", f"{FAMILY}:2", "FAILED", TASKS_FAILED, 10)]


def later(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Later still: ECS dropped the failed deployment; nothing in AWS names :2 any more."""
    if service["taskDefinition"] != f"{FAMILY}:1":
        return list(service["deployments"])  # deployed again: moto's own answer
    return [deployment("ecs-svc/1001", "PRIMARY", f"{FAMILY}:1", "COMPLETED",
                       "ECS deployment ecs-svc/1001 completed.")]


def gauge(state: str) -> float | None:
    return METRICS.get_sample_value("gitops_ecs_rollout_state",
                                     {"stack": "iq-theory-prod", "service": SERVICE,
                                      "state": state})


def test_a_rolled_back_revision_is_held_until_git_changes(
        deployed: Path, gitops: Any, prod_aws: AwsEnv,
        answers: tuple[EcsAnswers, Calls]) -> None:
    fake, calls = answers
    assert gitops("apply", deployed, "--auto-approve").code == 0
    # The circuit breaker rolls :2 back: the service runs :1 again (as ECS does it).
    prod_aws.client("ecs").update_service(cluster="iq-theory-cluster", service=SERVICE,
                                          taskDefinition=f"{FAMILY}:1")
    fake.api = rolled_back
    held_reason = ("held: iq-theory-api:2 was rolled back by AWS (ECS deployment circuit "
                   "breaker: tasks failed to start); change it, or what it uses, in git to "
                   "deploy again")

    result = gitops("plan", deployed, "--output", "json")
    assert result.code == 2
    pending = [c for c in json.loads(result.out)["changes"] if c["action"] != "no-op"]
    assert [(c["id"], c["action"], c.get("reason")) for c in pending] == [
        (f"ecs.Service/{SERVICE}", "update", held_reason)]
    text = gitops("plan", deployed).out
    header = next(line for line in text.splitlines() if f"~ ecs.Service/{SERVICE}" in line)
    assert header.endswith("  [held]") and f"# {held_reason}" in text
    assert "1 held: apply leaves them alone" in text

    calls.ops.clear()
    result = gitops("apply", deployed, "--auto-approve")
    header = next(line for line in result.out.splitlines() if f"ecs.Service/{SERVICE}" in line)
    assert result.code == 0 and header.endswith("  [held]")
    waited = gitops("apply", deployed, "--auto-approve", "--wait")
    assert waited.code == 1
    assert f"ecs.Service/{SERVICE}: not deployed: AWS rolled it back" in waited.err
    assert "UpdateService" not in calls.ops

    # The daemon's way: one tracker across runs, which remembers what ECS forgets.
    tracker = RollbackHolds()
    hooks = list(cli.GATEWAY_HOOKS)
    for run in range(3):
        fake.api = rolled_back if run == 0 else later
        p = plan(load_stack(deployed, REGISTRY), prod_aws.gateway(hooks), hold=tracker.hold_rule)
        apply(p)
        assert tracker.export(p) == {f"ecs.Service/{SERVICE}": "rolled_back",
                                     "ecs.Service/iq-theory-frontend": "completed"}
        assert (gauge("rolled_back"), gauge("completed")) == (1, 0), run
    assert "UpdateService" not in calls.ops
    fresh = plan(load_stack(deployed, REGISTRY), prod_aws.gateway(hooks),
                 hold=RollbackHolds().hold_rule)
    assert [c.held for c in fresh.changes.changes if c.pending] == [False]  # memory held it

    set_image_tag(deployed, "1.6.0", prod_aws)  # a fix, merged: the hold is released
    p = plan(load_stack(deployed, REGISTRY), prod_aws.gateway(hooks), hold=tracker.hold_rule)
    assert [(c.id, c.held) for c in p.changes.changes if c.pending] == [
        ("ecs.TaskDefinition/iq-theory-api", False), (f"ecs.Service/{SERVICE}", False)]
    assert not apply(p).failed
    assert calls.ops.count("UpdateService") == 1 and calls.ops.count("RegisterTaskDefinition") == 1
    svc = prod_aws.client("ecs").describe_services(cluster="iq-theory-cluster",
                                                   services=[SERVICE])["services"][0]
    assert svc["taskDefinition"] == f"{FAMILY}:3"
    assert tracker.export(p)[f"ecs.Service/{SERVICE}"] == "in_progress"
    assert (gauge("rolled_back"), gauge("in_progress")) == (0, 1)
