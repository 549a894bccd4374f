"""The daemon's HTTP listener under hostile and bursty clients, as a real process.

Loopback only, and each test bounded to a few seconds past the daemon's start.
The clients (tests/httpclients.py) are the ones benchmarks/http_limits.py
measures with, so the figures and these assertions cannot drift apart.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.daemon.httplimits import REQUEST_DEADLINE_SECONDS
from tests import httpclients as hc
from tests.conftest import AwsEnv, push_prod_images
from tests.daemonproc import DaemonProcess, commit_edit, wait_for
from tests.e2e.conftest import SECRET, STACK, Daemons
from tests.faultproxy import FaultProxy


@pytest.fixture
def proxy(applied_prod: AwsEnv) -> Iterator[FaultProxy]:
    """The daemons here reach the module's applied stack: their first run is a plan with
    nothing to change (the load is the HTTP clients', not an apply from empty)."""
    fault = FaultProxy(applied_prod.server.url)
    yield fault
    fault.stop()


def start(daemons: Daemons) -> DaemonProcess:
    return daemons.start()


def runs(daemon: DaemonProcess) -> float:
    return sum(daemon.runs(result) for result in ("success", "error", "invalid"))


def first_run(daemon: DaemonProcess) -> float:
    """Wait for the run the daemon starts with; its allocations and its runs are not ours."""
    return wait_for(lambda: runs(daemon), 60, what="the first run")


def settled_runs(daemon: DaemonProcess, quiet: float = 3.0, within: float = 15.0) -> float:
    """The number of runs once none has finished for `quiet` seconds."""
    deadline = time.monotonic() + within
    last, since = runs(daemon), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "runs kept finishing"
        time.sleep(0.25)
        now = runs(daemon)
        if now != last:
            last, since = now, time.monotonic()
    return last


def push(ref: str = "refs/heads/main", *, form: bool = False, after: str = "0" * 40) -> bytes:
    body, headers = hc.github_delivery(hc.github_push(ref, after), SECRET, form=form)
    return hc.request("POST", "/webhook", headers, body)


def test_healthz_answers_at_once_while_210_requests_are_held_half_sent(
        daemons: Daemons) -> None:
    daemon = start(daemons)
    dripped: list[float | None] = []
    drip = threading.Thread(target=lambda: dripped.append(
        hc.drip(daemon.url, every=1.0, within=REQUEST_DEADLINE_SECONDS + 4)))
    drip.start()
    held = hc.hold_half_sent(daemon.url, 210)
    try:
        assert len(held) == 210
        status, seconds = hc.timed_get(daemon.url, "/healthz", timeout=5)
        assert (status, seconds < 1.0) == (200, True), f"/healthz: {status} in {seconds:.2f} s"
        assert hc.timed_get(daemon.url, "/metrics", timeout=5)[0] == 200
        assert hc.send_one(daemon.url, push("refs/heads/feature"), timeout=5) == 202
        # One deadline for the whole request: the held ones are all cut off by it...
        assert hc.closed_by_server(held, within=REQUEST_DEADLINE_SECONDS + 2) == 210
    finally:
        hc.close_all(held)
    # ... and so is a client that sends a byte every second, however steadily.
    drip.join(REQUEST_DEADLINE_SECONDS + 6)
    assert dripped and dripped[0] is not None and dripped[0] < REQUEST_DEADLINE_SECONDS + 1.5


def test_memory_stays_bounded_while_284_one_mib_bodies_are_held_half_sent(
        daemons: Daemons) -> None:
    daemon = start(daemons)
    first_run(daemon)
    baseline = hc.rss_mib(daemon.proc.pid)
    _, headers = hc.github_delivery(hc.github_push("refs/heads/main"), SECRET, form=False)
    bodies = hc.hold_bodies(daemon.url, 284, hc.MIB, headers, within=8)
    try:
        grown = hc.rss_mib(daemon.proc.pid) - baseline
        status, seconds = hc.timed_get(daemon.url, "/healthz", timeout=5)
    finally:
        hc.close_all(bodies.socks)
    print(f"\n284 bodies: {bodies.held} held, {bodies.refused} refused, RSS +{grown:.0f} MiB")
    assert bodies.connect_failed == 0
    assert grown < 64, f"the daemon grew by {grown:.0f} MiB holding 1 MiB bodies"
    assert (status, seconds < 1.0) == (200, True)


def test_200_simultaneous_signed_deliveries_get_202_and_start_at_most_two_runs(
        daemons: Daemons) -> None:
    daemon = start(daemons)
    first_run(daemon)
    before = settled_runs(daemon, quiet=1.0)
    outcomes = hc.burst(daemon.url, [push()] * 200, timeout=10)
    assert collections.Counter(outcomes) == {202: 200}
    wait_for(lambda: runs(daemon) > before, 15, what="the run the deliveries started")
    after = settled_runs(daemon)
    assert after - before <= 2, f"200 deliveries started {after - before:.0f} runs"


def test_a_form_encoded_github_push_is_accepted_and_rolls_out(
        daemons: Daemons, repo: Path, applied_prod: AwsEnv) -> None:
    daemon = start(daemons)
    first_run(daemon)
    push_prod_images(applied_prod.client("ecr"), "1.5.0")
    sha = commit_edit(repo, "desired/prod/stack.yaml", 'api_image_tag: "1.4.2"',
                      'api_image_tag: "1.5.0"', "deploy api 1.5.0")
    assert hc.send_one(daemon.url, push(form=True, after=sha)) == 202
    wait_for(lambda: daemon.metric("gitops_revision_info", stack=STACK, revision=sha), 30,
             what="the pushed revision in force")  # the interval is an hour: the push did it
    logged = wait_for(lambda: daemon.find("webhook"), 5, what="the webhook log line")
    assert logged is not None and logged["message"].startswith("queued a reconcile run")


def test_clients_leaving_mid_request_leave_only_json_lines(daemons: Daemons) -> None:
    daemon = start(daemons)
    raw = push()
    head = raw.index(b"\r\n\r\n") + 4
    for keep, reset in ((20, False), (head + 100, False), (head + 100, True), (len(raw), True)):
        hc.cut_off(daemon.url, raw, keep, reset=reset)
    hc.cut_off(daemon.url, hc.request("GET", "/metrics"), 1000, reset=True)
    assert hc.send_one(daemon.url, hc.request("GET", "/healthz")) == 200
    time.sleep(0.5)
    not_json = []
    for line in list(daemon.raw):
        try:
            json.loads(line)
        except ValueError:
            not_json.append(line)
    assert not_json == []


def test_early_answers_reach_clients_that_keep_sending(daemons: Daemons) -> None:
    daemon = start(daemons)
    _, headers = hc.github_delivery(hc.github_push("refs/heads/main"), SECRET, form=False)
    assert hc.send_one(daemon.url, hc.request("POST", "/webhook", headers)) == 411
    # 2 MiB announced, and the client goes on sending (16 MiB) without reading: the 413
    # comes before the body is read, and still arrives instead of a reset.
    too_big = hc.request("POST", "/webhook", headers, b"x" * (16 * hc.MIB), length=2 * hc.MIB)
    assert hc.send_one(daemon.url, too_big) == 413
    assert hc.send_one(daemon.url, hc.request("GET", "/healthz")) == 200
