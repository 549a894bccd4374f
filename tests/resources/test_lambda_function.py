"""lambda.Function against a moto server: the deterministic zip and its CodeSha256,
convergence, drift, code and configuration written apart, S3 code, batched reads,
deletion out of band, readiness, and the conflict AWS answers mid-update."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Declared, Desired, Digest, Folder, Observed
from controller.resources.lambda_function import (
    CODE_TAG,
    FunctionDriver,
    StillUpdating,
    bundle,
    code_sha256,
)
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = FunctionDriver()
NAME = "iq-theory-jobs-worker"
HANDLER = b'''"""The jobs worker: log each SQS record; a record that fails returns alone."""
import json
import logging

log = logging.getLogger()
log.setLevel(logging.INFO)


def handler(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            log.info("job %s: %s", record["messageId"], json.loads(record["body"]))
        except (KeyError, ValueError):
            log.exception("job %s is not JSON", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId", "")})
    return {"batchItemFailures": failures}
'''
FILES = {"handler.py": HANDLER, "jobs/__init__.py": b""}
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def role(aws: AwsEnv, name: str = "iq-theory-jobs-worker") -> str:
    return str(aws.client("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"])


def desired(role_arn: str, name: str = NAME, files: dict[str, bytes] | None = None,
            **spec: Any) -> Desired:
    base: dict[str, Any] = {
        "code": {"path": Folder("functions/jobs-worker", files or FILES)},
        "runtime": "python3.12", "handler": "handler.handler", "role": role_arn,
        "timeout": 30, "memorySize": 256,
        "environment": {"variables": {"LOG_LEVEL": "INFO"}},
        "tags": {"app": "iq-theory"},
    }
    return Desired("lambda.Function", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


# --- the zip: pure ------------------------------------------------------------------------


def test_zip_is_deterministic_whatever_the_order() -> None:
    # Same files, same bytes: the order files were read in and the clock do not count.
    again = dict(reversed(list(FILES.items())))
    assert bundle(FILES) == bundle(again)
    assert code_sha256(bundle(FILES)) != code_sha256(bundle({**FILES, "extra.py": b""}))


def test_normalise_gives_the_folder_s_code_sha256_and_an_exact_environment() -> None:
    spec = DRIVER.normalise({"code": {"path": Folder("f", FILES)},
                             "environment": {"variables": {"A": "1"}}})
    assert spec["code"] == {"path": "f", "sha256": code_sha256(bundle(FILES))}
    # the hash compares whole and shows short in a plan
    assert isinstance(spec["code"]["sha256"], Digest)
    assert spec["code"]["sha256"].short == code_sha256(bundle(FILES))[:8] + "..."
    # a plan, a log or JSON shows the path, never the bytes; a copy keeps the files
    assert json.dumps(spec["code"]["path"]) == '"f"'
    assert copy.deepcopy(spec)["code"]["path"].files == FILES
    assert diff_fields(spec["environment"], {"variables": {"A": "1", "B": "2"}}) != []


def test_bytecode_caches_are_not_packaged() -> None:
    # a local run leaves them in the work tree, never in git: the local plan and the
    # daemon's (from the commit) must hash the same zip
    cached = {**FILES, "__pycache__/handler.cpython-312.pyc": b"\x00", "jobs/x.pyc": b"\x00"}
    assert bundle(cached) == bundle(FILES)


def test_the_plan_note_says_where_new_code_comes_from() -> None:
    want = desired("arn:aws:iam::111111111111:role/r")
    sha = code_sha256(bundle(FILES))
    assert DRIVER.plan_note("update", want, None, ["code"]) == (
        f"new code from functions/jobs-worker, sha256 {sha[:8]}...")
    assert DRIVER.plan_note("update", want, None, ["timeout"]) is None
    s3 = desired("arn:aws:iam::111111111111:role/r", code={"s3Bucket": "b", "s3Key": "k.zip"})
    assert DRIVER.plan_note("create", s3, None, ["code"]) == "new code from s3://b/k.zip"


@pytest.mark.parametrize(("spec", "message"), [
    ({"code": {"path": "functions/x"}}, "were not read"),
    ({"code": {"path": Folder("functions/x", {"other.py": b""})}}, "handler.py is not in"),
    ({"code": {"path": Folder("functions/x", {})}}, "holds no file"),
])
def test_lint_needs_the_folder_s_files_and_the_handler_module(spec: dict[str, Any],
                                                               message: str) -> None:
    doc = Declared("lambda.Function", NAME, {"runtime": "python3.12",
                                              "handler": "handler.handler", **spec})
    findings = DRIVER.lint(doc, {doc.id: doc})
    assert len(findings) == 1 and message in findings[0].message


@pytest.mark.parametrize("code", [{}, {"path": "a", "s3Bucket": "b", "s3Key": "k"},
                                  {"s3Bucket": "b"}, {"path": "../outside"}])
def test_code_has_exactly_one_source(code: dict[str, Any]) -> None:
    spec = {"code": code, "runtime": "python3.12", "handler": "h.h",
            "role": "arn:aws:iam::111111111111:role/r"}
    with pytest.raises(ValueError):
        FunctionDriver.spec_model.model_validate(spec)


# --- against moto ---------------------------------------------------------------------------


def test_create_then_observe_has_no_diff_and_codesha256_is_the_zip_s(aws: AwsEnv) -> None:
    want = desired(role(aws))
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert created.fields["code"]["sha256"] == code_sha256(bundle(FILES))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []
    tags = aws.client("lambda").list_tags(Resource=created.attrs["arn"])["Tags"]
    assert tags["gitops:id"] == f"lambda.Function/{NAME}" and tags["app"] == "iq-theory"
    assert created.attrs["name"] == NAME
    # a repeated create (its first answer lost) returns the function, not an error
    assert DRIVER.create(want, aws.ctx()).attrs["arn"] == created.attrs["arn"]


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any, str], None]
    path: str


DRIFT = [
    DriftCase("timeout", "a configuration scalar changed by hand",
              lambda c, arn: c.update_function_configuration(FunctionName=NAME, Timeout=5),
              "spec.timeout"),
    DriftCase("variable added", "environment variables are a user map: an extra one is drift",
              lambda c, arn: c.update_function_configuration(
                  FunctionName=NAME, Environment={"Variables": {"LOG_LEVEL": "INFO",
                                                                "DEBUG": "1"}}),
              "spec.environment.variables.DEBUG"),
    DriftCase("code uploaded by hand", "other bytes: Lambda's CodeSha256 moves",
              lambda c, arn: c.update_function_code(
                  FunctionName=NAME, ZipFile=bundle({"handler.py": b"def handler(e, c): 0\n"})),
              "spec.code.sha256"),
    DriftCase("tag removed", "a missing tag is drift",
              lambda c, arn: c.untag_resource(Resource=arn, TagKeys=["app"]), "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired(role(aws))
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    case.drift(aws.client("lambda"), arn)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]


def test_code_and_configuration_are_written_only_when_they_changed(aws: AwsEnv) -> None:
    arn_role = role(aws)
    DRIVER.create(desired(arn_role), aws.ctx())
    new_code = desired(arn_role, files={**FILES, "handler.py": HANDLER + b"# v2\n"})
    ctx = aws.ctx()
    live = DRIVER.observe(new_code, ctx)
    assert live is not None
    changed = top_level_fields(diff_fields(new_code.spec, live.fields))
    assert changed == ["code"]
    DRIVER.update(new_code, live, changed, ctx)
    assert ctx.aws.calls[("lambda", "UpdateFunctionCode")] == 1
    assert ctx.aws.calls[("lambda", "UpdateFunctionConfiguration")] == 0


def test_an_update_in_progress_is_retried_by_the_next_run(aws: AwsEnv) -> None:
    # moto finishes every update at once: AWS's InProgress is injected into the live read,
    # and its ResourceConflictException through a stubbed call.
    want = desired(role(aws), timeout=60)
    live = DRIVER.create(desired(want.spec["role"]), aws.ctx())
    busy = Observed(live.fields, {**live.attrs, "lastUpdateStatus": "InProgress"}, tags=live.tags)
    with pytest.raises(StillUpdating, match="timeout will be written by the next run"):
        DRIVER.update(want, busy, ["timeout"], aws.ctx())

    ctx = aws.ctx()
    client = ctx.client("lambda")

    def conflict(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ResourceConflictException",
                                     "Message": "An update is in progress"}},
                          "UpdateFunctionConfiguration")

    client.update_function_configuration = conflict
    ctx.client = lambda service: client  # type: ignore[method-assign]
    with pytest.raises(StillUpdating, match="next run"):
        DRIVER.update(want, live, ["timeout"], ctx)


def test_s3_code_is_remembered_by_its_tag(aws: AwsEnv) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="iq-theory-artifacts")
    s3.put_object(Bucket="iq-theory-artifacts", Key="jobs-worker.zip", Body=bundle(FILES))
    want = desired(role(aws), code={"s3Bucket": "iq-theory-artifacts",
                                    "s3Key": "jobs-worker.zip"})
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert CODE_TAG in aws.client("lambda").list_tags(Resource=created.attrs["arn"])["Tags"]
    # another object (or bytes uploaded by hand) is not the one git names: drift
    moved = desired(want.spec["role"], code={"s3Bucket": "iq-theory-artifacts",
                                              "s3Key": "jobs-worker-2.zip"})
    live = DRIVER.observe(moved, aws.ctx())
    assert live is not None
    assert top_level_fields(diff_fields(moved.spec, live.fields)) == ["code"]


def test_one_listing_reads_every_function(aws: AwsEnv) -> None:
    arn_role = role(aws)
    wants = [desired(arn_role, name=f"fn-{i}") for i in range(3)]
    for want in wants:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([*wants, desired(arn_role, name="absent")], ctx)
    assert all(DRIVER.observe(w, ctx) is not None for w in wants)
    assert DRIVER.observe(desired(arn_role, name="absent"), ctx) is None
    assert ctx.aws.calls[("lambda", "ListFunctions")] == 1
    assert ctx.aws.calls[("lambda", "GetFunction")] == 0  # moto's listing carries State
    assert set(DRIVER.inventory(ctx)) == {f"lambda.Function/fn-{i}" for i in range(3)}
    assert ctx.aws.calls[("lambda", "ListFunctions")] == 1


def test_deleted_out_of_band_reads_absent_and_delete_is_idempotent(aws: AwsEnv) -> None:
    want = desired(role(aws))
    live = DRIVER.create(want, aws.ctx())
    aws.client("lambda").delete_function(FunctionName=NAME)
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # already gone: fine


@pytest.mark.parametrize(("state", "update", "expected"), [
    ("Active", "Successful", "ready"), ("Pending", None, "progressing"),
    ("Active", "InProgress", "progressing"), ("Failed", None, "failed"),
    ("Active", "Failed", "failed"), ("Inactive", "Successful", "ready"),
    (None, None, "ready")])
def test_readiness_is_the_function_s_state(state: str | None, update: str | None,
                                            expected: str) -> None:
    live = Observed({}, {"arn": "a", "name": NAME, "state": state, "lastUpdateStatus": update,
                         "reason": "The role cannot be assumed" if "Failed" in (state, update)
                         else None})
    readiness = DRIVER.readiness(None, live)
    assert readiness.state == expected
    if expected != "ready":
        assert (state if state != "Active" else update) in readiness.reason  # type: ignore[operator]
