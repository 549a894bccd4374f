"""The HTTP listener in-process, with limits small enough to reach in a fraction of a second.

The end-to-end reproductions (tests/e2e/test_http_limits.py) use the real
limits against the daemon process; these check each limit's edge: what is
refused, what gives way at the cap, and that every budget is given back.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from controller.daemon.http import Endpoints, HttpServer, make_handler
from controller.daemon.httplimits import Limits, connection_cap
from controller.daemon.httpwire import BadRequest, content_length
from controller.daemon.settings import Address
from tests import httpclients as hc
from tests.daemonproc import wait_for

SECRET = "hook-secret"


class Served:
    def __init__(self, server: HttpServer, triggers: list[str]) -> None:
        self.server, self.triggers = server, triggers
        self.url = "http://" + server.address
        self.limits = server.limits


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    limits: Limits = getattr(request, "param", None) or Limits(
        max_connections=8, request_deadline=0.6, evict_after=0.3, linger=0.3,
        body_bytes_in_flight=2 * 1024 * 1024)
    triggers: list[str] = []

    def trigger() -> str:
        triggers.append("run")
        return "started"

    endpoints = Endpoints(ready=lambda: True, trigger=trigger, webhook_secret=SECRET,
                          tracked_ref="main")
    server = HttpServer(Address("127.0.0.1", 0),
                        make_handler(endpoints, status=True, webhook=True), limits)
    server.start()
    yield Served(server, triggers)
    server.stop()


def delivery(*, form: bool = False) -> bytes:
    body, headers = hc.github_delivery(hc.github_push("refs/heads/main"), SECRET, form=form)
    return hc.request("POST", "/webhook", headers, body)


def settled(limits: Limits) -> bool:
    """Every connection slot and body byte has been given back."""
    return wait_for(lambda: limits.connections.used == 0 and limits.body_bytes.used == 0,
                    3, every=0.02, what="every budget given back")


def test_routes_and_status_codes(served: Served) -> None:
    url = served.url
    assert hc.send_one(url, hc.request("GET", "/healthz")) == 200
    assert hc.send_one(url, hc.request("HEAD", "/healthz")) == 200
    assert hc.send_one(url, hc.request("GET", "/readyz")) == 200
    assert hc.send_one(url, hc.request("GET", "/metrics?x=1")) == 200
    assert hc.send_one(url, hc.request("GET", "/webhook")) == 404
    assert hc.send_one(url, hc.request("POST", "/healthz", body=b"")) == 404
    assert hc.send_one(url, hc.request("DELETE", "/healthz")) == 501
    assert hc.send_one(url, b"NONSENSE\r\n\r\n") == 400
    assert hc.send_one(url, hc.request("GET", "/healthz", {"X-Big": "x" * 20000})) == 431
    assert hc.send_one(url, delivery()) == 202
    assert hc.send_one(url, delivery(form=True)) == 202
    assert served.triggers == ["run", "run"]
    assert settled(served.limits)


def test_every_answer_closes_its_connection(served: Served) -> None:
    with socket.create_connection(hc.host_port(served.url), timeout=2) as sock:
        sock.sendall(hc.request("GET", "/healthz").replace(b"Connection: close",
                                                           b"Connection: keep-alive"))
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in answer and answer.endswith(b"ok\n")


def test_a_request_that_does_not_arrive_in_time_gets_408(served: Served) -> None:
    with socket.create_connection(hc.host_port(served.url), timeout=2) as sock:
        sock.sendall(hc.request("POST", "/webhook", {"X-Hub-Signature-256": "sha256=0"},
                                length=100) + b"{")
        started = time.monotonic()
        assert hc.status_of(sock, 2) == 408
    assert time.monotonic() - started < served.limits.request_deadline + 0.3
    assert settled(served.limits)


def test_at_the_cap_a_fresh_flood_is_refused_but_a_slow_reader_gives_way(
        served: Served) -> None:
    held = hc.hold_half_sent(served.url, served.limits.max_connections)
    try:
        time.sleep(0.05)
        with socket.create_connection(hc.host_port(served.url), timeout=2) as sock:
            sock.sendall(hc.request("GET", "/healthz"))
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503 ") and b"\r\nRetry-After: 1\r\n" in answer
        time.sleep(served.limits.evict_after + 0.05)
        status, seconds = hc.timed_get(served.url, "/healthz")
        assert status == 200 and seconds < 0.2
        assert hc.closed_by_server(held[:1], within=0.1) == 1, "the oldest gave way"
    finally:
        hc.close_all(held)
    assert settled(served.limits)


def test_bodies_beyond_the_memory_budget_are_refused_at_once(served: Served) -> None:
    _, headers = hc.github_delivery(hc.github_push("refs/heads/main"), SECRET, form=False)
    bodies = hc.hold_bodies(served.url, 4, hc.MIB, headers, within=2)
    try:
        assert (bodies.held, bodies.refused) == (2, 2)  # 2 MiB of budget, 1 MiB each
        assert served.limits.body_bytes.used == 2 * hc.MIB
        assert hc.send_one(served.url, delivery()) == 503
    finally:
        hc.close_all(bodies.socks)
    assert settled(served.limits)
    assert hc.send_one(served.url, delivery()) == 202


def test_stop_is_prompt_and_closes_the_listening_socket(served: Served) -> None:
    held = hc.hold_half_sent(served.url, 5)
    started = time.monotonic()
    served.server.stop()
    assert time.monotonic() - started < 1.0, "held connections must not delay a SIGTERM"
    assert hc.closed_by_server(held, within=0.5) == 5
    hc.close_all(held)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(hc.host_port(served.url), timeout=1).close()


def test_the_connection_cap_leaves_descriptors_for_reconcile_runs() -> None:
    assert connection_cap(1024) == 512
    assert connection_cap(512) == 256
    assert connection_cap(100) == 16  # a floor: health checks and scrapes still fit
    assert connection_cap(1_048_576) == 512


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 411),
    ({"transfer-encoding": "chunked"}, 411),  # never read: no request smuggling through it
    ({"transfer-encoding": "chunked", "content-length": "5"}, 411),
    ({"content-length": "+5"}, 400),
    ({"content-length": "-1"}, 400),
    ({"content-length": "5, 6"}, 400),
    ({"content-length": "1" * 30}, 400),
    ({"content-length": str(1024 * 1024 + 1)}, 413),
])
def test_a_body_is_read_only_with_one_plain_content_length_within_the_limit(
        headers: dict[str, str], status: int) -> None:
    with pytest.raises(BadRequest) as refused:
        content_length(headers, 1024 * 1024)
    assert refused.value.status == status


def test_a_repeated_equal_content_length_is_one() -> None:
    assert content_length({"content-length": "5, 5"}, 10) == 5
