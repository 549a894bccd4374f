"""secretsmanager.Secret against a moto server: convergence, drift, restore, value secrecy,
ownership (tags, inventory, adoption)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from controller.engine.diff import diff_fields, top_level_fields
from controller.model import Desired
from controller.resources.base import RunContext
from controller.resources.secretsmanager_secret import SecretDriver
from tests.conftest import TEST_STACK, AwsEnv

DRIVER = SecretDriver()
NAME = "iq-theory/jwt-secret"


def desired(**spec: Any) -> Desired:
    base = {
        "description": "JWT signing key",
        "generate": {"passwordLength": 64},
        "tags": {"app": "iq-theory"},
    }
    return Desired("secretsmanager.Secret", NAME, TEST_STACK, DRIVER.normalise({**base, **spec}))


def value_of(aws: AwsEnv) -> str:
    """Out of band only: the driver itself never reads a value."""
    return str(aws.client("secretsmanager").get_secret_value(SecretId=NAME)["SecretString"])


def test_create_then_observe_has_no_diff(aws: AwsEnv) -> None:
    want = desired()
    assert DRIVER.observe(want, aws.ctx()) is None
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    assert diff_fields(want.spec, DRIVER.observe(want, aws.ctx()).fields) == []  # type: ignore[union-attr]
    assert created.attrs["name"] == NAME and created.attrs["arn"].startswith("arn:aws:")
    info = aws.client("secretsmanager").describe_secret(SecretId=NAME)
    tags = {t["Key"]: t["Value"] for t in info["Tags"]}
    assert tags["gitops:id"] == "secretsmanager.Secret/" + NAME
    assert tags["gitops:stack"] == TEST_STACK
    value = value_of(aws)
    assert len(value) == 64 and value.isalnum()  # excludePunctuation defaults to true


def test_created_without_generate_has_no_value(aws: AwsEnv) -> None:
    want = Desired("secretsmanager.Secret", NAME, TEST_STACK,
                   DRIVER.normalise({"description": "set out of band"}))
    created = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, created.fields) == []
    versions = aws.client("secretsmanager").list_secret_version_ids(SecretId=NAME)["Versions"]
    assert versions == []


@dataclass
class DriftCase:
    name: str
    why: str
    drift: Callable[[Any], None]
    path: str


DRIFT = [
    DriftCase("description", "a scalar changed by hand",
              lambda c: c.update_secret(SecretId=NAME, Description="edited"), "spec.description"),
    DriftCase("tag changed", "a map entry changed by hand",
              lambda c: c.tag_resource(SecretId=NAME, Tags=[{"Key": "app", "Value": "x"}]),
              "spec.tags.app"),
    DriftCase("tag removed", "a declared map entry deleted by hand",
              lambda c: c.untag_resource(SecretId=NAME, TagKeys=["app"]), "spec.tags.app"),
]


@pytest.mark.parametrize("case", DRIFT, ids=lambda c: c.name)
def test_drift_is_seen_and_corrected(aws: AwsEnv, case: DriftCase) -> None:
    want = desired()
    DRIVER.create(want, aws.ctx())
    before = value_of(aws)
    case.drift(aws.client("secretsmanager"))
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == [case.path], case.why
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []
    assert value_of(aws) == before  # metadata updates never touch the value


def test_kms_key_change_is_written(aws: AwsEnv) -> None:
    """kmsKeyId is updated in place (no replace) and without sending a value."""
    key = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    DRIVER.create(desired(), aws.ctx())
    want = desired(kmsKeyId=key)
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert [c.path for c in changes] == ["spec.kmsKeyId"]
    fixed = DRIVER.update(want, live, top_level_fields(changes), aws.ctx())
    assert diff_fields(want.spec, fixed.fields) == []


def test_generate_change_is_never_a_diff(aws: AwsEnv) -> None:
    """The recipe only applies at creation: a changed recipe must not make a perpetual diff."""
    DRIVER.create(desired(), aws.ctx())
    want = desired(generate={"passwordLength": 16, "excludeCharacters": "abc"})
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None and diff_fields(want.spec, live.fields) == []


def test_scheduled_for_deletion_reads_deleted_and_create_restores(aws: AwsEnv) -> None:
    want = desired()
    arn = DRIVER.create(want, aws.ctx()).attrs["arn"]
    original = value_of(aws)
    sm = aws.client("secretsmanager")
    sm.delete_secret(SecretId=NAME, RecoveryWindowInDays=7)
    pending = DRIVER.observe(want, aws.ctx())
    assert pending is not None and pending.deleted and pending.attrs["arn"] == arn
    restored = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, restored.fields) == []
    assert value_of(aws) == original
    assert "DeletedDate" not in sm.describe_secret(SecretId=NAME)


def test_restore_applies_the_declared_fields(aws: AwsEnv) -> None:
    """A restored secret may carry old metadata: create brings it to the declared state."""
    DRIVER.create(desired(), aws.ctx())
    original = value_of(aws)
    aws.client("secretsmanager").delete_secret(SecretId=NAME, RecoveryWindowInDays=7)
    want = desired(description="changed in git meanwhile", tags={"team": "core"})
    pending = DRIVER.observe(want, aws.ctx())
    assert pending is not None and pending.deleted
    restored = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, restored.fields) == []
    assert restored.fields["tags"] == {"team": "core"}
    assert value_of(aws) == original


def test_force_deleted_secret_is_created_again(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    original = value_of(aws)
    aws.client("secretsmanager").delete_secret(SecretId=NAME, ForceDeleteWithoutRecovery=True)
    assert DRIVER.observe(want, aws.ctx()) is None
    DRIVER.delete(live, aws.ctx())  # deleting what is gone succeeds
    again = DRIVER.create(want, aws.ctx())
    assert diff_fields(want.spec, again.fields) == []
    assert value_of(aws) != original  # a new secret: a new random value


def test_delete_uses_a_recovery_window(aws: AwsEnv) -> None:
    want = desired()
    live = DRIVER.create(want, aws.ctx())
    DRIVER.delete(live, aws.ctx())
    assert "DeletedDate" in aws.client("secretsmanager").describe_secret(SecretId=NAME)
    DRIVER.delete(live, aws.ctx())  # already scheduled: succeeds


def test_generated_value_appears_nowhere(aws: AwsEnv) -> None:
    want = desired()
    created = DRIVER.create(want, aws.ctx())
    secret = value_of(aws)
    aws.client("secretsmanager").update_secret(SecretId=NAME, Description="edited")
    live = DRIVER.observe(want, aws.ctx())
    assert live is not None
    changes = diff_fields(want.spec, live.fields)
    assert changes
    for shown in (created, live, changes, DRIVER.update(want, live, ["description"], aws.ctx())):
        assert secret not in repr(shown)


def test_prefetch_reads_all_secrets_in_one_call(aws: AwsEnv) -> None:
    names = [f"iq-theory/s{i}" for i in range(3)]
    for name in names:
        aws.client("secretsmanager").create_secret(Name=name)
    ctx: RunContext = aws.ctx()
    wants = [Desired("secretsmanager.Secret", n, TEST_STACK, {}) for n in [*names, "iq-theory/x"]]
    DRIVER.prefetch(wants, ctx)
    assert [DRIVER.observe(w, ctx) is not None for w in wants] == [True, True, True, False]
    assert ctx.aws.calls[("secretsmanager", "ListSecrets")] == 1


def test_prefix_named_secret_is_not_mistaken(aws: AwsEnv) -> None:
    """The list_secrets name filter matches prefixes: only the exact name counts."""
    aws.client("secretsmanager").create_secret(Name=NAME + "-old")
    assert DRIVER.observe(desired(), aws.ctx()) is None


# --- ownership: tags, inventory, adoption, delete without desired state ----------------------


def test_normalise_makes_generate_defaults_explicit() -> None:
    spec = DRIVER.normalise({"generate": {"passwordLength": 64}})
    assert spec == {"generate": {"passwordLength": 64, "excludePunctuation": True}}
    assert DRIVER.normalise(spec) == spec  # idempotent
