"""Fault injection for driver tests: AWS answering one operation with throttling.

A botocore `before-send` hook sits inside the retry loop, so what it answers is what
AWS would have answered, in the service's own protocol; with AWS_MAX_ATTEMPTS=1
botocore does not retry it, so a test sees the error itself and counts exactly how
often the driver asked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

from controller.aws.errors import error_code
from controller.resources.base import RunContext
from tests.conftest import TEST_STACK, AwsEnv


class Throttle:
    """A before-send hook answering every request of one operation with AWS's throttling
    error, in the service's own protocol (JSON or query XML), so botocore parses and
    retries it as it would AWS's: `sent` counts the requests that reached AWS's door.
    With AWS_MAX_ATTEMPTS=1 a retry cannot hide a driver that asks twice."""

    def __init__(self, service: str, operation: str, code: str) -> None:
        self.event = f"before-send.{service}.{operation}"
        self.code = code
        self.sent = 0

    def hooks(self) -> list[tuple[str, Any]]:
        return [(self.event, self)]

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        self.sent += 1
        if "X-Amz-Target" in request.headers:
            body = json.dumps({"__type": self.code, "message": "Rate exceeded"})
            content_type = "application/x-amz-json-1.1"
        else:
            body = (f"<Response><Errors><Error><Code>{self.code}</Code><Message>Rate exceeded"
                    "</Message></Error></Errors><RequestID>throttled</RequestID></Response>")
            content_type = "text/xml"
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        return AWSResponse(request.url, 400, headers, _Raw(body))

    def ctx(self, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> RunContext:
        """A run whose every request of the operation is throttled, and never retried."""
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        return RunContext(aws.gateway(self.hooks()), TEST_STACK)


class _Raw:
    def __init__(self, body: str) -> None:
        self.body = body.encode()

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def throttled_ctx(aws: AwsEnv, monkeypatch: pytest.MonkeyPatch, service: str,
                  operation: str) -> tuple[RunContext, Throttle]:
    """A run context whose `service` (botocore's hyphenated id, e.g. `secrets-manager`)
    answers `operation` with throttling, not retried."""
    throttle = Throttle(service, operation, "ThrottlingException")
    return throttle.ctx(aws, monkeypatch), throttle


def is_throttling(err: BaseException) -> bool:
    return isinstance(err, ClientError) and error_code(err) == "ThrottlingException"
