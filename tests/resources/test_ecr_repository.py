"""ecr.Repository against a moto server: convergence, drift, batching, deletion out of band,
ownership (tags, inventory, adoption)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.ecr_repository import RepositoryDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = RepositoryDriver()
NAME = "iq-theory-api"


def keep_last(count: int) -> dict[str, Any]:
    return {"rules": [{
        "rulePriority": 1,
        "description": "keep the last images",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": count},
        "action": {"type": "expire"},
    }]}


PULL_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Sid": "pull", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}]}


def desired(name: str = NAME, **spec: Any) -> Desired:
    base = {
        "imageTagMutability": "IMMUTABLE",
        "scanOnPush": True,
        "encryptionType": "AES256",
        "lifecyclePolicy": keep_last(30),
        "repositoryPolicy": PULL_POLICY,
        "tags": {"app": "iq-theory"},
    }
    return Desired("ecr.Repository", name, TEST_STACK, DRIVER.normalise({**base, **spec}))


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert created.attrs["uri"] == f"{aws.account}.dkr.ecr.us-east-1.amazonaws.com/{NAME}"
    assert created.attrs["arn"].endswith(f":repository/{NAME}")
    ecr = aws.client("ecr")
    tags = {t["Key"]: t["Value"]
            for t in ecr.list_tags_for_resource(resourceArn=created.attrs["arn"])["tags"]}
    assert tags["gitops:id"] == "ecr.Repository/" + NAME and tags["gitops:stack"] == TEST_STACK


def test_create_is_idempotent_and_accepts_json_text(aws: AwsEnv) -> None:
    want = desired(lifecyclePolicy=json.dumps(keep_last(30)),
                   repositoryPolicy=json.dumps(PULL_POLICY))
    DRIVER.create(want, aws.ctx())
    again = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, again.fields) == []


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("scan on push", "a bool inside a nested AWS structure, flattened in the spec",
              lambda c: c.put_image_scanning_configuration(
                  repositoryName=NAME, imageScanningConfiguration={"scanOnPush": False}),
              "spec.scanOnPush"),
    DriftCase("mutability", "an enum scalar changed by hand",
              lambda c: c.put_image_tag_mutability(repositoryName=NAME,
                                                   imageTagMutability="MUTABLE"),
              "spec.imageTagMutability"),
    DriftCase("lifecycle changed", "a number deep inside a JSON policy document",
              lambda c: c.put_lifecycle_policy(repositoryName=NAME,
                                               lifecyclePolicyText=json.dumps(keep_last(5))),
              "spec.lifecyclePolicy.rules[0].selection.countNumber"),
    DriftCase("lifecycle deleted", "a policy removed by hand reads as null",
              lambda c: c.delete_lifecycle_policy(repositoryName=NAME), "spec.lifecyclePolicy"),
    DriftCase("repository policy changed", "an IAM-grammar policy edited by hand",
              lambda c: c.set_repository_policy(repositoryName=NAME, policyText=json.dumps(
                  {**PULL_POLICY, "Statement": [{**PULL_POLICY["Statement"][0],
                                                 "Principal": "*"}]})),
              "spec.repositoryPolicy.Statement[0].Principal"),
    DriftCase("repository policy deleted", "a policy removed by hand reads as null",
              lambda c: c.delete_repository_policy(repositoryName=NAME),
              "spec.repositoryPolicy"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.tag_resource(
                  resourceArn=c.describe_repositories(repositoryNames=[NAME])
                  ["repositories"][0]["repositoryArn"],
                  tags=[{"Key": "app", "Value": "other"}]),
              "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    case.drift(aws.client("ecr"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_declaring_no_policy_removes_it(aws: AwsEnv) -> None:
    DRIVER.create(desired(), aws.ctx())
    want = desired(lifecyclePolicy=None, repositoryPolicy=None)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert top_level_fields(changes) == ["lifecyclePolicy", "repositoryPolicy"]
    assert diff_fields(want.spec, DRIVER.update(want, live, top_level_fields(changes),
                                                 aws.ctx()).fields) == []


def test_prefetch_reads_the_stack_in_one_call(aws: AwsEnv) -> None:
    wanted = [desired("iq-theory-api"), desired("iq-theory-frontend")]
    for want in wanted:
        DRIVER.create(want, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch(wanted, ctx)
    assert all(DRIVER.observe(want, ctx) is not None for want in wanted)
    assert ctx.aws.calls[("ecr", "DescribeRepositories")] == 1


def test_one_absent_repository_does_not_hide_the_others(aws: AwsEnv) -> None:
    """A missing name fails the whole batch: the driver falls back to listing the account."""
    present, absent = desired("iq-theory-api"), desired("iq-theory-frontend")
    DRIVER.create(present, aws.ctx())
    ctx = aws.ctx()
    DRIVER.prefetch([present, absent], ctx)
    assert DRIVER.observe(present, ctx) is not None
    assert DRIVER.observe(absent, ctx) is None
    assert ctx.aws.calls[("ecr", "DescribeRepositories")] == 2  # the failed batch + the listing


def test_delete_removes_a_repository_holding_images(aws: AwsEnv) -> None:
    """The engine deletes only once `protect` is lifted; images must not block it then."""
    want = desired(imageTagMutability="MUTABLE")
    live = DRIVER.create(want, aws.ctx())
    manifest = {"schemaVersion": 2, "mediaType":
                "application/vnd.docker.distribution.manifest.v2+json", "layers": []}
    aws.client("ecr").put_image(repositoryName=NAME, imageManifest=json.dumps(manifest),
                                imageTag="1.0.0")
    DRIVER.delete(live, aws.ctx())
    assert DRIVER.observe(want, aws.ctx()) is None


# --- ownership: tags, inventory, adoption, delete without desired state ----------------------


def test_normalise_canonical_forms() -> None:
    two_rules = {"rules": [
        {"rulePriority": 2, "selection": {"tagStatus": "tagged", "tagPrefixList": ["v", "rc"],
                                          "countType": "imageCountMoreThan", "countNumber": 5},
         "action": {"type": "expire"}},
        keep_last(30)["rules"][0],
    ]}
    spec = DRIVER.normalise({"lifecyclePolicy": json.dumps(two_rules),
                             "repositoryPolicy": json.dumps(PULL_POLICY)})
    rules = spec["lifecyclePolicy"]["rules"]
    assert [r["rulePriority"] for r in rules] == [1, 2], "rules in priority order"
    assert rules[1]["selection"]["tagPrefixList"] == ["rc", "v"], "tag prefixes are a set"
    assert spec["repositoryPolicy"]["Statement"][0]["Principal"]["AWS"] == [
        "arn:aws:iam::222222222222:root"]
    assert DRIVER.normalise(spec) == spec, "normalise is idempotent"
    assert DRIVER.normalise({"lifecyclePolicy": "", "repositoryPolicy": ""}) == {
        "lifecyclePolicy": None, "repositoryPolicy": None}, '"" asks for no policy'
    assert DRIVER.normalise({"kmsKey": "arn:aws:kms:k"})["encryptionType"] == "KMS"


def test_kms_encryption_converges(aws: AwsEnv) -> None:
    """AWS echoes the key ARN: declared as an ARN, the immutable kmsKey never diffs."""
    key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    want = desired(encryptionType="KMS", kmsKey=key)
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
