"""A new task-definition revision whose image ECR does not hold is held, not deployed: a
tag typed wrong (or a build that never pushed) is a plan's reason, not a failed rollout.

One applied prod stack serves the module (tests/conftest.py: 1.4.2 pushed, as CI did).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from controller.emulator import push_image
from tests.conftest import AwsEnv, CallRecorder
from tests.stacks import copy_desired

FAMILY, SERVICE, CLUSTER = "iq-theory-api", "iq-theory-api", "iq-theory-cluster"


def with_tag(tmp_path: Path, tag: str, *extra: str) -> Path:
    """A copy of desired/prod naming api image `tag` (and more stack.yaml lines)."""
    stack = copy_desired(tmp_path) / "prod"
    text = (stack / "stack.yaml").read_text().replace('api_image_tag: "1.4.2"',
                                                      f'api_image_tag: "{tag}"')
    (stack / "stack.yaml").write_text(text + "".join(f"{line}\n" for line in extra))
    return stack


def revisions(aws: AwsEnv) -> list[str]:
    return aws.client("ecs").list_task_definitions(familyPrefix=FAMILY)["taskDefinitionArns"]


def running(aws: AwsEnv) -> str:
    service = aws.client("ecs").describe_services(cluster=CLUSTER, services=[SERVICE])
    return str(service["services"][0]["taskDefinition"])


def test_a_tag_ecr_lacks_is_held_and_deploys_nothing_until_it_is_pushed(
        applied_prod: AwsEnv, gitops: Any, tmp_path: Path) -> None:
    stack = with_tag(tmp_path, "1.5.7")
    plan = gitops("plan", stack)
    assert plan.code == 2
    assert "image iq-theory-api:1.5.7 is not in ECR" in plan.out
    changes = json.loads(gitops("plan", stack, "--output", "json").out)["changes"]
    pending = {c["id"]: c for c in changes if c["action"] != "no-op"}
    assert list(pending) == [f"ecs.TaskDefinition/{FAMILY}"]  # the service stays as it is
    assert pending[f"ecs.TaskDefinition/{FAMILY}"]["reason"].startswith(
        "held: image iq-theory-api:1.5.7 is not in ECR")  # the contract's word for held

    before, serving = revisions(applied_prod), running(applied_prod)
    applied = gitops("apply", stack, "--auto-approve")
    assert applied.code == 0 and "held" in applied.out
    assert revisions(applied_prod) == before and running(applied_prod) == serving  # no roll

    push_image(applied_prod.client("ecr"), "iq-theory-api", "1.5.7")  # CI catches up
    changes = json.loads(gitops("plan", stack, "--output", "json").out)["changes"]
    pending = {c["id"]: c for c in changes if c["action"] != "no-op"}
    assert list(pending) == [f"ecs.TaskDefinition/{FAMILY}", f"ecs.Service/{SERVICE}"]
    assert not any(c.get("reason") for c in pending.values())
    assert pending[f"ecs.Service/{SERVICE}"]["note"].startswith("rolling deployment")


def test_check_images_false_plans_the_revision_without_asking_ecr(
        applied_prod: AwsEnv, gitops: Any, tmp_path: Path, recorder: CallRecorder) -> None:
    stack = with_tag(tmp_path, "1.5.8", "checkImages: false")
    changes = json.loads(gitops("plan", stack, "--output", "json").out)["changes"]
    pending = {c["id"]: c for c in changes if c["action"] != "no-op"}
    assert list(pending) == [f"ecs.TaskDefinition/{FAMILY}", f"ecs.Service/{SERVICE}"]
    assert not any(c.get("reason") for c in pending.values())
    assert ("ecr", "BatchGetImage") not in recorder.calls


def test_a_plan_in_sync_asks_ecr_nothing(applied_prod: AwsEnv, gitops: Any,
                                         recorder: CallRecorder) -> None:
    from tests.stacks import DESIRED

    assert gitops("plan", DESIRED / "prod").code == 0
    assert ("ecr", "BatchGetImage") not in recorder.calls
