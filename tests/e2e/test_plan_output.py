"""What people read: the plan of an image change, an apply that fails, an invalid stack.

One applied prod stack serves the module (moto is reset once, then only read or
changed and put back), and the output is compared with golden files in tests/golden/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from controller import cli, render
from controller.aws.gateway import AwsGateway
from controller.engine.reconcile import apply, plan
from controller.resources.registry import REGISTRY
from controller.spec.loader import load_stack
from tests.conftest import PROD_ACCOUNT, REGION, moto_for, push_prod_images
from tests.goldenfiles import assert_golden
from tests.stacks import DESIRED, copy_desired


@pytest.fixture(scope="module")
def applied_prod() -> Iterator[None]:
    """desired/prod applied once, on a freshly reset prod account."""
    server = moto_for(PROD_ACCOUNT)
    server.reset()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", server.url)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_REGION", raising=False)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        assert not apply(plan(load_stack(DESIRED / "prod", REGISTRY), AwsGateway(REGION))).failed
        push_prod_images(boto3.client("ecr"))
        yield


def edited(tmp_path: Path, old: str, new: str, file: str = "prod/stack.yaml") -> Path:
    desired = copy_desired(tmp_path)
    path = desired / file
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))
    return desired / "prod"


def test_an_image_change_reads_as_a_new_revision_and_a_rolling_deployment(
        applied_prod: None, gitops: Any, tmp_path: Path) -> None:
    push_prod_images(boto3.client("ecr"), "1.5.0")  # as CI does before the tag is set
    stack = edited(tmp_path, 'api_image_tag: "1.4.2"', 'api_image_tag: "1.5.0"')
    text = gitops("plan", stack)
    assert text.code == 2
    assert_golden("image_change.txt", text.out)
    markdown = gitops("plan", stack, "--output", "markdown")
    assert markdown.code == 2
    assert_golden("image_change.md", markdown.out)
    changes = json.loads(gitops("plan", stack, "--output", "json").out)["changes"]
    notes = {c["id"]: c.get("note") for c in changes if c["action"] != "no-op"}
    assert notes == {"ecs.TaskDefinition/iq-theory-api": "new revision after iq-theory-api:1",
                     "ecs.Service/iq-theory-api":
                         "rolling deployment: iq-theory-api:1 -> new revision"}


def _fail_dlq_update(model: Any, params: dict[str, Any], **_: Any) -> Any:
    if model.name == "SetQueueAttributes" and "iq-theory-jobs-dlq" in str(params.get("body")):
        from botocore.awsrequest import AWSResponse

        return (AWSResponse("http://injected", 500, {}, None),
                {"Error": {"Code": "InternalFailure", "Message": "injected by the test"}})
    return None


def test_an_apply_with_a_failure_says_so_and_exits_1(
        applied_prod: None, gitops: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    stack = edited(tmp_path, "messageRetentionPeriod: 1209600   # 14 days",
                   "messageRetentionPeriod: 1209000", file="base/queues.yaml")
    for old, new in (("visibilityTimeout: 360", "visibilityTimeout: 390"),
                     ("containerInsights: enabled", "containerInsights: disabled")):
        for name in ("queues.yaml", "ecs.yaml"):
            path = stack.parent / "base" / name
            path.write_text(path.read_text().replace(old, new))
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [("before-call.sqs.SetQueueAttributes",
                                                _fail_dlq_update)])
    result = gitops("apply", stack, "--auto-approve")
    assert result.code == 1
    assert_golden("apply_failed.txt", result.out)
    assert result.out.splitlines()[-2] == "Apply failed: 1 changed, 1 failed, 1 skipped."
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [])
    assert gitops("apply", DESIRED / "prod", "--auto-approve").code == 0  # as it was


def test_colours_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from controller.engine.changeset import Change, ChangeSet

    cs = ChangeSet("s", None, [Change("sqs.Queue", "q", "create", after={"delaySeconds": 5})])
    assert "\x1b[32m+\x1b[0m sqs.Queue/q" in render.text(cs, color=True)
    assert "\x1b" not in render.text(cs)
    args = cli.build_parser().parse_args(["plan", "x"])
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli._colour(args)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cli._colour(args)
    monkeypatch.delenv("NO_COLOR")
    assert not cli._colour(cli.build_parser().parse_args(["plan", "x", "--no-color"]))
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert not cli._colour(args)


# --- machine output always parses --------------------------------------------------------

BROKEN = "kind: sqs.Queue\nname: iq-theory-jobs\nspec:\n  visibilityTimout: 30\n  bad: [\n"


def test_an_invalid_stack_still_prints_a_json_document(gitops: Any, tmp_path: Path) -> None:
    stack = edited(tmp_path, "kind: sqs.Queue", BROKEN + "---\nkind: sqs.Queue",
                   file="base/queues.yaml")
    result = gitops("plan", stack, "--output", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["stack"] == "iq-theory-prod" and doc["valid"] is False
    assert doc["errors"] and set(doc["errors"][0]) == {"file", "line", "id", "field", "message"}
    assert any("invalid YAML" in e["message"] for e in doc["errors"])


def test_an_invalid_stack_prints_its_errors_as_markdown(gitops: Any, tmp_path: Path) -> None:
    stack = edited(tmp_path, "kind: sqs.Queue", BROKEN + "---\nkind: sqs.Queue",
                   file="base/queues.yaml")
    result = gitops("plan", stack, "--output", "markdown")
    assert result.code == 1
    assert_golden("invalid.md", result.out.replace(str(tmp_path), "TMP"))
    assert result.out.startswith("### gitops plan: <code>iq-theory-prod</code>")
    assert "**The desired state is invalid:" in result.out
    assert "| <code>" in result.out and "invalid YAML" in result.out


def test_a_plan_the_account_guard_stops_prints_a_document(
        applied_prod: None, gitops: Any, tmp_path: Path) -> None:
    stack = edited(tmp_path, 'account: "222222222222"', 'account: "333333333333"')
    result = gitops("plan", stack, "--output", "json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["stack"] == "iq-theory-prod" and "333333333333" in doc["error"]
    markdown = gitops("plan", stack, "--output", "markdown")
    assert markdown.code == 1 and "**No plan: these credentials are for account" in markdown.out


def test_version_and_the_daemon_settings_in_help(gitops: Any) -> None:
    from controller.version import package_version

    version = cli.main(["--version"])
    assert version == 0
    result = gitops("run", "--help")
    assert result.code == 0
    for variable in ("GITOPS_REPO", "GITOPS_PATH", "GITOPS_INTERVAL_SECONDS",
                     "GITOPS_WEBHOOK_SECRET", "GITOPS_GIT_TIMEOUT_SECONDS"):
        assert variable in result.out, variable
    assert package_version()
