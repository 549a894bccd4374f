"""`gitops run`: wire settings, reconciler, scheduler and HTTP together; stop on SIGTERM.

SIGTERM sets a stop flag that apply checks between writes, waits for the run
in flight, and exits 0: ECS allows 30 s, we aim for well under 25.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from types import FrameType

import structlog

from controller import logs, metrics
from controller.daemon.http import Endpoints, HttpServer, Routes, make_handler
from controller.daemon.httplimits import Limits
from controller.daemon.reconciler import Reconciler
from controller.daemon.scheduler import ReconcileScheduler
from controller.daemon.settings import Address, Settings, SettingsError, load_settings
from controller.engine.shutdown import Shutdown
from controller.source.gitcmd import CHILDREN
from controller.version import package_version

log = structlog.get_logger("controller.daemon")

# ECS stops a task 30 s after SIGTERM: a write in flight gets 20 s to finish, then the run
# 2 s more to record it; everything is abandoned after that.
WRITE_DEADLINE = 20.0
RUN_GRACE = 2.0


class CannotListen(Exception):
    """A listen address is taken or not allowed; the message names it and its variable."""


def _listen(variable: str, address: Address, routes: Routes, limits: Limits) -> HttpServer:
    try:
        return HttpServer(address, routes, limits)
    except OSError as err:
        raise CannotListen(f"cannot listen on {address} ({variable}): "
                           f"{(err.strerror or str(err)).lower()}") from None


class Daemon:
    """The whole service, startable in-process (the demo) or as `gitops run`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.shutdown = Shutdown()
        self.reconciler = Reconciler(settings, self.shutdown)
        self.scheduler = ReconcileScheduler(self.reconciler.run_once, settings.interval_seconds)
        self.reconciler.on_lease_taken = self._lease_taken
        endpoints = Endpoints(ready=self.ready, trigger=self.scheduler.trigger,
                              webhook_secret=settings.webhook_secret,
                              tracked_ref=settings.ref)
        split = settings.webhook_listen is not None
        limits = Limits.for_process()  # raises the soft open-file limit; both listeners share it
        self.servers = [_listen("GITOPS_LISTEN", settings.listen,
                                make_handler(endpoints, status=True, webhook=not split), limits)]
        if settings.webhook_listen is not None:
            self.servers.append(_listen("GITOPS_WEBHOOK_LISTEN", settings.webhook_listen,
                                        make_handler(endpoints, status=False, webhook=True),
                                        limits))

    @property
    def address(self) -> str:
        return self.servers[0].address

    @property
    def webhook_address(self) -> str:
        return self.servers[-1].address

    def _lease_taken(self) -> None:
        """This replica became the stack's writer between runs: run now, not at the next
        interval (the one before it may have died mid-apply)."""
        log.info("took over the stack's lease: running now")
        self.scheduler.trigger()

    def ready(self) -> bool:
        """A revision is loaded and the last successful run is within three intervals."""
        last = self.reconciler.last_success
        return (self.reconciler.in_force is not None and last is not None
                and time.time() - last <= 3 * self.settings.interval_seconds)

    def start(self) -> None:
        metrics.BUILD_INFO.labels(version=package_version()).set(1)
        metrics.RECONCILE_INTERVAL.set(self.settings.interval_seconds)
        for server in self.servers:
            server.start()
        log.info("listening", address=self.address, webhook=(
            self.webhook_address if self.settings.webhook_secret else "off"),
            settings=repr(self.settings))
        self.scheduler.start()

    def stop(self) -> bool:
        """No new run, no new write; the write in flight finishes, within WRITE_DEADLINE.

        A git fetch writes nothing: it is ended at once. A run that is only reading
        is abandoned after RUN_GRACE (an AWS call may hang for minutes). Returns
        whether the run in flight ended; if not, the caller exits without it.
        """
        started = time.monotonic()
        self.shutdown.request()
        fetches = CHILDREN.kill_all()
        writing = self.shutdown.wait_for_writes(WRITE_DEADLINE)
        ended = self.scheduler.shutdown(RUN_GRACE)
        self.reconciler.close()
        for server in self.servers:
            server.stop()
        if writing:
            log.warning("shutdown: abandoning writes that outlived the deadline",
                        ids=writing, deadline_seconds=WRITE_DEADLINE)
        elif not ended:
            log.warning("shutdown: abandoning the run in flight: it was reading, no write "
                        "was in progress", grace_seconds=RUN_GRACE)
        log.info("stopped", seconds=round(time.monotonic() - started, 2),
                 git_processes_ended=fetches, run_ended=ended)
        return ended


def run_daemon() -> int:
    logs.configure(json=True)
    try:
        settings = load_settings()
    except SettingsError as err:
        log.error("bad setting: the daemon did not start", error=str(err))
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        daemon = Daemon(settings)
    except CannotListen as err:
        log.error("the daemon did not start", error=str(err))
        print(f"error: {err}", file=sys.stderr)
        return 1
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("shutting down", signal=signal.Signals(signum).name)
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.start()
    done.wait()
    if not daemon.stop():
        # The abandoned run's thread would hold the interpreter's exit (thread pools are
        # joined at exit): leave now, with the logs written.
        sys.stderr.flush()
        os._exit(0)
    return 0
