"""ecs.Cluster against a moto server: convergence, drift, batching, deletion out of band,
ownership (tags, inventory, adoption), readiness."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.ecs_cluster import ClusterDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = ClusterDriver()
NAME = "iq-theory-cluster"
ARN = f"arn:aws:ecs:us-east-1:111111111111:cluster/{NAME}"


def desired(name: str = NAME, **spec: Any) -> Desired:
    base = {"containerInsights": "enabled", "tags": {"app": "iq-theory"}}
    return Desired("ecs.Cluster", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs == {"arn": ARN, "name": NAME, "status": "ACTIVE"}
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    tags = aws.client("ecs").list_tags_for_resource(resourceArn=ARN)["tags"]
    as_map = {t["key"]: t["value"] for t in tags}
    assert as_map["gitops:id"] == "ecs.Cluster/" + NAME and as_map["gitops:stack"] == TEST_STACK


def test_create_never_replaces_a_live_cluster(aws: AwsEnv) -> None:
    # moto's create_cluster on an existing name replaces the cluster (and its services):
    # the driver reads first and leaves a live one alone.
    aws.client("ecs").create_cluster(clusterName=NAME, tags=[{"key": "keep", "value": "me"}])
    DRIVER.create(desired(), aws.ctx())
    tags = aws.client("ecs").list_tags_for_resource(resourceArn=ARN)["tags"]
    assert {"key": "keep", "value": "me"} in tags


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("container insights", "a setting changed by hand",
              lambda c: c.update_cluster(
                  cluster=NAME, settings=[{"name": "containerInsights", "value": "disabled"}]),
              "spec.containerInsights"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.tag_resource(resourceArn=ARN, tags=[{"key": "app", "value": "x"}]),
              "spec.tags.app"),
    DriftCase("tag removed", "a missing tag is drift too",
              lambda c: c.untag_resource(resourceArn=ARN, tagKeys=["app"]), "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("ecs"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_stale_user_tag_is_removed(aws: AwsEnv) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    aws.client("ecs").tag_resource(resourceArn=ARN, tags=[{"key": "extra", "value": "1"}])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    DRIVER.update(want, live, ["tags"], aws.ctx())
    tags = {t["key"] for t in aws.client("ecs").list_tags_for_resource(resourceArn=ARN)["tags"]}
    assert "extra" not in tags and "gitops:id" in tags


def test_prefetch_makes_one_call_for_all_clusters(aws: AwsEnv) -> None:
    wants = [desired(f"c{i}") for i in range(3)]
    for want in wants:
        aws.client("ecs").create_cluster(clusterName=want.name)
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired("absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired("absent"), ctx) is None
    assert ctx.aws.calls[("ecs", "DescribeClusters")] == 1


def test_untouched_cluster_reads_disabled(aws: AwsEnv) -> None:
    # AWS's default when no setting was ever written: an explicit "disabled" is in sync.
    aws.client("ecs").create_cluster(clusterName=NAME)
    live = DRIVER.observe(desired(containerInsights="disabled"), aws.ctx())
    assert live is not None and live.fields["containerInsights"] == "disabled"


# --- ownership: tags, inventory, adoption, delete without desired state ----------------------


@pytest.mark.parametrize(("status", "state"), [
    ("ACTIVE", "ready"), ("PROVISIONING", "progressing"), ("DEPROVISIONING", "progressing"),
    ("FAILED", "failed")])
def test_readiness_is_the_clusters_status(status: str, state: str) -> None:
    live = Observed(fields={}, attrs={"arn": ARN, "name": NAME, "status": status})
    readiness = DRIVER.readiness(desired(), live)
    assert readiness.state == state
    assert readiness.ready or status in readiness.reason
