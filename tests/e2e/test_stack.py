"""End to end through the real CLI against moto: apply, converge, drift, deploy, isolate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from controller.aws.leasetable import create_table
from controller.engine.lease import open_lease
from controller.engine.writer import one_writer
from controller.resources import tagged
from tests.conftest import AwsEnv, push_prod_images
from tests.stacks import DECLARED, DESIRED, copy_desired

CLUSTER = "iq-theory-cluster"


def plan_json(gitops: Any, stack: Path) -> tuple[int, dict[str, Any]]:
    result = gitops("plan", stack, "--output", "json")
    return result.code, json.loads(result.out)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_apply_from_empty_then_plan_shows_no_change(
        env: str, gitops: Any, monkeypatch: pytest.MonkeyPatch, request: Any) -> None:
    aws: AwsEnv = request.getfixturevalue("aws" if env == "dev" else "prod_aws")
    stack = DESIRED / env
    code, first = plan_json(gitops, stack)
    assert code == 2
    total = len(first["changes"])
    assert first["summary"]["create"] == total == DECLARED[env]
    applied = gitops("apply", stack, "--auto-approve")
    assert applied.code == 0, applied.out + applied.err
    assert f"Apply complete: {total} changed." in applied.out
    code, second = plan_json(gitops, stack)
    assert code == 0, second
    assert second["summary"]["no-op"] == total
    # What was created is what the YAML says, and carries the ownership tags.
    svc = aws.client("ecs").describe_services(cluster=CLUSTER, services=["iq-theory-api"],
                                              include=["TAGS"])["services"][0]
    assert svc["desiredCount"] == (4 if env == "prod" else 2)
    tags = {t["key"]: t["value"] for t in svc["tags"]}
    assert tags["gitops:stack"] == f"iq-theory-{env}"
    assert tags["gitops:id"] == "ecs.Service/iq-theory-api"
    td = aws.client("ecs").describe_task_definition(taskDefinition="iq-theory-api")
    assert td["taskDefinition"]["cpu"] == ("512" if env == "prod" else "256")


def test_two_live_resources_with_one_identity_are_reported_never_hidden(
        applied_prod: AwsEnv, gitops: Any) -> None:
    """A create retried after its answer was lost leaves a second VPC with the same
    gitops:id: the plan names both, manages the first, and deletes neither."""
    ec2 = applied_prod.client("ec2")
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "tag:gitops:id",
                                         "Values": ["ec2.Vpc/iq-theory-vpc"]}])["Vpcs"]
    twin = ec2.create_vpc(CidrBlock=vpc["CidrBlock"], TagSpecifications=[
        {"ResourceType": "vpc", "Tags": vpc["Tags"]}])["Vpc"]["VpcId"]
    try:
        code, report = plan_json(gitops, DESIRED / "prod")
        assert code == 0, "nothing to change: the first is the one managed"
        warned = {w["id"]: w["message"] for w in report["warnings"]}
        message = warned["ec2.Vpc/iq-theory-vpc"]
        assert f"2 live resources carry this identity: {vpc['VpcId']}, {twin}" in message
        assert f"manages {vpc['VpcId']}" in message
        text = gitops("plan", DESIRED / "prod").out + gitops("plan", DESIRED / "prod").err
        assert twin in text
    finally:
        ec2.delete_vpc(VpcId=twin)


def test_drift_is_planned_with_live_and_desired_then_fixed(
        applied_prod: AwsEnv, gitops: Any) -> None:
    """Through the CLI (every kind's drift table runs in tests/conformance)."""
    stack = DESIRED / "prod"
    applied_prod.client("logs").put_retention_policy(logGroupName="/ecs/iq-theory-api",
                                                 retentionInDays=1)
    code, report = plan_json(gitops, stack)
    assert code == 2
    (change,) = [c for c in report["changes"] if c["action"] != "no-op"]
    assert change["id"] == "logs.LogGroup//ecs/iq-theory-api"
    assert change["fields"] == [{"path": "spec.retentionInDays", "live": 1, "desired": 30}]
    text = gitops("plan", stack)
    assert text.code == 2
    assert "~ logs.LogGroup//ecs/iq-theory-api" in text.out
    assert "retentionInDays: 1 -> 30" in text.out
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert gitops("plan", stack).code == 0


def test_deleted_secret_is_restored_with_its_value(applied_prod: AwsEnv, gitops: Any) -> None:
    stack = DESIRED / "prod"
    sm = applied_prod.client("secretsmanager")
    before = sm.get_secret_value(SecretId="iq-theory/jwt-secret")["SecretString"]
    sm.delete_secret(SecretId="iq-theory/jwt-secret", RecoveryWindowInDays=7)
    code, report = plan_json(gitops, stack)
    assert code == 2
    assert [c["id"] for c in report["changes"] if c["action"] != "no-op"] == [
        "secretsmanager.Secret/iq-theory/jwt-secret"]
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert sm.get_secret_value(SecretId="iq-theory/jwt-secret")["SecretString"] == before
    assert gitops("plan", stack).code == 0


def test_image_tag_change_is_a_new_revision_and_a_service_update(
        applied_prod: AwsEnv, gitops: Any, tmp_path: Path, recorder: Any) -> None:
    desired = copy_desired(tmp_path)
    stack = desired / "prod"
    text = (stack / "stack.yaml").read_text()
    push_prod_images(applied_prod.client("ecr"), "1.5.0")  # CI pushes, then sets the tag
    (stack / "stack.yaml").write_text(text.replace('api_image_tag: "1.4.2"',
                                                   'api_image_tag: "1.5.0"'))
    code, report = plan_json(gitops, stack)
    assert code == 2
    pending = [(c["id"], c["action"], [f["path"] for f in c["fields"]])
               for c in report["changes"] if c["action"] != "no-op"]
    assert pending == [
        ("ecs.TaskDefinition/iq-theory-api", "update", ["spec.containerDefinitions[0].image"]),
        ("ecs.Service/iq-theory-api", "update", ["spec.taskDefinition"]),
    ]
    image = report["changes"][[c["id"] for c in report["changes"]].index(
        "ecs.TaskDefinition/iq-theory-api")]["fields"][0]
    assert image["live"].endswith(":1.4.2") and image["desired"].endswith(":1.5.0")
    recorder.calls.clear()
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert recorder.writes == [("ecs", "RegisterTaskDefinition"), ("ecs", "UpdateService")]
    ecs = applied_prod.client("ecs")
    svc = ecs.describe_services(cluster=CLUSTER, services=["iq-theory-api"])["services"][0]
    revision = int(svc["taskDefinition"].rsplit(":", 1)[1])
    assert revision >= 2, "a new revision"
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert td["containerDefinitions"][0]["image"].endswith(":1.5.0")
    assert gitops("plan", stack).code == 0
    # Rolled back in git: the module's stack is desired/prod again.
    assert gitops("apply", DESIRED / "prod", "--auto-approve").code == 0


def _fail_dlq_create(model: Any, params: dict[str, Any], **_: Any) -> Any:
    # `params` is the serialised request here: the queue name is in its body.
    if model.name == "CreateQueue" and "iq-theory-jobs-dlq" in str(params.get("body")):
        from botocore.awsrequest import AWSResponse

        return (AWSResponse("http://injected", 500, {}, None),
                {"Error": {"Code": "InternalFailure", "Message": "injected by the test"}})
    return None


def test_a_failing_resource_skips_its_dependents_only(
        prod_aws: AwsEnv, gitops: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller import cli

    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [("before-call.sqs.CreateQueue", _fail_dlq_create)])
    result = gitops("apply", DESIRED / "prod", "--auto-approve")
    assert result.code == 1
    assert "sqs.Queue/iq-theory-jobs-dlq  [error]" in result.out
    assert "InternalFailure: injected by the test" in result.out
    for dependent in ("sqs.Queue/iq-theory-jobs", "iam.Role/iq-theory-api-task",
                      "ecs.TaskDefinition/iq-theory-api", "ecs.Service/iq-theory-api"):
        (header,) = [line for line in result.out.splitlines()
                     if line.split()[:2] == ["+", dependent]]
        assert header.endswith("[skipped]"), header
    assert "depends on sqs.Queue/iq-theory-jobs-dlq, which failed" in result.out
    ecs = prod_aws.client("ecs")
    live = ecs.describe_services(cluster=CLUSTER, services=["iq-theory-frontend",
                                                            "iq-theory-api"])
    assert [s["serviceName"] for s in live["services"]] == ["iq-theory-frontend"]
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [])
    assert gitops("apply", DESIRED / "prod", "--auto-approve").code == 0
    assert gitops("plan", DESIRED / "prod").code == 0


def test_an_apply_meeting_another_writer_says_who_and_touches_nothing(
        applied_prod: AwsEnv, gitops: Any, recorder: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path))
    with one_writer("iq-theory-prod", applied_prod.account, "the daemon (gitops run)"):
        result = gitops("apply", DESIRED / "prod", "--auto-approve")
    assert result.code == 1
    assert "stack iq-theory-prod is being written by the daemon (gitops run) (pid" in result.err
    assert "--lock-timeout" in result.err
    assert recorder.calls == [], "the lock comes before the plan: no AWS call at all"
    assert gitops("apply", DESIRED / "prod", "--auto-approve", "--lock-timeout", "5").code == 0


def test_an_apply_meeting_a_replica_s_lease_says_who_and_touches_nothing(
        applied_prod: AwsEnv, gitops: Any, recorder: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With --lease-table the CLI takes the lease the daemon's replicas share: while a
    replica holds it the apply names it and writes nothing; once free, it applies."""
    monkeypatch.setenv("GITOPS_CACHE_DIR", str(tmp_path))
    create_table(applied_prod.client("dynamodb"), "gitops-leases")
    replica = open_lease("gitops-leases", "iq-theory-prod", applied_prod.account,
                         applied_prod.region, "the daemon (gitops run)")
    assert replica.take()
    result = gitops("apply", DESIRED / "prod", "--auto-approve", "--lease-table",
                    "gitops-leases")
    assert result.code == 1
    assert ("stack iq-theory-prod is being written by the daemon (gitops run) (pid"
            in result.err and "fencing number 1" in result.err), result.err
    assert recorder.calls == [], "the lease comes before the plan: no call to the stack"
    replica.release()
    monkeypatch.setenv("GITOPS_LEASE_TABLE", "gitops-leases")  # the same, from the env
    assert gitops("apply", DESIRED / "prod", "--auto-approve").code == 0
    assert replica.take() and replica.fence == 3, "the apply took it (2) and released it"
    replica.release()


def test_account_guard_stops_before_any_other_call(aws: AwsEnv, gitops: Any,
                                                   recorder: Any) -> None:
    result = gitops("plan", DESIRED / "prod")  # a prod stack, dev credentials
    assert result.code == 1
    assert "account 111111111111" in result.err and "222222222222" in result.err
    assert recorder.calls == [("sts", "GetCallerIdentity")]
    recorder.calls.clear()
    assert gitops("apply", DESIRED / "prod", "--auto-approve").code == 1
    assert recorder.calls == [("sts", "GetCallerIdentity")]


def test_region_mismatch_is_an_error(prod_aws: AwsEnv, gitops: Any, recorder: Any,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = gitops("plan", DESIRED / "prod")
    assert result.code == 1
    assert "AWS_REGION is eu-west-1" in result.err
    assert recorder.calls == []


def test_replacing_a_protected_repository_is_refused(prod_aws: AwsEnv, gitops: Any,
                                                     tmp_path: Path, recorder: Any) -> None:
    desired = copy_desired(tmp_path)
    assert gitops("apply", desired / "prod", "--auto-approve").code == 0
    repositories = desired / "base" / "ecr.yaml"
    repositories.write_text(repositories.read_text().replace(
        "  scanOnPush: true\n", "  scanOnPush: true\n  encryptionType: KMS\n", 1))
    code, report = plan_json(gitops, desired / "prod")
    assert code == 1
    refused = [c for c in report["changes"] if c["action"] == "replace"]
    assert [c["id"] for c in refused] == ["ecr.Repository/iq-theory-api"]
    assert refused[0]["reason"].startswith("refused")
    recorder.calls.clear()
    result = gitops("apply", desired / "prod", "--auto-approve")
    assert result.code == 1
    assert "nothing was applied" in result.err
    assert recorder.writes == []


def test_no_change_plan_batches_describe_services(applied_prod: AwsEnv, gitops: Any,
                                                  recorder: Any) -> None:
    stack = DESIRED / "prod"
    code, report = plan_json(gitops, stack)
    assert code == 0
    assert recorder.calls.count(("ecs", "DescribeServices")) == 1
    assert report["stats"]["api_calls"] == len(recorder.calls)
    # One batched read per kind where AWS has one: no per-resource describes. The
    # inventory (what the stack owns, for prune) reuses it, or adds one listing.
    for op in ("DescribeVpcs", "DescribeSubnets", "DescribeSecurityGroups",
               "DescribeLogGroups", "DescribeRepositories", "DescribeClusters",
               "DescribeInternetGateways", "DescribeAddresses", "DescribeNatGateways",
               "DescribeRouteTables", "DescribeVpcEndpoints", "DescribeLoadBalancers",
               "DescribeTargetGroups", "ListNamespaces"):
        assert sum(1 for _, o in recorder.calls if o == op) == 1, op
    assert recorder.calls.count(("secretsmanager", "ListSecrets")) == 2  # by name, by tag
    # One listing of what the stack's tags select, however many pages it takes.
    pages = applied_prod.client("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
        TagFilters=[{"Key": "gitops:stack", "Values": ["iq-theory-prod"]}],
        ResourcesPerPage=tagged.PAGE, TagsPerPage=tagged.TAGS_PAGE)
    assert recorder.calls.count(("resourcegroupstaggingapi", "GetResources")) == len(list(pages))
    print(f"\nno-change plan of desired/prod: {len(recorder.calls)} AWS API calls, "
          f"{report['stats']['duration_seconds']} s")


def test_no_secret_value_appears_in_any_output(applied_prod: AwsEnv, gitops: Any,
                                               tmp_path: Path) -> None:
    stack = DESIRED / "prod"
    sm = applied_prod.client("secretsmanager")
    db_url = "postgresql://iq:hunter2-very-secret@db.internal:5432/iq"
    sm.put_secret_value(SecretId="iq-theory/database-url", SecretString=db_url)
    jwt = sm.get_secret_value(SecretId="iq-theory/jwt-secret")["SecretString"]
    sm.update_secret(SecretId="iq-theory/jwt-secret", Description="drift")
    sm.delete_secret(SecretId="iq-theory/database-url", RecoveryWindowInDays=7)
    for output in ("text", "json", "markdown"):
        gitops("plan", stack, "--output", output)
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert gitops("plan", stack).code == 0
    transcript = "\n".join(gitops.transcript)
    assert "iq-theory/jwt-secret" in transcript  # the runs did talk about the secrets
    for secret in (jwt, "hunter2-very-secret"):
        assert secret not in transcript


class Throttle:
    """before-send hook: answer the first `times` DescribeLogGroups requests with throttling.

    It sits inside botocore's retry loop (unlike before-call), so retries are real.
    """

    def __init__(self, times: int) -> None:
        self.left = times
        self.sent = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        if b"DescribeLogGroups" not in str(request.headers.get("X-Amz-Target", "")).encode():
            return None
        self.sent += 1
        if self.left <= 0:
            return None
        self.left -= 1
        from botocore.awsrequest import AWSResponse

        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})

        class Raw:
            def stream(self, **_: Any) -> Any:
                yield body.encode()

        return AWSResponse(request.url, 400, {"Content-Type": "application/x-amz-json-1.1"},
                           Raw())


def test_throttling_is_retried(applied_prod: AwsEnv, gitops: Any,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from controller import cli

    throttle = Throttle(times=2)
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [("before-send.cloudwatch-logs.*", throttle)])
    assert gitops("plan", DESIRED / "prod").code == 0
    assert throttle.sent == 3  # two throttled attempts, then the answer


def test_persistent_throttling_fails_only_the_throttled_kind(
        applied_prod: AwsEnv, gitops: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from controller import cli

    throttle = Throttle(times=1000)
    monkeypatch.setattr(cli, "GATEWAY_HOOKS", [("before-send.cloudwatch-logs.*", throttle)])
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "3")
    code, report = plan_json(gitops, DESIRED / "prod")
    assert code == 1
    errors = {c["id"]: c["error"] for c in report["changes"] if c["action"] == "error"}
    assert set(errors) == {"logs.LogGroup//ecs/iq-theory-api",
                           "logs.LogGroup//ecs/iq-theory-frontend",
                           "logs.LogGroup//aws/lambda/iq-theory-jobs-worker"}
    assert all("ThrottlingException: Rate exceeded" in e for e in errors.values())
    assert report["summary"]["no-op"] >= 17  # everything else was still read and compared
    assert throttle.sent == 3, "one batched read, retried; not one more per log group"
