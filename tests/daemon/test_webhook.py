"""Webhook verdicts: signed pushes of the tracked ref trigger; everything else does not."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from controller.daemon.webhook import judge

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
