"""Fault injection for driver tests: AWS answering one operation with throttling.

A botocore `before-send` hook sits inside the retry loop, so what it answers is what
AWS would have answered, in the service's own protocol; with AWS_MAX_ATTEMPTS=1
botocore does not retry it, so a test sees the error itself and counts exactly how
often the driver asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

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
        content_type, body = error_body(request, self.event.split(".")[1], self.code,
                                        "Rate exceeded")
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        if content_type == CBOR:
            headers["smithy-protocol"] = "rpc-v2-cbor"
        return AWSResponse(request.url, 400, headers, _Raw(body))

    def ctx(self, aws: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> RunContext:
        """A run whose every request of the operation is throttled, and never retried."""
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        return RunContext(aws.gateway(self.hooks()), TEST_STACK)


CBOR = "application/cbor"


def error_body(request: Any, service: str, code: str, message: str) -> tuple[str, bytes]:
    """AWS's error answer in the protocol the request speaks: Smithy RPC v2 CBOR
    (CloudWatch's), JSON (an X-Amz-Target or a REST JSON service such as Lambda), S3 and
    CloudFront's REST XML, or the query protocol's XML."""
    if request.headers.get("smithy-protocol") in ("rpc-v2-cbor", b"rpc-v2-cbor"):
        return CBOR, _cbor_text_map({"__type": code, "message": message})
    if "X-Amz-Target" in request.headers:
        return "application/x-amz-json-1.1", json.dumps(
            {"__type": code, "message": message}).encode()
    if service in REST_JSON:
        return "application/json", json.dumps({"__type": code, "message": message}).encode()
    error = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    if service == "s3":
        return "application/xml", f"{error[:-8]}<RequestId>throttled</RequestId></Error>".encode()
    if service in REST_XML:
        return "text/xml", (f"<ErrorResponse>{error}<RequestId>throttled</RequestId>"
                            "</ErrorResponse>").encode()
    return "text/xml", (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}"
                        "</Message></Error></Errors><RequestID>throttled</RequestID>"
                        "</Response>").encode()


REST_XML = ("cloudfront", "route53", "route-53")  # besides S3 (its error is the root)
REST_JSON = ("lambda", "apigateway")


def _cbor_text_map(pairs: dict[str, str]) -> bytes:
    """A CBOR map of short text strings (RFC 8949: major types 5 and 3)."""
    def text(value: str) -> bytes:
        raw = value.encode()
        assert len(raw) < 256
        return (bytes([0x60 + len(raw)]) if len(raw) < 24 else bytes([0x78, len(raw)])) + raw

    assert len(pairs) < 24
    return bytes([0xA0 + len(pairs)]) + b"".join(text(k) + text(v) for k, v in pairs.items())


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

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


class LostAnswer:
    """A before-send hook that lets AWS do the request, then loses its answer: the client
    sees a 500 (`how="500"`) or a connection dropped (`how="reset"`), as when a load
    balancer or the network fails between AWS's success and the caller. Each operation
    loses its answer `times` times (the first calls); `lost` records which. The same
    botocore retry loop that would resend it runs on what the hook answers."""

    def __init__(self, how: str = "500", times: int = 1,
                 only: Callable[[str, str], bool] | None = None) -> None:
        assert how in ("500", "reset")
        self.how, self.times, self.only = how, times, only
        self.lost: list[tuple[str, str]] = []
        self._http = URLLib3Session()
        self._lock = threading.Lock()

    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-send.*.*", self)]

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        service, operation = event_name.split(".", 2)[1:]
        if self.only is not None and not self.only(service, operation):
            return None
        with self._lock:
            if self.lost.count((service, operation)) >= self.times:
                return None
            self.lost.append((service, operation))
        answer = self._http.send(request)  # AWS does it
        if answer.status_code >= 300:
            return answer  # AWS refused: nothing done, nothing to lose
        if self.how == "reset":
            raise ConnectionClosedError(endpoint_url=request.url)
        content_type, body = error_body(request, service, "InternalError",
                                        "We encountered an internal error. Please try again.")
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        if content_type == CBOR:
            headers["smithy-protocol"] = "rpc-v2-cbor"
        return AWSResponse(request.url, 500, headers, _Raw(body))


FAULTS = ("throttling", "500", "timeout", "reset", "denied")


class FirstCallFault:
    """A before-send hook that answers the first call of every operation (or of those
    `only` admits) with one fault, before it reaches AWS (nothing is done): AWS's
    throttling or a 500 or an access-denied in the service's protocol, or a read timeout
    or a connection reset from the network. botocore's retry loop runs on what it answers;
    `faulted` records each (service, operation, code) answered."""

    def __init__(self, fault: str, only: Callable[[str, str], bool] | None = None) -> None:
        assert fault in FAULTS
        self.fault, self.only = fault, only
        self.faulted: list[tuple[str, str, str]] = []
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def hooks(self) -> list[tuple[str, Any]]:
        return [("before-send.*.*", self)]

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        service, operation = event_name.split(".", 2)[1:]
        if self.only is not None and not self.only(service, operation):
            return None
        with self._lock:
            if (service, operation) in self._seen:
                return None
            self._seen.add((service, operation))
        if self.fault == "timeout":
            self.faulted.append((service, operation, "ReadTimeoutError"))
            raise ReadTimeoutError(endpoint_url=request.url)
        if self.fault == "reset":
            self.faulted.append((service, operation, "ConnectionClosedError"))
            raise ConnectionClosedError(endpoint_url=request.url)
        status, code, message = {
            "throttling": (400, "ThrottlingException", "Rate exceeded"),
            "500": (500, "InternalError", "We encountered an internal error."),
            "denied": (403, _denied_code(request, service), "not authorized to perform this"),
        }[self.fault]
        self.faulted.append((service, operation, code))
        content_type, body = error_body(request, service, code, message)
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        if content_type == CBOR:
            headers["smithy-protocol"] = "rpc-v2-cbor"
        return AWSResponse(request.url, status, headers, _Raw(body))


def _denied_code(request: Any, service: str) -> str:
    """AWS's access-denied code as each protocol family spells it."""
    if service == "ec2":
        return "UnauthorizedOperation"
    json_protocol = ("X-Amz-Target" in request.headers or service in REST_JSON
                     or request.headers.get("smithy-protocol") in ("rpc-v2-cbor", b"rpc-v2-cbor"))
    return "AccessDeniedException" if json_protocol else "AccessDenied"


class Unhealing:
    """A before-send hook answering every call of one operation with a 500, forever."""

    def __init__(self, operation: str) -> None:
        self.operation, self.sent = operation, 0

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        if not event_name.endswith("." + self.operation):
            return None
        self.sent += 1
        content_type, body = error_body(request, event_name.split(".")[1], "InternalError",
                                        "We encountered an internal error.")
        headers = HTTPHeaders()
        headers["Content-Type"] = content_type
        return AWSResponse(request.url, 500, headers, _Raw(body))
