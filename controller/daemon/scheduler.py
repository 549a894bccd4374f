"""The reconcile trigger: an APScheduler interval job plus "run now" from the webhook.

APScheduler gives us the interval, jitter, coalescing of missed runs and "never
two at once" (max_instances=1). What it does not give is "a push during a
run queues exactly one follow-up": with max_instances=1 it would drop that
trigger. So a trigger during a run sets a flag, and the run, when it ends,
brings the next run forward to now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = structlog.get_logger("controller.daemon")
JOB_ID = "reconcile"


class _OverlapIsExpected(logging.Filter):
    """A run longer than the interval makes APScheduler warn at every slot that falls inside
    it ("skipped: maximum number of running instances reached"). That is the design, not a
    fault: the run in progress reads everything anyway, and gitops_reconcile_duration_seconds
    shows how long runs take. Dropped so that warnings stay worth reading."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


logging.getLogger("apscheduler.scheduler").addFilter(_OverlapIsExpected())


class ReconcileScheduler:
    def __init__(self, run: Callable[[], object], interval_seconds: float) -> None:
        self._run = run
        self._lock = threading.Lock()
        self._running = False
        self._pending = False  # a run was asked for and has not started yet
        self._follow_up = False
        self._idle = threading.Event()  # set while no run is in progress
        self._idle.set()
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self.scheduler.add_job(
            self._job, IntervalTrigger(seconds=interval_seconds,
                                       jitter=max(1, int(interval_seconds * 0.1))),
            id=JOB_ID, max_instances=1, coalesce=True, misfire_grace_time=None,
            next_run_time=datetime.now(UTC))

    def start(self) -> None:
        self.scheduler.start()

    def trigger(self) -> str:
        """Run as soon as possible; during a run, queue exactly one run after it."""
        with self._lock:
            if self._running:
                self._follow_up = True
                return "queued after the run in progress"
            if self._pending:
                # Asked for and not started yet: it fetches after this push. Asking
                # APScheduler again would only be refused (max_instances=1).
                return "started"
            self._pending = True
        self._run_now()
        return "started"

    def _run_now(self) -> None:
        self.scheduler.modify_job(JOB_ID, next_run_time=datetime.now(UTC))

    def _job(self) -> None:
        with self._lock:
            self._running, self._pending = True, False
            self._idle.clear()
        try:
            self._run()
        except Exception:  # a run's failure is reported by the run; the loop goes on
            log.exception("reconcile run crashed")
        finally:
            with self._lock:
                self._running = False
                again, self._follow_up = self._follow_up, False
                self._idle.set()
                self._pending = again
            if again and self.scheduler.running:
                self._run_now()

    def shutdown(self, wait_seconds: float) -> bool:
        """Start no more runs; wait up to `wait_seconds` for the one in flight to end.

        False if it is still going: the caller decides whether to abandon it.
        """
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        return self._idle.wait(wait_seconds)
