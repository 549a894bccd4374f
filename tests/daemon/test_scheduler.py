"""The trigger: never two runs at once, and a push during a run queues exactly one more."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from controller.daemon.scheduler import ReconcileScheduler
from tests.daemonproc import wait_for


def test_triggers_during_a_run_queue_exactly_one_follow_up() -> None:
    release = threading.Event()
    started: list[float] = []
    running = threading.Lock()
    overlapped: list[bool] = []

    def run() -> None:
        overlapped.append(not running.acquire(blocking=False))
        started.append(time.monotonic())
        if len(started) == 1:
            release.wait(10)  # the first run is long: pushes arrive meanwhile
        running.release()

    scheduler = ReconcileScheduler(run, interval_seconds=3600)
    scheduler.start()
    try:
        wait_for(lambda: len(started) == 1, 10, what="the first run")
        assert [scheduler.trigger() for _ in range(3)] == ["queued after the run in progress"] * 3
        release.set()
        wait_for(lambda: len(started) == 2, 10, what="the follow-up run")
        time.sleep(0.5)
        assert len(started) == 2, "three pushes during one run queue one follow-up, not three"
        assert scheduler.trigger() == "started"
        wait_for(lambda: len(started) == 3, 10, what="a triggered run when idle")
        assert not any(overlapped)
    finally:
        assert scheduler.shutdown(wait_seconds=10)


def test_a_run_longer_than_the_interval_is_not_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    """APScheduler warns at each slot a long run covers; the daemon's log stays quiet."""
    runs: list[float] = []

    def run() -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            time.sleep(2.5)  # covers at least one 1 s slot (jitter is at most 1 s)

    caplog.set_level(logging.WARNING)
    scheduler = ReconcileScheduler(run, interval_seconds=1)
    scheduler.start()
    try:
        wait_for(lambda: len(runs) >= 2, 10, what="the run after the long one")
    finally:
        assert scheduler.shutdown(wait_seconds=10)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")] == []
