"""One writer per stack on a machine: a CLI apply and a daemon (or two CLIs) never plan
and write the same stack at once.

The lock is an exclusive `flock` on `<cache folder>/locks/<account>-<stack>.lock`, taken
before the plan an apply writes from (a plan made before another writer's writes would
undo them) and released after the last write. The kernel drops it when its process
dies, even by SIGKILL: a crashed writer never leaves the stack locked. The file says who
holds it (process, host, command, since when), so the one that waits can tell the user.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from controller.cachedir import cache_folder

POLL_SECONDS = 0.2
HOLDER_BYTES = 4096  # what a holder writes is one short JSON line; never read more


class StackLocked(Exception):
    """Another writer holds the stack: `holder` says who, in a user's words."""

    def __init__(self, stack: str, holder: str, waited: float) -> None:
        self.stack, self.holder = stack, holder
        waited_text = f" (waited {waited:g} s)" if waited else ""
        super().__init__(f"stack {stack} is being written by {holder}{waited_text}: nothing "
                         "was written; try again when it is done, or wait for it with "
                         "--lock-timeout SECONDS")


def lock_path(stack: str, account: str) -> Path:
    return cache_folder("locks") / f"{account}-{stack}.lock"


@contextlib.contextmanager
def one_writer(stack: str, account: str, what: str, timeout: float = 0.0) -> Iterator[None]:
    """Hold the stack's write lock for the block; StackLocked if another writer keeps it
    past `timeout` seconds."""
    path = lock_path(stack, account)
    with path.open("a+", encoding="utf-8") as handle:
        _acquire(handle, stack, timeout)
        try:
            _describe(handle, what)
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _acquire(handle: IO[str], stack: str, timeout: float) -> None:
    started = time.monotonic()
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            waited = time.monotonic() - started
            if waited >= timeout:
                raise StackLocked(stack, _holder(handle), round(waited, 1)) from None
            time.sleep(min(POLL_SECONDS, timeout - waited))


def _describe(handle: IO[str], what: str) -> None:
    handle.seek(0)
    handle.truncate(0)
    handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                             "since": datetime.now(UTC).isoformat(timespec="seconds")}))
    handle.flush()


def _holder(handle: IO[str]) -> str:
    """Who holds the lock, from what it wrote (a holder that has not written yet is
    'another process')."""
    handle.seek(0)
    try:
        held = json.loads(handle.read(HOLDER_BYTES) or "{}")
    except (ValueError, RecursionError):  # not a note of ours (deep nesting included)
        held = {}
    if not isinstance(held, dict) or not held:
        return "another process"
    return (f"{held.get('what', 'a writer')} (pid {held.get('pid')} on {held.get('host')}, "
            f"since {held.get('since')})")
