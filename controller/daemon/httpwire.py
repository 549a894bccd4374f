"""HTTP/1.1 on the wire, as much as the daemon needs: one request per connection.

Reading is bounded in size here and in time by the caller (one deadline for
the whole request), so no client makes the daemon hold more than the limits
allow. Every answer closes its connection: the daemon's clients (GitHub,
GitLab, Prometheus, health checks) open one connection per request anyway.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_HEADER_LINES = 100  # as the standard library's http.client allows; GitHub sends about 15
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
BODY_CHUNK = 64 * 1024


class BadRequest(Exception):
    """The request cannot be served as sent; answered with `status` and `message`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased; repeated headers joined with ", "
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def text(cls, status: int, message: str, *headers: tuple[str, str]) -> Response:
        return cls(status, (message + "\n").encode(), headers=headers)

    def encode(self, *, head_only: bool = False) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
                 "Server: gitops-controller", f"Content-Type: {self.content_type}",
                 f"Content-Length: {len(self.body)}", "Connection: close",
                 *(f"{name}: {value}" for name, value in self.headers)]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return head if head_only else head + self.body


async def read_head(reader: asyncio.StreamReader, max_bytes: int) -> Request:
    """The request line and headers, at most `max_bytes` of them.

    Raises BadRequest (400, 431), or asyncio.IncompleteReadError if the client
    leaves half-way. The reader's own limit bounds one line.
    """
    used = 0
    lines: list[str] = []
    while True:
        try:
            raw = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            raise BadRequest(431, "request line or header too large") from None
        used += len(raw)
        if used > max_bytes or len(lines) > MAX_HEADER_LINES:
            raise BadRequest(431, "request headers too large")
        line = raw.decode("latin-1").rstrip("\r\n")
        if not line:
            if lines:
                break
            continue  # a blank line before the request line is tolerated (RFC 9112 2.2)
        lines.append(line)
    return Request(*_request_line(lines[0]), headers=_headers(lines[1:]))


def _request_line(line: str) -> tuple[str, str]:
    parts = line.split(" ")
    if (len(parts) != 3 or not parts[0].isalpha() or not parts[0].isupper()
            or not parts[1].startswith("/") or not parts[2].startswith("HTTP/1.")):
        raise BadRequest(400, "malformed request line")
    return parts[0], parts[1]


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or " " in name:
            raise BadRequest(400, "malformed header line")
        key, value = name.lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


async def read_body(reader: asyncio.StreamReader, length: int) -> bytes:
    """Exactly `length` bytes, gathered in chunks of what has arrived.

    StreamReader.readexactly grows one buffer to the full length (reallocating
    as it goes) and copies it twice at the end; chunks cost the bytes received.
    """
    chunks: list[bytes] = []
    left = length
    while left:
        chunk = await reader.read(min(left, BODY_CHUNK))
        if not chunk:
            raise asyncio.IncompleteReadError(b"".join(chunks), length)
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def content_length(headers: dict[str, str], max_body: int) -> int:
    """The announced body size, checked before a byte of the body is read (411, 400, 413)."""
    if "transfer-encoding" in headers or "content-length" not in headers:
        raise BadRequest(411, "Content-Length required")
    values = {value.strip() for value in headers["content-length"].split(",")}
    value = values.pop()
    if values or not value.isdigit() or len(value) > 18:
        raise BadRequest(400, "Content-Length required")
    if int(value) > max_body:
        raise BadRequest(413, "body too large")
    return int(value)
