"""A write that keeps failing is tried less and less often by the daemon.

A 500 that will not heal, an access-denied, a quota: each run would send the same
failing write again, every interval, for as long as it lasts (each with botocore's own
retries). After the second failure in a row the daemon waits before trying again, twice
as long after each further failure, at most MAX_SECONDS; the change stays in the plan,
held, saying when it is tried next and why. A change in git to the resource (or to what
it references) tries at once; so does a person's `gitops apply`, which never backs off.
Kind-agnostic, in memory, per resource; the rest of the stack is written as usual.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog

from controller.engine.changeset import Change, ChangeSet
from controller.engine.holds import git_state
from controller.engine.observe import Node

log = structlog.get_logger("controller.engine.backoff")

FIRST_SECONDS = 30.0  # the wait after the second failure in a row
MAX_SECONDS = 900.0


@dataclass
class Failing:
    failures: int
    error: str
    git_state: str
    retry_at: float


class WriteBackoff:
    """The daemon's record of writes that failed in a row, per (stack, resource)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failing: dict[tuple[str, str], Failing] = {}
        self._lock = threading.Lock()

    def hold_rule(self, change: Change, node: Node, nodes: Mapping[str, Node]) -> str | None:
        """Hold a write whose last attempts failed, until its wait is over or git changes."""
        if node.desired is None:
            return None
        key = (node.desired.stack, node.id)
        with self._lock:
            failing = self._failing.get(key)
            if failing is None:
                return None
            if failing.git_state != git_state(node, nodes):
                del self._failing[key]  # git changed it: try the new state at once
                return None
            wait = failing.retry_at - self._clock()
            if wait <= 0:
                return None
        return (f"held: its write failed {failing.failures} times in a row (last: "
                f"{failing.error}); tried again in {wait:.0f} s, at once if git changes it, "
                "or by `gitops apply`")

    def record(self, changes: ChangeSet, nodes: Mapping[str, Node]) -> None:
        """After a run's apply: count each failed write, forget each that succeeded."""
        now = self._clock()
        with self._lock:
            for change in changes.changes:
                node = nodes.get(change.id)
                if node is None or node.desired is None:
                    continue
                key = (node.desired.stack, node.id)
                if change.result == "success":
                    self._failing.pop(key, None)
                elif change.result == "error" and change.action != "error":
                    self._failed(key, change, git_state(node, nodes), now)

    def _failed(self, key: tuple[str, str], change: Change, state: str, now: float) -> None:
        previous = self._failing.get(key)
        failures = previous.failures + 1 if previous and previous.git_state == state else 1
        wait = 0.0 if failures == 1 else min(MAX_SECONDS, FIRST_SECONDS * 2 ** (failures - 2))
        self._failing[key] = Failing(failures, change.error or "unknown", state, now + wait)
        if wait:
            log.warning("write failing repeatedly: backing off", id=change.id,
                        failures=failures, wait_seconds=wait, error=change.error)
