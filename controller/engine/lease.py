"""One writer per stack across machines: a lease in DynamoDB, for replicas of the daemon
(and the CLI beside them) that share no file system.

The holder renews it every third of its period; a replica that does not hold it plans
only (detect) and tries to take it every tenth of a period, so it takes over within a
period and a tenth after the holder dies. Before every write the holder extends the
lease on the condition that its owner and fencing number are still its own: a holder
that was paused or cut off past its expiry finds out there, and the write is not sent.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import structlog

from controller.aws.errors import AWS_ERRORS, describe_error
from controller.aws.gateway import AwsGateway
from controller.aws.leasetable import LeaseTable
from controller.engine.writer import StackLocked

log = structlog.get_logger("controller.lease")

DEFAULT_PERIOD = 30.0
PERIOD_RANGE = (3.0, 600.0)


class LeaseLost(Exception):
    """This process no longer holds the stack's lease: the write was not sent."""


class LeaseUnavailable(Exception):
    """The lease table cannot be used (missing, no permission): nothing was written."""


class Lease:
    """This process's claim on one stack's lease (thread-safe)."""

    def __init__(self, table: LeaseTable, stack: str, account: str, what: str,
                 period: float = DEFAULT_PERIOD, clock: Callable[[], float] = time.time) -> None:
        self.table, self.stack, self.what, self.period = table, stack, what, period
        self.key = f"{account}-{stack}"
        self.owner = uuid.uuid4().hex
        self.fence: int | None = None
        self._until = 0.0
        self._clock = clock
        self._lock = threading.Lock()

    @property
    def held(self) -> bool:
        with self._lock:
            return self.fence is not None and self._clock() < self._until

    def take(self) -> bool:
        """Hold it if it is free or expired (or already ours): whether we hold it now."""
        if self.held:
            return self.renew()
        now = self._clock()
        note = {"what": self.what, "host": socket.gethostname(), "pid": os.getpid()}
        fence = self.table.take(self.key, self.owner, now, self.period, note)
        with self._lock:
            self.fence, self._until = fence, (now + self.period if fence else 0.0)
        if fence is not None:
            log.info("holds the stack's lease", stack=self.stack, fence=fence,
                     period_seconds=self.period)
        return fence is not None

    def renew(self) -> bool:
        """Extend the lease we hold; False (and no longer held) when it is not ours."""
        with self._lock:
            fence = self.fence
        if fence is None:
            return False
        now = self._clock()
        if self.table.extend(self.key, self.owner, fence, now + self.period):
            with self._lock:
                self._until = now + self.period
            return True
        with self._lock:
            self.fence, self._until = None, 0.0
        log.warning("lost the stack's lease: another replica holds it", stack=self.stack,
                    fence=fence)
        return False

    def check(self, service: str, operation: str) -> None:
        """Before every write: still ours, under our fencing number? (one conditional
        write that also renews it). Raises LeaseLost, and the write is not sent."""
        try:
            if self.renew():
                return
        except AWS_ERRORS as err:
            raise LeaseLost(f"{operation} not sent: the stack's lease could not be confirmed "
                            f"({describe_error(err)}); the next run tries again") from None
        raise LeaseLost(f"{operation} not sent: this process no longer holds the stack's "
                        f"lease ({self.describe_holder()}); that writer carries on")

    def release(self) -> None:
        with self._lock:
            fence, self.fence, self._until = self.fence, None, 0.0
        if fence is not None:
            try:
                self.table.give_up(self.key, self.owner, fence)
            except AWS_ERRORS as err:  # it expires by itself within a period
                log.warning("could not release the stack's lease", error=describe_error(err))

    def describe_holder(self) -> str:
        """Who holds it, in a user's words."""
        try:
            holder = self.table.holder(self.key)
        except AWS_ERRORS as err:
            return f"unknown: {describe_error(err)}"
        if holder is None or holder.expires < self._clock():
            return "nobody (free)"
        if holder.owner == "?":
            return (f"an unknown writer (the item {self.key!r} of {self.table.table} was not "
                    "written by this controller: delete it to free the stack)")
        left = max(0.0, holder.expires - self._clock())
        return (f"{holder.what or 'a writer'} (pid {holder.pid} on {holder.host}, fencing "
                f"number {holder.fence}, expires in {left:.0f} s unless renewed)")


def open_lease(table: str, stack: str, account: str, region: str, what: str,
               period: float = DEFAULT_PERIOD) -> Lease:
    """A lease on `table` through a client of its own (its calls are never guarded)."""
    client = AwsGateway(region).client("dynamodb")
    return Lease(LeaseTable(client, table), stack, account, what, period)


class LeaseKeeper:
    """A thread that keeps the lease renewed while held and, when `contend`, tries to take
    it while not held, calling `on_taken` when it does (the daemon runs at once)."""

    def __init__(self, lease: Lease, contend: bool,
                 on_taken: Callable[[], None] | None = None) -> None:
        self.lease, self.contend, self.on_taken = lease, contend, on_taken
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, release: bool = True) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if release:
            self.lease.release()

    def _loop(self) -> None:
        while not self._stop.wait(self._pause()):
            try:
                if self.lease.held:
                    self.lease.renew()
                elif self.contend and self.lease.take() and self.on_taken is not None:
                    self.on_taken()
            except AWS_ERRORS as err:  # DynamoDB unreachable: the lease expires, safely
                log.warning("could not renew or take the stack's lease",
                            error=describe_error(err))

    def _pause(self) -> float:
        return self.lease.period / (3 if self.lease.held else 10)


@contextmanager
def holding(lease: Lease, timeout: float = 0.0) -> Iterator[Lease]:
    """The CLI's lease for one apply: taken (or StackLocked naming the holder after
    `timeout` seconds), renewed in the background, released at the end."""
    started = time.monotonic()
    while not _take(lease):
        waited = time.monotonic() - started
        if waited >= timeout:
            raise StackLocked(lease.stack, lease.describe_holder(), round(waited, 1))
        time.sleep(min(1.0, max(0.1, timeout - waited)))
    keeper = LeaseKeeper(lease, contend=False)
    keeper.start()
    try:
        yield lease
    finally:
        keeper.stop(release=True)


def _take(lease: Lease) -> bool:
    try:
        return lease.take()
    except AWS_ERRORS as err:
        raise LeaseUnavailable(
            f"the lease table {lease.table.table}: {describe_error(err)}: nothing was written "
            "(the table is made once per account: see deploy/README.md)") from None
