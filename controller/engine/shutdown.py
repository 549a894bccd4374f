"""Stopping between writes: a write in flight finishes, nothing after it starts.

Why the engine knows about writes in flight: a shutdown may abandon a run that is
only reading (nothing in AWS depends on it, and an AWS or git call may hang far
longer than ECS's 30 s), but it must never cut a write in half. So apply marks
each write, and the daemon waits for those marks alone, with a deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Shutdown:
    """Asked for once (by a signal); read by apply between writes."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        self._idle = threading.Condition()
        self._writing: set[str] = set()

    def request(self) -> None:
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()

    @contextmanager
    def writing(self, resource_id: str) -> Iterator[None]:
        """Marks one write (and its re-read) as in flight."""
        with self._idle:
            self._writing.add(resource_id)
        try:
            yield
        finally:
            with self._idle:
                self._writing.discard(resource_id)
                self._idle.notify_all()

    def wait_for_writes(self, timeout: float) -> list[str]:
        """Wait until no write is in flight, at most `timeout` s; the writes still going."""
        with self._idle:
            self._idle.wait_for(lambda: not self._writing, timeout=timeout)
            return sorted(self._writing)
