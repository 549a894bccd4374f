"""lambda.EventSourceMapping against a moto server: found by its tags, convergence, drift,
one listing for every mapping, deletion out of band, adoption by UUID, readiness."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired, Observed
from controller.resources.lambda_eventsourcemapping import EventSourceMappingDriver, MappingBusy
from controller.resources.lambda_function import bundle
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = EventSourceMappingDriver()
NAME = "iq-theory-jobs-worker"
FUNCTION = "iq-theory-jobs-worker"


@dataclass
class World:
    aws: AwsEnv
    queue_arn: str
    function_arn: str

    def queue(self, name: str) -> str:
        sqs = self.aws.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
                   ["Attributes"]["QueueArn"])


@pytest.fixture
def world(aws: AwsEnv) -> World:
    """A queue and a function: what the mapping joins (made out of band, as the stack's
    sqs.Queue and lambda.Function would be)."""
    role = aws.client("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}
    ))["Role"]["Arn"]
    function = aws.client("lambda").create_function(
        FunctionName=FUNCTION, Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": bundle({"handler.py": b"def handler(e, c): return {}\n"})})
    w = World(aws, "", function["FunctionArn"])
    w.queue_arn = w.queue("iq-theory-jobs")
    return w


def desired(w: World, name: str = NAME, **spec: Any) -> Desired:
    base: dict[str, Any] = {
        "eventSourceArn": w.queue_arn, "functionName": w.function_arn, "enabled": True,
        "batchSize": 10, "maximumBatchingWindowInSeconds": 5,
        "functionResponseTypes": ["ReportBatchItemFailures"], "tags": {"app": "iq-theory"},
    }
    return Desired("lambda.EventSourceMapping", name, TEST_STACK,
                   DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(world: World) -> None:
    want = desired(world)
    ctx = world.aws.ctx()
    assert DRIVER.observe(want, ctx) is None
    created = DRIVER.create(want, ctx)
    assert diff_fields(want.spec, created.fields) == []
    assert created.attrs["uuid"] == created.attrs["id"]
    assert created.attrs["arn"].endswith(f":event-source-mapping:{created.attrs['uuid']}")
    live = DRIVER.observe(want, world.aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    assert live.tags is not None and live.tags["gitops:id"] == want.id
    # a repeated create (its first answer lost) finds the mapping it made: no twin
    DRIVER.create(want, world.aws.ctx())
    assert len(world.aws.client("lambda").list_event_source_mappings()
               ["EventSourceMappings"]) == 1


def test_a_function_written_by_name_reads_as_its_name(world: World) -> None:
    want = desired(world, functionName=FUNCTION)
    assert diff_fields(want.spec, DRIVER.create(want, world.aws.ctx()).fields) == []


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, dict[str, str]], None]
    path: str


DRIFT = [
    DriftCase("batch size", "a scalar changed by hand",
              lambda c, m: c.update_event_source_mapping(UUID=m["uuid"], BatchSize=3),
              "spec.batchSize"),
    DriftCase("disabled", "the mapping switched off by hand: State reads Disabled",
              lambda c, m: c.update_event_source_mapping(UUID=m["uuid"], Enabled=False),
              "spec.enabled"),
    DriftCase("partial batch failures off", "a list emptied by hand",
              lambda c, m: c.update_event_source_mapping(UUID=m["uuid"],
                                                         FunctionResponseTypes=[]),
              "spec.functionResponseTypes"),
    DriftCase("tag changed", "a user tag changed by hand",
              lambda c, m: c.tag_resource(Resource=m["arn"], Tags={"app": "x"}),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(world: World, case: DriftCase) -> None:
    want = desired(world)
    created = DRIVER.create(want, world.aws.ctx())
    case.drift(world.aws.client("lambda"), created.attrs)
    live = DRIVER.observe(want, world.aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), world.aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    again = DRIVER.observe(want, world.aws.ctx())
    assert again is not None and diff_fields(want.spec, again.fields) == []


def test_one_listing_reads_every_mapping(world: World) -> None:
    wants = [desired(world, f"m{i}", eventSourceArn=world.queue(f"q{i}")) for i in range(3)]
    for want in wants:
        DRIVER.create(want, world.aws.ctx())
    ctx = world.aws.ctx()
    DRIVER.prefetch(wants, ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert set(DRIVER.inventory(ctx)) == {w.id for w in wants}
    assert ctx.aws.calls[("lambda", "ListEventSourceMappings")] == 1
    # Lambda has no batch tag read: one ListTags per mapping, each once a run
    assert ctx.aws.calls[("lambda", "ListTags")] == 3


def test_another_stack_s_mapping_is_not_found_but_adopt_finds_it(world: World) -> None:
    theirs = desired(world)
    theirs = Desired(theirs.kind, theirs.name, "other-stack", theirs.spec)
    other = DRIVER.create(theirs, world.aws.ctx("other-stack"))
    ctx = world.aws.ctx()
    assert DRIVER.observe(desired(world), ctx) is None and DRIVER.inventory(ctx) == {}
    found = DRIVER.find(other.attrs["uuid"], desired(world), world.aws.ctx())
    assert found is not None and found.tags is not None
    assert found.tags["gitops:stack"] == "other-stack"


def test_deleted_out_of_band_reads_absent_and_delete_is_idempotent(world: World) -> None:
    want = desired(world)
    live = DRIVER.create(want, world.aws.ctx())
    world.aws.client("lambda").delete_event_source_mapping(UUID=live.attrs["uuid"])
    assert DRIVER.observe(want, world.aws.ctx()) is None
    DRIVER.delete(live, world.aws.ctx())


def test_a_mapping_settling_is_retried_by_the_next_run(world: World) -> None:
    # moto settles at once: AWS's ResourceInUseException is stubbed.
    from botocore.exceptions import ClientError

    live = DRIVER.create(desired(world), world.aws.ctx())
    ctx = world.aws.ctx()
    client = ctx.client("lambda")

    def in_use(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ResourceInUseException", "Message": "busy"}},
                          "UpdateEventSourceMapping")

    client.update_event_source_mapping = in_use
    ctx.client = lambda service: client  # type: ignore[method-assign]
    with pytest.raises(MappingBusy, match="next run writes BatchSize"):
        DRIVER.update(desired(world, batchSize=5), live, ["batchSize"], ctx)


def test_a_big_batch_needs_a_window() -> None:
    with pytest.raises(ValueError, match="batching window"):
        EventSourceMappingDriver.spec_model.model_validate(
            {"eventSourceArn": "arn:aws:sqs:us-east-1:111111111111:q", "functionName": "f",
             "batchSize": 100})


@pytest.mark.parametrize(("state", "result", "expected"), [
    ("Creating", None, "progressing"), ("Enabling", None, "progressing"),
    ("Updating", None, "progressing"), ("Enabled", "OK", "ready"),
    ("Disabled", None, "ready"),
    ("Enabled", "PROBLEM: Lambda cannot read the queue: insufficient permissions", "failed")])
def test_readiness_is_the_mapping_s_state(state: str, result: str | None,
                                          expected: str) -> None:
    live = Observed({}, {"uuid": "u", "id": "u", "arn": "a", "state": state,
                         "lastProcessingResult": result})
    readiness = DRIVER.readiness(None, live)
    assert readiness.state == expected
    assert expected == "ready" or (state in readiness.reason or "PROBLEM" in readiness.reason)


def test_replace_feeds_the_new_queue_first() -> None:
    # AWS keeps one mapping per queue and function: another queue's can exist beside it.
    live = Observed({}, {"uuid": "u", "id": "u", "arn": "a"})
    want = desired(World(None, "arn:aws:sqs:us-east-1:111111111111:new", "f"))  # type: ignore[arg-type]
    assert DRIVER.replace_order(want, live) == "create_first"
    assert DRIVER.immutable == {"eventSourceArn"}
