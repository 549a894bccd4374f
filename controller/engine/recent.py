"""Creates this machine sent in the last minutes, per stack: a resource AWS does not list
yet is waited for, never made a second time.

AWS's reads are eventually consistent (EC2's describes and the tagging API most of all):
a VPC made a second ago may be missing from the next run's listing, and a plan that
believed it would create a twin, which no name stops for EC2. So the engine notes each
create it sent (done, or maybe done: the answer lost), and a later plan that does not
find the resource holds its create, saying so, until AWS lists it or WINDOW_SECONDS
pass (then it is truly gone, or was never made, and is made again). Only resources
found by their tags (EC2's, a distribution...): AWS refuses a second of the same name.
The note is a small JSON file in the cache folder, written under the stack's write lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from controller.cachedir import cache_folder

# AWS: EC2's reads catch up "typically within seconds"; two minutes covers that many
# times over, and a resource deleted by hand right after its create (or a create whose
# lost answer hid a failure) waits no longer than that to be made again.
WINDOW_SECONDS = 120.0
MAX_BYTES = 1 << 20  # a note per resource of a stack: never more than this to read


class RecentCreates:
    """The creates of one stack sent from this machine within WINDOW_SECONDS."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self._clock = path, clock
        self._sent = self._read()
        self._changed = False
        self._lock = threading.RLock()  # apply writes several resources at once

    @classmethod
    def of(cls, stack: str, account: str) -> RecentCreates:
        """The notes of a stack in an account, at the AWS endpoint in use (an emulator's
        account is not AWS's, nor another emulator's)."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        where = f"-{hashlib.sha256(endpoint.encode()).hexdigest()[:8]}" if endpoint else ""
        return cls(cache_folder("created") / f"{account}-{stack}{where}.json")

    def sent(self, rid: str) -> None:
        """A create of `rid` reached AWS (or may have): remember it now."""
        with self._lock:
            self._sent[rid] = self._clock()
            self._changed = True
            self.save()

    def seen(self, rid: str) -> None:
        """AWS lists it: nothing to wait for any more."""
        with self._lock:
            if self._sent.pop(rid, None) is not None:
                self._changed = True

    def unlisted_for(self, rid: str) -> float | None:
        """Seconds since its create was sent, while AWS may still be catching up."""
        sent = self._sent.get(rid)
        if sent is None:
            return None
        age = self._clock() - sent
        return age if 0 <= age < WINDOW_SECONDS else None

    def save(self) -> None:
        with self._lock:
            self._save()

    def _save(self) -> None:
        if not self._changed:
            return
        now = self._clock()
        live = {rid: at for rid, at in self._sent.items() if now - at < WINDOW_SECONDS}
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        with contextlib.suppress(OSError):  # a read-only cache only loses the protection
            temporary.write_text(json.dumps(live), encoding="utf-8")
            temporary.replace(self.path)
            self._changed = False

    def _read(self) -> dict[str, float]:
        try:
            with self.path.open("rb") as handle:
                raw = json.loads(handle.read(MAX_BYTES))
        except (OSError, ValueError, RecursionError):  # none yet, or not a note of ours
            return {}
        if not isinstance(raw, dict):
            return {}
        now = self._clock()
        return {str(rid): float(at) for rid, at in raw.items()
                if isinstance(at, (int, float)) and now - at < WINDOW_SECONDS}


def unlisted_reason(age: float) -> str:
    return (f"held: created by this controller {age:.0f} s ago and not listed by AWS yet "
            "(its reads are eventually consistent): creating it again could make a second "
            f"one. It is made again only if AWS still does not list it after "
            f"{WINDOW_SECONDS / 60:.0f} minutes")
