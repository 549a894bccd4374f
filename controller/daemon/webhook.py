"""Webhook authentication and parsing: GitHub push/ping (HMAC), GitLab push (token).

Pure functions over headers and body, so every forged or malformed case is
tested without a server. Secrets are compared in constant time.

GitHub sends a delivery as `application/json` or, its default for a new hook,
`application/x-www-form-urlencoded` with the JSON in the `payload` field; the
signature covers the raw body either way, so it is checked before decoding.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BODY = 1024 * 1024  # a push of hundreds of commits is ~100 kB; GitHub caps payloads at 25 MB
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Verdict:
    """What the endpoint answers, and whether a reconcile run is queued."""

    status: int
    message: str
    trigger: bool = False


def _ref_matches(pushed: object, tracked: str) -> bool:
    return isinstance(pushed, str) and pushed in (f"refs/heads/{tracked}",
                                                  f"refs/tags/{tracked}", tracked)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _form_payload(body: bytes) -> bytes | None:
    """The `payload` field of a URL-encoded form, or None if there is not exactly one."""
    try:
        fields = urllib.parse.parse_qs(body.decode("ascii"), keep_blank_values=True,
                                       strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        return None
    values = fields.get("payload", [])
    return values[0].encode() if len(values) == 1 else None


def judge(headers: Mapping[str, str], body: bytes, secret: str, tracked_ref: str) -> Verdict:
    """Authenticate first, parse second: an unsigned body is never parsed."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "x-hub-signature-256" in lower:
        want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want.encode(), lower["x-hub-signature-256"].encode()):
            return Verdict(401, "bad signature")
        event = lower.get("x-github-event", "")
        if event == "ping":
            return Verdict(202, "pong")
        if event != "push":
            return Verdict(202, f"ignored: event {event or 'unknown'}")
    elif "x-gitlab-token" in lower:
        if not hmac.compare_digest(secret.encode(), lower["x-gitlab-token"].encode()):
            return Verdict(401, "bad token")
        if lower.get("x-gitlab-event", "Push Hook") not in ("Push Hook", "Tag Push Hook"):
            return Verdict(202, "ignored: not a push")
    else:
        return Verdict(401, "unsigned: send X-Hub-Signature-256 or X-Gitlab-Token")
    if _media_type(lower.get("content-type", "")) == FORM:
        form = _form_payload(body)
        if form is None:
            return Verdict(400, "a form-encoded delivery carries its JSON in one `payload` field")
        body = form
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return Verdict(400, "malformed JSON body")
    if not isinstance(payload, dict) or "ref" not in payload:
        return Verdict(400, "a push event carries `ref`")
    if not _ref_matches(payload["ref"], tracked_ref):
        return Verdict(202, f"ignored: not the tracked ref {tracked_ref}")
    return Verdict(202, "queued a reconcile run", trigger=True)
