"""Pure tests of the canonical policy form: equal policies compare equal, different ones differ."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from controller.engine.diff import diff_fields
from controller.model import UNKNOWN, is_unknown
from controller.resources.policy_documents import (
    normalise_policy,
    parse_document,
    policy_json,
    strip_nones,
)

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }],
}


def same(a: Any, b: Any) -> bool:
    return normalise_policy(a) == normalise_policy(b)


def statement(**fields: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **fields}]}


@pytest.mark.parametrize(("why", "a", "b"), [
    ("a single Action string is a one-item list",
     statement(Action="s3:GetObject", Resource="*"),
     statement(Action=["s3:GetObject"], Resource=["*"])),
    ("actions and resources are sets: order and duplicates do not matter",
     statement(Action=["sqs:A", "sqs:B", "sqs:A"], Resource=["r2", "r1"]),
     statement(Action=["sqs:B", "sqs:A"], Resource=["r1", "r2"])),
    ("one statement may be written without the list",
     {"Version": "2012-10-17", "Statement": TRUST["Statement"][0]}, TRUST),
    ("statement order does not matter",
     {"Statement": [{"Effect": "Allow", "Action": "a"}, {"Effect": "Deny", "Action": "b"}]},
     {"Statement": [{"Effect": "Deny", "Action": "b"}, {"Effect": "Allow", "Action": "a"}]}),
    ("a principal value may be a string or a list",
     statement(Principal={"Service": "ecs-tasks.amazonaws.com"}, Action="sts:AssumeRole"),
     statement(Principal={"Service": ["ecs-tasks.amazonaws.com"]}, Action="sts:AssumeRole")),
    ("IAM rewrites an account id principal to the account's root ARN",
     statement(Principal={"AWS": "123456789012"}, Action="sts:AssumeRole"),
     statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}, Action="sts:AssumeRole")),
    ("condition values are text and sets: true is 'true', a string is a one-item list",
     statement(Action="a", Condition={"Bool": {"aws:SecureTransport": True}}),
     statement(Action="a", Condition={"Bool": {"aws:SecureTransport": ["true"]}})),
    ("JSON text and a map are one document",
     json.dumps(TRUST), TRUST),
    ("raw IAM answers are URL-encoded JSON",
     urllib.parse.quote(json.dumps(TRUST)), TRUST),
])
def test_equal_spellings_normalise_equal(why: str, a: Any, b: Any) -> None:
    assert same(a, b), why


@pytest.mark.parametrize(("why", "a", "b"), [
    ("'*' (anyone, even anonymous) is not {'AWS': '*'}",
     statement(Principal="*", Action="a"), statement(Principal={"AWS": "*"}, Action="a")),
    ("Allow is not Deny",
     statement(Action="a"), {"Statement": [{"Effect": "Deny", "Action": "a"}]}),
    ("a different action", statement(Action="a"), statement(Action="b")),
])
def test_different_policies_stay_different(why: str, a: Any, b: Any) -> None:
    assert not same(a, b), why


@pytest.mark.parametrize(("why", "desired", "live", "path"), [
    ("a Condition added by hand narrows or widens access: the diff must see it",
     statement(Action="a"),
     statement(Action="a", Condition={"StringEquals": {"aws:SourceAccount": "1"}}),
     "spec.Statement[0].Condition"),
    ("a second principal type added to a trust policy lets someone else assume the role",
     statement(Action="a", Principal={"Service": "x"}),
     statement(Action="a", Principal={"Service": "x", "AWS": "arn:aws:iam::1:root"}),
     "spec.Statement[0].Principal.AWS"),
])
def test_keys_added_on_the_live_side_show_in_the_diff(
    why: str, desired: Any, live: Any, path: str
) -> None:
    changes = diff_fields(normalise_policy(desired), normalise_policy(live))
    assert [c.path for c in changes] == [path], why


def test_values_known_after_apply_stay_unknown() -> None:
    """The engine must still see an unresolved ref after normalising."""
    doc = normalise_policy(statement(Action="sqs:SendMessage", Resource=UNKNOWN))
    assert doc["Statement"][0]["Resource"] == [UNKNOWN]
    assert is_unknown(doc)
    assert parse_document(UNKNOWN) is UNKNOWN


def test_policy_json_drops_the_explicit_nones_and_round_trips() -> None:
    canon = normalise_policy(TRUST)
    text = policy_json(canon)
    assert "null" not in text and " " not in text
    assert normalise_policy(text) == canon
    assert json.loads(text) == strip_nones(canon)


def test_normalise_is_idempotent() -> None:
    once = normalise_policy(statement(Action=["b", "a"], Principal={"AWS": "123456789012"}))
    assert normalise_policy(once) == once


def test_text_that_is_not_json_is_left_for_validation() -> None:
    assert normalise_policy("not json") == "not json"
