"""A small fault-injecting HTTP proxy between a process under test and moto.

The daemon runs as a real process, so botocore hooks cannot reach it; it is
pointed at this proxy instead (AWS_ENDPOINT_URL). Every request is forwarded
to moto unchanged; a test may register a rewrite of the answer to one
operation (e.g. DescribeServices showing a rolled-back deployment), and
every call is recorded with its time.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class Call:
    operation: str
    at: float
    body: bytes
    method: str = "POST"

    @property
    def write(self) -> bool:
        return is_write(self.method, self.operation)


def operation_of(headers: Any, body: bytes) -> str:
    """`DescribeServices` from a JSON-protocol target or a query-protocol Action."""
    target = headers.get("X-Amz-Target")
    if target:
        return str(target.rsplit(".", 1)[-1])
    text = body.decode(errors="replace")
    for part in text.split("&"):
        if part.startswith("Action="):
            return part[len("Action="):]
    return "unknown"


READS = ("Describe", "List", "Get")


def is_write(method: str, operation: str) -> bool:
    """A call that changes AWS: a REST PUT, POST, PATCH or DELETE, or a JSON/query call
    whose operation is not a read (Describe*, List*, Get*)."""
    if method in ("GET", "HEAD"):
        return False
    return operation == "unknown" or not operation.startswith(READS)


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rewrites: dict[str, Rewrite] = {}
        # seconds to hold a request of an operation before forwarding it (a slow AWS)
        self.delays: dict[str, float] = {}
        self.calls: list[Call] = []
        # called with the count of writes so far, once each write's answer is back from
        # AWS and before it is passed on (a crash point: the write happened, unseen)
        self.after_write: Callable[[int], None] | None = None
        self.writes = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                op = operation_of(self.headers, body)
                with proxy._lock:
                    proxy.calls.append(Call(op, time.monotonic(), body, self.command))
                time.sleep(proxy.delays.get(op, 0.0))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection", "expect")}
                # urllib would call a body without a type a form (S3 sends XML untyped)
                headers.setdefault("Content-Type", "")
                req = urllib.request.Request(proxy.upstream + self.path, data=body or None,
                                             headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, rheaders, payload = resp.status, resp.headers, resp.read()
                except urllib.error.HTTPError as err:
                    status, rheaders, payload = err.code, err.headers, err.read()
                if proxy.after_write is not None and is_write(self.command, op):
                    with proxy._lock:
                        proxy.writes += 1
                        count = proxy.writes
                    proxy.after_write(count)
                rewrite = proxy.rewrites.get(op)
                if rewrite is not None and status == 200:
                    payload = json.dumps(rewrite(json.loads(payload))).encode()
                self.send_response(status)
                for key, value in rheaders.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection",
                                           "server", "date"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, operation: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.operation == operation)

    def first(self, operation: str, after: float = 0.0) -> Call | None:
        with self._lock:
            return next((c for c in self.calls if c.operation == operation and c.at >= after),
                        None)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
