"""logs.LogGroup against a moto server: convergence, drift, deletion out of band."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.base import RunContext
from controller.resources.logs_loggroup import LogGroupDriver
from tests.conftest import TEST_STACK, AwsEnv
from tests.motogaps import KmsAssociations
from tests.stacks import write_stack

DRIVER = LogGroupDriver()
NAME = "/ecs/iq-theory-api"


def desired(**spec: Any) -> Desired:
    base = {"retentionInDays": 30, "tags": {"app": "iq-theory"}}
    return Desired("logs.LogGroup", NAME, TEST_STACK, DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    tags = aws.client("logs").list_tags_log_group(logGroupName=NAME)["tags"]
    assert tags["gitops:id"] == "logs.LogGroup/" + NAME and tags["gitops:stack"] == TEST_STACK


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("retention", "a scalar changed by hand",
              lambda c: c.put_retention_policy(logGroupName=NAME, retentionInDays=7),
              "spec.retentionInDays"),
    DriftCase("retention removed", "never-expire is a value too",
              lambda c: c.delete_retention_policy(logGroupName=NAME), "spec.retentionInDays"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.tag_log_group(logGroupName=NAME, tags={"app": "other"}), "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("logs"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


# --- the contract: tags, inventory, adoption, a failed batch --------------------------------


def test_identity_and_references() -> None:
    assert DRIVER.identity == "name" and DRIVER.references == ()


def test_prefetch_reads_the_declared_groups_in_one_call(aws: AwsEnv) -> None:
    wants = [Desired("logs.LogGroup", f"/ecs/g{i}", TEST_STACK, {"retentionInDays": 30})
             for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    aws.client("logs").create_log_group(logGroupName="/someone/else")
    ctx = aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(want, ctx) is not None for want in wants)
    # their tags from the stack's tagging index (tests/resources/test_tags_from_index.py)
    assert dict(ctx.aws.calls) == {("logs", "DescribeLogGroups"): 1,
                                   ("resourcegroupstaggingapi", "GetResources"): 1}


def test_inventory_leaves_out_what_the_tagging_index_still_lists(aws: AwsEnv) -> None:
    """AWS's tagging index may list a group a while after its delete: not an orphan."""
    gone = "arn:aws:logs:us-east-1:111111111111:log-group:/ecs/gone"
    tags = [{"Key": k, "Value": v}
            for k, v in Desired("logs.LogGroup", "/ecs/gone", TEST_STACK, {}).tags().items()]

    def lagging(parsed: dict[str, Any], **_: Any) -> None:
        parsed["ResourceTagMappingList"].append({"ResourceARN": gone, "Tags": tags})

    DRIVER.create(desired(), aws.ctx())
    hook = ("after-call.resource-groups-tagging-api.GetResources", lagging)
    owned = DRIVER.inventory(RunContext(aws.gateway([hook]), TEST_STACK))
    assert set(owned) == {desired().id}


# --- the key and the retention change in place; null is never a write ------------------


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch, recorder: Any) -> KmsAssociations:
    from controller import cli

    associations = KmsAssociations()
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [*cli.GATEWAY_HOOKS, *associations.hooks()])
    return associations


def _key(aws: AwsEnv) -> str:
    return str(aws.client("kms").create_key()["KeyMetadata"]["Arn"])


def test_a_key_added_by_hand_is_removed_in_place(aws: AwsEnv, kms: KmsAssociations) -> None:
    want = desired(kmsKeyId="")
    ctx = RunContext(aws.gateway(kms.hooks()), TEST_STACK)
    DRIVER.create(want, ctx)
    kms.keys[NAME] = _key(aws)  # associated out of band
    live = DRIVER.observe(want, RunContext(aws.gateway(kms.hooks()), TEST_STACK))
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.kmsKeyId"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), ctx)
    assert diff_fields(want.spec, fixed.fields) == [] and NAME not in kms.keys


def test_retention_zero_means_never_expire(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    want = desired(retentionInDays=0)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    assert [c.path for c in diff_fields(want.spec, live.fields)] == ["spec.retentionInDays"]
    fixed = DRIVER.update(want, live, ["retentionInDays"], aws.ctx())
    assert "retentionInDays" not in aws.client("logs").describe_log_groups(
        logGroupNamePrefix=NAME)["logGroups"][0]
    assert diff_fields(want.spec, fixed.fields) == []


def test_an_unknown_retention_is_a_validation_error() -> None:
    from pydantic import ValidationError

    from controller.resources.logs_loggroup import LogGroupSpec

    with pytest.raises(ValidationError, match="never expire"):
        LogGroupSpec.model_validate({"retentionInDays": 2})


def test_declaration_protects_the_logs() -> None:
    assert DRIVER.holds_data and not DRIVER.immutable


GROUP = "/bench/app"


def _stack(tmp_path: Path, spec: str) -> Path:
    return write_stack(tmp_path / "s", f"kind: logs.LogGroup\nname: {GROUP}\nspec: {spec}\n")


def test_adding_a_key_keeps_the_group_and_its_logs(aws: AwsEnv, tmp_path: Path, gitops: Any,
                                                   recorder: Any, kms: KmsAssociations) -> None:
    assert gitops("apply", _stack(tmp_path, "{retentionInDays: 7}"), "--auto-approve").code == 0
    logs = aws.client("logs")
    logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
    logs.put_log_events(logGroupName=GROUP, logStreamName="s",
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": "kept"}])
    key = _key(aws)

    stack = _stack(tmp_path, f"{{retentionInDays: 7, kmsKeyId: '{key}'}}")
    plan = gitops("plan", stack)
    assert plan.code == 2 and f"~ logs.LogGroup/{GROUP}" in plan.out, plan.out
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert ("logs", "DeleteLogGroup") not in recorder.calls
    assert ("logs", "AssociateKmsKey") in recorder.calls
    events = logs.get_log_events(logGroupName=GROUP, logStreamName="s")["events"]
    assert [e["message"] for e in events] == ["kept"]
    assert gitops("plan", stack).code == 0


def test_a_null_field_is_never_a_write(aws: AwsEnv, tmp_path: Path, gitops: Any, recorder: Any,
                                       kms: KmsAssociations) -> None:
    stack = _stack(tmp_path, "{retentionInDays: 7, kmsKeyId: null}")
    assert gitops("apply", stack, "--auto-approve").code == 0
    kms.keys[GROUP] = _key(aws)  # whatever AWS holds, a null field does not manage it
    recorder.calls.clear()
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert gitops("plan", stack).code == 0
    assert recorder.writes == []
