"""logs.LogGroup against a moto server: convergence, drift, deletion out of band."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.resources.base import Desired
from controller.resources.logs_loggroup import LogGroupDriver
from tests.conftest import TEST_STACK, AwsEnv

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


def test_deleted_out_of_band_reads_absent(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    aws.client("logs").delete_log_group(logGroupName=NAME)
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(want, live, aws.ctx())  # deleting what is gone succeeds
