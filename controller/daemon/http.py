"""/metrics, /healthz, /readyz and POST /webhook over the standard library's HTTP server.

The webhook may listen on its own address, so /metrics need not be exposed
with it. Requests are answered at once; reconcile runs happen on the scheduler.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from controller.daemon.settings import Address
from controller.daemon.webhook import MAX_BODY, judge

log = structlog.get_logger("controller.daemon.http")


class Endpoints:
    """What the handlers need from the daemon, without importing it."""

    def __init__(self, *, ready: Callable[[], bool], trigger: Callable[[], str],
                 webhook_secret: str | None, tracked_ref: str) -> None:
        self.ready = ready
        self.trigger = trigger
        self.webhook_secret = webhook_secret
        self.tracked_ref = tracked_ref


def make_handler(endpoints: Endpoints, *, status: bool, webhook: bool) -> type:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gitops-controller"

        def log_message(self, format: str, *args: object) -> None:
            pass  # access logs would be noise (Prometheus scrapes every few seconds)

        def _send(self, code: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if status and path == "/metrics":
                self._send(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
            elif status and path == "/healthz":
                self._send(200, b"ok\n")
            elif status and path == "/readyz":
                ok = endpoints.ready()
                self._send(200 if ok else 503, b"ready\n" if ok else b"not ready\n")
            else:
                self._send(404, b"not found\n")

        def do_POST(self) -> None:
            if not (webhook and self.path.split("?", 1)[0] == "/webhook"
                    and endpoints.webhook_secret):
                self._send(404, b"not found\n")
                return
            try:
                length = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(411 if "Content-Length" not in self.headers else 400,
                           b"Content-Length required\n")
                return
            if length > MAX_BODY or length < 0:
                self.close_connection = True
                self._send(413, b"body too large\n")
                return
            body = self.rfile.read(length)
            verdict = judge(dict(self.headers.items()), body, endpoints.webhook_secret,
                            endpoints.tracked_ref)
            message = verdict.message
            if verdict.trigger:
                message += ": " + endpoints.trigger()
            event = self.headers.get("X-GitHub-Event") or self.headers.get("X-Gitlab-Event")
            log.info("webhook", status=verdict.status, message=message, hook_event=event)
            self._send(verdict.status, (message + "\n").encode())

    return Handler


class HttpServer:
    """One listening socket on a thread; port 0 picks a free port."""

    def __init__(self, address: Address, handler: type) -> None:
        self.server = ThreadingHTTPServer((address.host, address.port), handler)
        self.server.daemon_threads = True
        host, port = self.server.server_address[:2]
        self.address = f"{host!s}:{port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name=f"http-{port}")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
