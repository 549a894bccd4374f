"""/metrics, /healthz, /readyz and POST /webhook, served by an asyncio loop on a thread.

The webhook may listen on its own address, so /metrics need not be exposed
with it. Requests are answered at once; reconcile runs happen on the scheduler.

Hostile and bursty clients are the normal case for a port open to GitHub: an
event loop holds thousands of idle sockets for tens of kB each at most, so
every request gets one deadline for all of its reading, connections and body
memory are bounded (httplimits.py), and the excess is answered 503 at once
instead of queueing. When the connection cap is reached, the oldest request
still being read after a second (a drip, not a real client) gives way, so
/healthz keeps answering through a flood.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from controller.daemon.httplimits import Limits
from controller.daemon.httpwire import (
    CONTINUE,
    BadRequest,
    Request,
    Response,
    content_length,
    read_body,
    read_head,
)
from controller.daemon.settings import Address
from controller.daemon.webhook import judge

log = structlog.get_logger("controller.daemon.http")

REPORT_EVERY_SECONDS = 10.0  # refusals are logged as one summary line per period, not per client
STOP_GRACE_SECONDS = 1.0  # answers being written at stop; SIGTERM's 25 s belong to the run
OVERLOADED = Response.text(503, "overloaded, retry later", ("Retry-After", "1"))


class Endpoints:
    """What the handlers need from the daemon, without importing it."""

    def __init__(self, *, ready: Callable[[], bool], trigger: Callable[[], str],
                 webhook_secret: str | None, tracked_ref: str) -> None:
        self.ready = ready
        self.trigger = trigger
        self.webhook_secret = webhook_secret
        self.tracked_ref = tracked_ref


class Routes:
    """What each path answers on one listener: status paths, the webhook, or both."""

    def __init__(self, endpoints: Endpoints, *, status: bool, webhook: bool) -> None:
        self.endpoints = endpoints
        self.status = status
        self.webhook = webhook

    def takes_body(self, request: Request) -> bool:
        """Only the webhook reads a body; anything else is answered from the head alone."""
        return (request.method == "POST" and request.path == "/webhook" and self.webhook
                and bool(self.endpoints.webhook_secret))

    def answer(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return self._status(request.path)
        if request.method == "POST":
            return self._webhook(request) if self.takes_body(request) else _not_found()
        return Response.text(501, "unsupported method")

    def _status(self, path: str) -> Response:
        if self.status and path == "/metrics":
            return Response(200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)
        if self.status and path == "/healthz":
            return Response.text(200, "ok")
        if self.status and path == "/readyz":
            ok = self.endpoints.ready()
            return Response.text(200 if ok else 503, "ready" if ok else "not ready")
        return _not_found()

    def _webhook(self, request: Request) -> Response:
        secret = self.endpoints.webhook_secret
        assert secret  # takes_body() checked it
        verdict = judge(request.headers, request.body, secret, self.endpoints.tracked_ref)
        message = verdict.message
        if verdict.trigger:
            message += ": " + self.endpoints.trigger()
        event = request.headers.get("x-github-event") or request.headers.get("x-gitlab-event")
        log.info("webhook", status=verdict.status, message=message, hook_event=event)
        return Response.text(verdict.status, message)


def _not_found() -> Response:
    return Response.text(404, "not found")


def make_handler(endpoints: Endpoints, *, status: bool, webhook: bool) -> Routes:
    return Routes(endpoints, status=status, webhook=webhook)


class HttpServer:
    """One listening socket, served by its own event loop thread; port 0 picks a free port.

    The socket is bound here, so a busy port fails the daemon at start, and
    `address` is the bound host:port.
    """

    def __init__(self, address: Address, routes: Routes, limits: Limits | None = None) -> None:
        self.routes = routes
        self.limits = limits or Limits()
        family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
        self._sock = socket.create_server((address.host, address.port), family=family,
                                          backlog=self.limits.backlog)
        host, port = self._sock.getsockname()[:2]
        self.address = f"{host!s}:{port}"
        self._loop = asyncio.new_event_loop()
        self._loop.set_exception_handler(_log_loop_error)
        self._stopping = asyncio.Event()  # bound to the loop at first use, on its thread
        self._serving = threading.Event()
        self._reading: dict[asyncio.WriteTransport, float] = {}  # oldest first
        self._tasks: set[asyncio.Task[Any]] = set()
        self._refusals: Counter[str] = Counter()
        self._report_due = False
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"http-{port}")

    def start(self) -> None:
        self._thread.start()
        self._serving.wait(5)

    def stop(self) -> None:
        """Close the listener and every connection; answers being written get a second."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(5)
        elif not self._loop.is_closed():  # never started
            self._sock.close()
            self._loop.close()

    # -- the loop ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except Exception as err:  # the listener must never die with a raw traceback
            log.error("http listener failed", address=self.address, error=repr(err))
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        # asyncio takes one number for the kernel's queue and for how many connections it
        # accepts in one turn; the second is kept small, then the queue is set long again.
        server = await asyncio.start_server(
            self._connection, sock=self._sock, limit=self.limits.max_line_bytes,
            backlog=self.limits.accept_batch)
        self._sock.listen(self.limits.backlog)
        self._serving.set()
        await self._stopping.wait()
        # Accept no more, let the connections already accepted reach _connection (which
        # turns them away), then close: asyncio would fail to set up a connection accepted
        # just before the close and leave its socket open, unanswered.
        self._loop.remove_reader(self._sock.fileno())
        for transport in list(self._reading):
            transport.abort()
        await asyncio.sleep(0.05)
        server.close()  # the kernel resets whatever is still queued
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=STOP_GRACE_SECONDS)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=0.5)

    # -- one connection ---------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        """One request, one answer, close; a failure ends as one log line at most."""
        if self._stopping.is_set():
            writer.transport.abort()
            return
        if hasattr(writer.transport, "max_size"):  # the selector transport's recv() size
            writer.transport.max_size = self.limits.read_chunk
        if not self._admit(writer.transport):
            self._refused("connection limit")
            writer.write(OVERLOADED.encode())
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._exchange(reader, writer)
        except (OSError, asyncio.IncompleteReadError):
            pass  # the client left, or would not read its answer in time: nobody to tell
        except Exception as err:
            log.error("http request failed", error=repr(err))
        finally:
            self._reading.pop(writer.transport, None)
            writer.transport.abort()
            self.limits.connections.give()
            self._tasks.discard(task)

    def _admit(self, transport: asyncio.WriteTransport) -> bool:
        """Take a connection slot; when none is free, evict the oldest slow reader."""
        if self.limits.connections.take():
            return True
        oldest = next(iter(self._reading.items()), None)
        if oldest is None or self._loop.time() - oldest[1] < self.limits.evict_after:
            return False
        del self._reading[oldest[0]]
        oldest[0].abort()  # its task gives its slot back; meanwhile we run one over
        self._refused("evicted slow request")
        return self.limits.connections.take(force=True)

    async def _exchange(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        self._reading[writer.transport] = self._loop.time()
        head_only = linger = False
        try:
            async with asyncio.timeout(self.limits.request_deadline):
                request = await read_head(reader, self.limits.max_head_bytes)
                head_only = request.method == "HEAD"
                if self.routes.takes_body(request):
                    linger = True  # an answer before the body is read leaves it unread
                    response = await self._read_body_then_answer(request, reader, writer)
                    linger = response is OVERLOADED
                else:
                    response = self.routes.answer(request)
        except BadRequest as err:
            response = Response.text(err.status, err.message)
        except TimeoutError:
            self._refused("request deadline")
            response, linger = Response.text(408, "request took too long"), False
        self._reading.pop(writer.transport, None)
        await self._send(reader, writer, response, head_only=head_only, linger=linger)

    async def _read_body_then_answer(self, request: Request, reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter) -> Response:
        """Check the announced size, reserve that much of the body budget, read, answer."""
        length = content_length(request.headers, self.limits.max_body)
        if not self.limits.body_bytes.take(length):
            self._refused("body memory")
            return OVERLOADED
        try:
            if request.headers.get("expect", "").lower() == "100-continue":
                writer.write(CONTINUE)
            request.body = await read_body(reader, length)
            self._reading.pop(writer.transport, None)
            return self.routes.answer(request)
        finally:
            self.limits.body_bytes.give(length)

    async def _send(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    response: Response, *, head_only: bool, linger: bool) -> None:
        """Write the answer and close; after an early answer, drain what the client still sends.

        Closing a socket with unread input resets it, and the client may lose the
        answer with the reset: a 413 or 503 would read as a network error.
        """
        async with asyncio.timeout(self.limits.response_deadline):
            writer.write(response.encode(head_only=head_only))
            await writer.drain()
            if linger and writer.can_write_eof():
                writer.write_eof()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.limits.linger):
                        while await reader.read(64 * 1024):
                            pass
            writer.close()
            await writer.wait_closed()

    # -- reporting --------------------------------------------------------------------

    def _refused(self, reason: str) -> None:
        """Log refusals: the first at once, then one summary line per period."""
        self._refusals[reason] += 1
        if not self._report_due:
            self._report()

    def _report(self) -> None:
        if not self._refusals:
            self._report_due = False
            return
        log.warning("http requests refused", address=self.address,
                    counts=dict(self._refusals), limits=self._limits_summary())
        self._refusals.clear()
        self._report_due = True
        self._loop.call_later(REPORT_EVERY_SECONDS, self._report)

    def _limits_summary(self) -> dict[str, float]:
        return {"connections": self.limits.max_connections,
                "request_deadline_seconds": self.limits.request_deadline,
                "body_bytes_in_flight": self.limits.body_bytes_in_flight}


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's own errors (a failed accept, a broken socket) as one JSON line, no trace."""
    err = context.get("exception")
    log.warning("http event loop error", message=context.get("message"),
                error=repr(err) if err is not None else None)
