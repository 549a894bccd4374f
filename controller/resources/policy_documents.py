"""Canonical forms of JSON policy documents, so desired and live compare equal when AWS says so.

AWS accepts one policy in many spellings (a single Action string or a one-item
list, statements in any order, an account id or its root ARN as principal) and
echoes back whichever spelling it was given or prefers. Comparing raw documents
would make perpetual diffs, so both sides go through `normalise_policy` before
the generic diff sees them. Pure functions only: drivers of IAM, SQS, ECR and
any other kind with an IAM-grammar policy share this module.

The generic diff compares only the keys the desired side has. For a policy that
would hide a Condition or a second principal added by hand, so the canonical form
makes every access-relevant statement key explicit (None when absent): the
statement-level comparison becomes equality. `policy_json` drops those Nones
again before a document is sent to AWS.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from controller.model import is_unknown

# Statement keys that change who may do what. `Sid` is a label and left out on
# purpose: a service that invents Sids would otherwise make a perpetual diff.
STATEMENT_KEYS = (
    "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
    "Resource", "NotResource", "Condition",
)
# Principal types of the IAM grammar: made explicit so a principal added by hand shows.
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
# Statement keys whose value may be one string or a list meaning the same set.
_LIST_KEYS = ("Action", "NotAction", "Resource", "NotResource")
_ACCOUNT_ID = re.compile(r"^\d{12}$")


def parse_document(value: Any) -> Any:
    """A JSON document given as dict or string (possibly URL-encoded, as raw IAM returns it).

    Values only known after apply, and values that are not JSON, are returned
    unchanged: validation and AWS report bad documents better than a crash here.
    """
    if not isinstance(value, str) or is_unknown(value):
        return value
    text = value.strip()
    if text.startswith("%"):
        text = urllib.parse.unquote(text)
    try:
        return json.loads(text)
    except ValueError:
        return value


def normalise_policy(value: Any) -> Any:
    """The canonical form of an IAM-grammar policy (identity, trust or resource policy)."""
    doc = parse_document(value)
    if not isinstance(doc, dict):
        return doc
    out = dict(doc)
    statements = out.get("Statement")
    if statements is not None:
        if isinstance(statements, dict):
            statements = [statements]
        if isinstance(statements, list):
            canon = [_statement(s) for s in statements]
            out["Statement"] = sorted(canon, key=_sort_key)
    return out


def _statement(statement: Any) -> Any:
    if not isinstance(statement, dict):
        return statement
    out = dict(statement)
    for key in STATEMENT_KEYS:
        out.setdefault(key, None)
    for key in _LIST_KEYS:
        out[key] = _string_set(out[key])
    for key in ("Principal", "NotPrincipal"):
        out[key] = _principal(out[key])
    out["Condition"] = _condition(out["Condition"])
    return out


def _string_set(value: Any) -> Any:
    """One string or a list of them -> a sorted list without duplicates (AWS treats it as a set)."""
    if value is None:
        return value
    if isinstance(value, str | int | float | bool):
        value = [value]
    if not isinstance(value, list):
        return value
    items = [v if isinstance(v, str) else _scalar_text(v) for v in value]
    return sorted(dict.fromkeys(items), key=str)


def _scalar_text(value: Any) -> Any:
    """AWS stores condition values as text: `true` and "true", 30 and "30" are one value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _principal(value: Any) -> Any:
    """`"*"` stays itself (it differs from {"AWS": "*"}); a map gets every type and sorted lists."""
    if not isinstance(value, dict):
        return value
    out = {key: None for key in PRINCIPAL_TYPES}
    for key, ids in value.items():
        ids = _string_set(ids)
        if key == "AWS" and isinstance(ids, list):
            # IAM rewrites a bare account id to that account's root ARN.
            ids = sorted(
                {f"arn:aws:iam::{i}:root" if _ACCOUNT_ID.match(str(i)) else i for i in ids},
                key=str,
            )
        out[key] = ids
    return out


def _condition(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {
        op: ({key: _string_set(v) for key, v in keys.items()} if isinstance(keys, dict) else keys)
        for op, keys in value.items()
    }


def _sort_key(statement: Any) -> str:
    return json.dumps(statement, sort_keys=True, default=str)


def strip_nones(value: Any) -> Any:
    """The document without the explicit Nones of the canonical form."""
    if isinstance(value, dict):
        return {k: strip_nones(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nones(v) for v in value]
    return value


def policy_json(value: Any) -> str:
    """The text to send to AWS: compact (IAM counts characters against its size quotas)."""
    return json.dumps(strip_nones(parse_document(value)), separators=(",", ":"))
