"""Webhook verdicts: signed pushes of the tracked ref trigger; everything else does not."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest

from controller.daemon.webhook import judge
from tests.httpclients import github_push

SECRET = "hook-secret"


def github(body: bytes, event: str = "push", secret: str = SECRET) -> dict[str, str]:
    sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": sig, "X-GitHub-Event": event}


PUSH_MAIN = json.dumps({"ref": "refs/heads/main"}).encode()
PUSH_OTHER = json.dumps({"ref": "refs/heads/feature"}).encode()

CASES = [
    ("github push of main", "the tracked ref triggers", github(PUSH_MAIN), PUSH_MAIN, 202, True),
    ("github ping", "a ping is answered, nothing runs", github(b"{}", "ping"), b"{}", 202, False),
    ("other branch", "only the tracked ref triggers", github(PUSH_OTHER), PUSH_OTHER, 202, False),
    ("unsigned", "no signature, no run", {"X-GitHub-Event": "push"}, PUSH_MAIN, 401, False),
    ("wrong secret", "a forged signature", github(PUSH_MAIN, secret="guess"), PUSH_MAIN, 401,
     False),
    ("body changed", "the signature covers the body", github(PUSH_MAIN),
     PUSH_MAIN.replace(b"main", b"mainx"), 401, False),
    ("malformed json", "signed garbage is a bad request", github(b"{not json"), b"{not json",
     400, False),
    ("no ref", "a push names its ref", github(b"{}"), b"{}", 400, False),
    ("gitlab push", "GitLab's token header", {"X-Gitlab-Token": SECRET,
                                              "X-Gitlab-Event": "Push Hook"}, PUSH_MAIN, 202, True),
    ("gitlab bad token", "a wrong token", {"X-Gitlab-Token": "nope"}, PUSH_MAIN, 401, False),
]


@pytest.mark.parametrize(("name", "why", "headers", "body", "status", "trigger"), CASES,
                         ids=[c[0] for c in CASES])
def test_verdicts(name: str, why: str, headers: dict[str, str], body: bytes, status: int,
                  trigger: bool) -> None:
    verdict = judge(headers, body, SECRET, "main")
    assert (verdict.status, verdict.trigger) == (status, trigger), why


# GitHub's default content type for a new hook: the JSON is the URL-encoded `payload`
# field, and the signature covers the form body as sent.
FORM = "application/x-www-form-urlencoded"


def form_delivery(payload: dict[str, Any], event: str = "push", ctype: str = FORM,
                  secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    return {**github(body, event, secret), "Content-Type": ctype}, body


def test_a_form_encoded_github_push_of_the_tracked_ref_triggers() -> None:
    headers, body = form_delivery(github_push("refs/heads/main", "a" * 40))
    assert b"payload=%7B%22ref%22" in body  # URL-encoded JSON, as GitHub sends it
    verdict = judge(headers, body, SECRET, "main")
    assert (verdict.status, verdict.trigger) == (202, True)
    assert verdict.message == "queued a reconcile run"


FORM_CASES = [
    ("charset parameter", "a media type parameter is not a different type",
     *form_delivery(github_push("refs/heads/main"), ctype=f"{FORM}; charset=utf-8"), 202, True),
    ("form ping", "a ping from a form-encoded hook", *form_delivery({"zen": "hi"}, "ping"),
     202, False),
    ("form other branch", "only the tracked ref triggers",
     *form_delivery(github_push("refs/heads/feature")), 202, False),
    ("form forged", "the signature is checked on the form body",
     *form_delivery(github_push("refs/heads/main"), secret="guess"), 401, False),
    ("form no payload", "the JSON travels in `payload`",
     {**github(b"ref=refs%2Fheads%2Fmain"), "Content-Type": FORM}, b"ref=refs%2Fheads%2Fmain",
     400, False),
    ("form two payloads", "one delivery, one payload",
     {**github(b"payload=%7B%7D&payload=%7B%7D"), "Content-Type": FORM},
     b"payload=%7B%7D&payload=%7B%7D", 400, False),
    ("form payload not json", "a signed form with garbage in `payload`",
     {**github(b"payload=%7Bnope"), "Content-Type": FORM}, b"payload=%7Bnope", 400, False),
    ("form not utf-8", "percent-escapes that decode to no text",
     {**github(b"payload=%FF%FE"), "Content-Type": FORM}, b"payload=%FF%FE", 400, False),
]


@pytest.mark.parametrize(("name", "why", "headers", "body", "status", "trigger"), FORM_CASES,
                         ids=[c[0] for c in FORM_CASES])
def test_form_encoded_verdicts(name: str, why: str, headers: dict[str, str], body: bytes,
                               status: int, trigger: bool) -> None:
    verdict = judge(headers, body, SECRET, "main")
    assert (verdict.status, verdict.trigger) == (status, trigger), why


def test_a_json_delivery_is_still_read_as_json_whatever_its_content_type() -> None:
    body = json.dumps(github_push("refs/heads/main")).encode()
    for ctype in ("application/json", "application/json; charset=utf-8", ""):
        verdict = judge({**github(body), "Content-Type": ctype}, body, SECRET, "main")
        assert (verdict.status, verdict.trigger) == (202, True), ctype
    assert judge({**github(b"{nope"), "Content-Type": "application/json"}, b"{nope", SECRET,
                 "main").message == "malformed JSON body"
