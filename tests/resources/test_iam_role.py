"""iam.Role against a moto server: convergence, drift of every field kind, deletion out of band."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.handlers import json_decode_policies

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import UNKNOWN, Desired, Observed, is_unknown
from controller.resources.base import RunContext
from controller.resources.iam_role import RoleDriver
from tests.conftest import TEST_STACK, AwsEnv
from tests.stacks import write_stack

DRIVER = RoleDriver()
NAME = "iq-theory-ecs-execution"
EXEC_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:iq-theory/jwt-secret-AbCdEf"


def trust(service: str = "ecs-tasks.amazonaws.com") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    ]}


def allow(action: str | list[str], resource: Any = SECRET_ARN) -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}]}


def desired(name: str = NAME, **spec: Any) -> Desired:
    base = {
        "assumeRolePolicyDocument": trust(),
        "description": "ECS agent",
        "maxSessionDuration": 3600,
        "path": "/",
        "managedPolicyArns": [EXEC_POLICY],
        "inlinePolicies": {"read-app-secrets": allow("secretsmanager:GetSecretValue")},
        "tags": {"app": "iq-theory"},
    }
    return Desired("iam.Role", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def batched(want: Desired, ctx: RunContext) -> Observed | None:
    """Observe `want` as a plan does: after the kind's prefetch (one GAAD read)."""
    DRIVER.prefetch([want], ctx)
    return DRIVER.observe(want, ctx)


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert created.attrs == {"arn": f"arn:aws:iam::{aws.account}:role/{NAME}", "name": NAME}
    tags = {t["Key"]: t["Value"] for t in aws.client("iam").list_role_tags(RoleName=NAME)["Tags"]}
    assert tags["gitops:id"] == "iam.Role/" + NAME and tags["gitops:stack"] == TEST_STACK


def test_create_accepts_json_text_and_is_idempotent(aws: AwsEnv) -> None:
    """A retried create must not attach twice (moto then counts AttachmentCount=2)."""
    want = desired(assumeRolePolicyDocument=json.dumps(trust()),
                   inlinePolicies={"p": json.dumps(allow("sqs:SendMessage"))})
    DRIVER.create(want, aws.ctx())
    again = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, again.fields) == []
    policy = aws.client("iam").get_policy(PolicyArn=EXEC_POLICY)["Policy"]
    assert policy["AttachmentCount"] == 1


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("trust policy changed", "who may assume the role is the heart of a role",
              lambda c: c.update_assume_role_policy(
                  RoleName=NAME, PolicyDocument=json.dumps(trust("lambda.amazonaws.com"))),
              "spec.assumeRolePolicyDocument.Statement[0].Principal.Service"),
    DriftCase("trust condition added", "a key desired lacks must still show (explicit Nones)",
              lambda c: c.update_assume_role_policy(RoleName=NAME, PolicyDocument=json.dumps(
                  {"Statement": [{**trust()["Statement"][0],
                                  "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}],
                   "Version": "2012-10-17"})),
              "spec.assumeRolePolicyDocument.Statement[0].Condition"),
    DriftCase("managed policy detached", "a set member removed by hand",
              lambda c: c.detach_role_policy(RoleName=NAME, PolicyArn=EXEC_POLICY),
              "spec.managedPolicyArns"),
    DriftCase("extra managed policy attached", "a set member added by hand",
              lambda c: c.attach_role_policy(RoleName=NAME, PolicyArn=READ_ONLY),
              "spec.managedPolicyArns"),
    DriftCase("inline policy edited", "a nested list inside a policy document",
              lambda c: c.put_role_policy(
                  RoleName=NAME, PolicyName="read-app-secrets",
                  PolicyDocument=json.dumps(allow(["secretsmanager:GetSecretValue", "s3:*"]))),
              "spec.inlinePolicies[0].PolicyDocument.Statement[0].Action"),
    DriftCase("inline policy deleted", "a map entry removed by hand",
              lambda c: c.delete_role_policy(RoleName=NAME, PolicyName="read-app-secrets"),
              "spec.inlinePolicies"),
    DriftCase("extra inline policy added", "a privilege escalation the map form would hide",
              lambda c: c.put_role_policy(RoleName=NAME, PolicyName="zz-extra",
                                          PolicyDocument=json.dumps(allow("*", "*"))),
              "spec.inlinePolicies"),
    DriftCase("description changed", "a scalar changed by hand",
              lambda c: c.update_role(RoleName=NAME, Description="by hand"), "spec.description"),
    DriftCase("max session changed", "an int scalar changed by hand",
              # Description sent too: moto's update_role clears one left out (AWS keeps it).
              lambda c: c.update_role(RoleName=NAME, MaxSessionDuration=7200,
                                      Description="ECS agent"),
              "spec.maxSessionDuration"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.tag_role(RoleName=NAME, Tags=[{"Key": "app", "Value": "other"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("iam"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    from_batch = batched(want, aws.ctx())
    assert from_batch == live, "the GAAD read and the single-role read must agree"
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert aws.client("iam").get_policy(PolicyArn=EXEC_POLICY)["Policy"]["AttachmentCount"] == 1


def test_undeclared_policies_are_not_read(aws: AwsEnv) -> None:
    """Managed fields only: a role declaring no policies costs one get_role read alone,
    and nothing beyond the kind's one GAAD call when prefetched (no description declared)."""
    full = desired()
    DRIVER.create(full, aws.ctx())
    bare = Desired("iam.Role", NAME, TEST_STACK,
                   DRIVER.normalise({"assumeRolePolicyDocument": trust()}))
    ctx = aws.ctx()
    live = DRIVER.observe(bare, ctx)
    assert live is not None and diff_fields(bare.spec, live.fields) == []
    assert dict(ctx.aws.calls) == {("iam", "GetRole"): 1}
    ctx = aws.ctx()
    assert batched(bare, ctx) == live
    assert dict(ctx.aws.calls) == {("iam", "GetAccountAuthorizationDetails"): 1}


def test_prefetch_reads_every_role_in_one_call(aws: AwsEnv) -> None:
    """A plan's IAM reads do not grow with its roles: one GAAD call serves all of them.

    A RoleDetail has no Description or MaxSessionDuration (AWS's API model, and
    moto alike), so only roles declaring one of them add a get_role.
    """
    roles = [
        desired("iq-a", maxSessionDuration=7200),
        desired("iq-b", path="/service/", managedPolicyArns=[], inlinePolicies={}),
        desired("iq-c", inlinePolicies={"a": allow("sqs:SendMessage"),
                                        "b": allow(["s3:GetObject"], "*")}),
    ]
    del roles[2].spec["description"], roles[2].spec["maxSessionDuration"]
    for role in roles:
        DRIVER.create(role, aws.ctx())
    alone = [DRIVER.observe(role, aws.ctx()) for role in roles]
    ctx = aws.ctx()
    DRIVER.prefetch(roles, ctx)
    seen = [DRIVER.observe(role, ctx) for role in roles]
    assert seen == alone
    for role, live in zip(roles, seen, strict=True):
        assert live is not None and diff_fields(role.spec, live.fields) == [], role.name
    assert seen[1] is not None and seen[1].attrs["arn"].endswith(":role/service/iq-b")
    assert dict(ctx.aws.calls) == {
        ("iam", "GetAccountAuthorizationDetails"): 1,
        ("iam", "GetRole"): 2,  # iq-a and iq-b declare description; iq-c declares neither
    }
    assert not [op for _, op in ctx.aws.calls if op.startswith("List") or op == "GetRolePolicy"]


def test_prefetch_knows_absent_roles_and_writes_reread_afresh(aws: AwsEnv) -> None:
    """The batch answers "absent" without a call; after a write the role is read anew."""
    want = desired()
    ctx = aws.ctx()
    DRIVER.prefetch([want], ctx)
    assert DRIVER.observe(want, ctx) is None
    assert dict(ctx.aws.calls) == {("iam", "GetAccountAuthorizationDetails"): 1}
    created = DRIVER.create(want, ctx)  # a stale batch would say it vanished
    assert diff_fields(want.spec, created.fields) == []
    assert DRIVER.observe(want, ctx) == created
    assert ctx.aws.calls[("iam", "GetAccountAuthorizationDetails")] == 1

    aws.client("iam").tag_role(RoleName=NAME, Tags=[{"Key": "app", "Value": "other"}])
    ctx = aws.ctx()
    live = batched(want, ctx)
    assert live is not None
    assert [c.path for c in diff_fields(want.spec, live.fields)] == ["spec.tags.app"]
    fixed = DRIVER.update(want, live, ["tags"], ctx)  # a stale batch would still show drift
    assert diff_fields(want.spec, fixed.fields) == []


def _as_aws_sends_it(parsed: dict[str, Any], **_: Any) -> None:
    """AWS URL-encodes every policy document in GAAD; moto encodes only the inline ones."""
    for role in parsed.get("RoleDetailList", []):
        doc = role["AssumeRolePolicyDocument"]
        if isinstance(doc, str) and not doc.startswith("%"):
            role["AssumeRolePolicyDocument"] = urllib.parse.quote(doc)


def test_url_encoded_documents_normalise_equal(aws: AwsEnv) -> None:
    """boto3 decodes IAM's URL-encoded policies; another client may not, so the raw text
    must normalise the same. The hook makes moto's trust policy encoded as AWS's is."""
    want = desired()
    DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    events = ctx.client("iam").meta.events
    events.unregister("after-call.iam", json_decode_policies)
    events.register("after-call.iam.GetAccountAuthorizationDetails", _as_aws_sends_it)
    live = batched(want, ctx)
    assert live is not None and diff_fields(want.spec, live.fields) == []
    (roles,) = ctx.cache.values()
    detail = roles[NAME]
    assert detail["AssumeRolePolicyDocument"].startswith("%7B")
    assert detail["RolePolicyList"][0]["PolicyDocument"].startswith("%7B")


def test_unknown_refs_in_policies_read_as_a_diff_not_a_crash(aws: AwsEnv) -> None:
    """At plan time a secret not created yet leaves its ARN unknown."""
    DRIVER.create(desired(), aws.ctx())
    want = desired(inlinePolicies={"read-app-secrets": allow("secretsmanager:GetSecretValue",
                                                             [UNKNOWN, SECRET_ARN])})
    assert is_unknown(want.spec["inlinePolicies"])
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [
        "spec.inlinePolicies[0].PolicyDocument.Statement[0].Resource"
    ]


def test_delete_detaches_and_removes_policies_first(aws: AwsEnv) -> None:
    """IAM refuses delete_role while policies are attached (DeleteConflict)."""
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is None
    assert aws.client("iam").get_policy(PolicyArn=EXEC_POLICY)["Policy"]["AttachmentCount"] == 0


def test_normalise_canonical_forms() -> None:
    spec = DRIVER.normalise({
        "assumeRolePolicyDocument": json.dumps(trust()),
        "description": "",
        "managedPolicyArns": [READ_ONLY, EXEC_POLICY, READ_ONLY],
        "inlinePolicies": {"b": allow("x"), "a": json.dumps(allow(["y"]))},
    })
    assert spec["assumeRolePolicyDocument"]["Statement"][0]["Action"] == ["sts:AssumeRole"]
    assert spec["description"] is None, "IAM stores an empty description as none"
    assert spec["managedPolicyArns"] == [READ_ONLY, EXEC_POLICY], "a set: sorted, no duplicates"
    assert [p["PolicyName"] for p in spec["inlinePolicies"]] == ["a", "b"]
    assert spec["inlinePolicies"][0]["PolicyDocument"]["Statement"][0]["Action"] == ["y"]
    assert DRIVER.normalise(spec) == spec, "normalise is idempotent"
    assert DRIVER.normalise({"description": "x"}) == {"description": "x"}, "only declared fields"


# --- the contract: tags, inventory, adoption, a failed batch --------------------------------


def test_identity_and_references() -> None:
    assert DRIVER.identity == "name"
    assert set(DRIVER.references) == {"logs.LogGroup", "secretsmanager.Secret", "sqs.Queue",
                                      "rds.DBInstance", "s3.Bucket"}


def test_observe_reports_every_tag_alone_and_batched(aws: AwsEnv) -> None:
    """Ownership tags included, whether or not the spec declares `tags`."""
    DRIVER.create(desired(), aws.ctx())
    bare = Desired("iam.Role", NAME, TEST_STACK,
                   DRIVER.normalise({"assumeRolePolicyDocument": trust()}))
    expected = {"app": "iq-theory", **bare.tags()}
    for want in (desired(), bare):
        alone, from_batch = DRIVER.observe(want, aws.ctx()), batched(want, aws.ctx())
        assert alone is not None and alone.tags == expected
        assert from_batch is not None and from_batch.tags == expected


# --- replace deletes only what this stack made -------------------------------------------

ROLE_DOC = """
kind: iam.Role
name: iq-theory-someone-elses
spec:
  path: /service/
  assumeRolePolicyDocument:
    Version: "2012-10-17"
    Statement:
      - {Effect: Allow, Principal: {Service: ecs-tasks.amazonaws.com}, Action: "sts:AssumeRole"}
"""


@pytest.mark.parametrize(("tags", "says"), [
    # Adopting it would need a replace (its path differs): never, since the replace deletes.
    ([{"Key": "owner", "Value": "another-team"}],
     "refused: adopt: iam.Role/iq-theory-someone-elses exists in AWS without this stack's "
     "ownership tags, and its path differs from git's, which only a replace could change"),
    ([{"Key": "gitops:stack", "Value": "iq-theory-dev"},
      {"Key": "gitops:id", "Value": "iam.Role/iq-theory-someone-elses"}],
     "refused: iam.Role/iq-theory-someone-elses in AWS belongs to stack 'iq-theory-dev'"),
], ids=["made by hand", "another stack's"])
def test_a_replace_never_deletes_a_role_this_stack_did_not_make(
        aws: AwsEnv, tmp_path: Path, gitops: Any, recorder: Any,
        tags: list[dict[str, str]], says: str) -> None:
    iam = aws.client("iam")
    iam.create_role(RoleName="iq-theory-someone-elses", Path="/", Tags=tags,
                    AssumeRolePolicyDocument=json.dumps(trust()))
    stack = write_stack(tmp_path / "s", ROLE_DOC)

    plan = gitops("plan", stack)
    assert plan.code == 1
    assert "=> iam.Role/iq-theory-someone-elses" in plan.out
    assert says in plan.out
    assert gitops("apply", stack, "--auto-approve").code == 1
    assert recorder.writes == []
    role = iam.get_role(RoleName="iq-theory-someone-elses")["Role"]
    assert role["Path"] == "/" and role["Tags"] == tags


def test_a_replace_of_its_own_role_goes_ahead(aws: AwsEnv, tmp_path: Path, gitops: Any) -> None:
    stack = write_stack(tmp_path / "s", ROLE_DOC.replace("/service/", "/"))
    assert gitops("apply", stack, "--auto-approve").code == 0
    stack = write_stack(tmp_path / "s", ROLE_DOC)
    assert gitops("apply", stack, "--auto-approve").code == 0
    assert aws.client("iam").get_role(
        RoleName="iq-theory-someone-elses")["Role"]["Path"] == "/service/"
