"""How much the daemon's HTTP listeners may hold, and the shared budgets that enforce it.

Descriptors and memory belong to the process, so both listeners (the main one
and the optional webhook one) draw from one `Limits`. Whatever clients do, a
reserve of descriptors stays for the reconcile runs (boto3 sockets, git's pipes).
"""

from __future__ import annotations

import contextlib
import resource
import threading
from dataclasses import dataclass, field

from controller.daemon.webhook import MAX_BODY

# Each number, and why.
REQUEST_DEADLINE_SECONDS = 5.0    # line, headers and body in all: clients take ms; drips are cut
RESPONSE_DEADLINE_SECONDS = 10.0  # a client that will not read its answer gives the socket back
MAX_HEAD_BYTES = 16 * 1024        # request line plus headers: GitHub's are under 2 kB
MAX_LINE_BYTES = 8 * 1024         # one header line, as Apache allows; also the reader's buffer step
READ_CHUNK = 16 * 1024            # one recv(): at asyncio's 256 kB each client could park that much
MAX_CONNECTIONS = 512             # 2.5x a 200-delivery burst; each holds at most ~40 kB of input
MIN_CONNECTIONS = 16              # a floor for hosts with very few descriptors: scrapes still fit
FDS_KEPT_FOR_RUNS = 256           # boto3 pools (10 sockets per client), git pipes, files
BODY_BYTES_IN_FLIGHT = 16 * MAX_BODY  # 16 maximal bodies at once; 200 real pushes need ~2 MB
LISTEN_BACKLOG = 1024             # a burst of hundreds connects at once (kernel clips to somaxconn)
ACCEPT_BATCH = 64                 # accepted per loop turn before any is refused: within the reserve
EVICT_AFTER_SECONDS = 1.0         # at the cap, a request unread this long yields its slot
LINGER_SECONDS = 1.0              # after an early answer, discard what the client still sends
NOFILE_WHEN_UNLIMITED = 65536     # the soft limit to take when the hard one is "unlimited"


class Budget:
    """A count both listeners draw from; their event loops run on different threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self._lock = threading.Lock()

    def take(self, amount: int = 1, *, force: bool = False) -> bool:
        """Take `amount` if it fits (or regardless, with `force`); False if it does not fit."""
        with self._lock:
            if not force and self.used + amount > self.capacity:
                return False
            self.used += amount
            return True

    def give(self, amount: int = 1) -> None:
        with self._lock:
            self.used -= amount


@dataclass
class Limits:
    """The numbers above, overridable for tests, with the budgets they size."""

    request_deadline: float = REQUEST_DEADLINE_SECONDS
    response_deadline: float = RESPONSE_DEADLINE_SECONDS
    max_head_bytes: int = MAX_HEAD_BYTES
    max_line_bytes: int = MAX_LINE_BYTES
    read_chunk: int = READ_CHUNK
    max_body: int = MAX_BODY
    max_connections: int = MAX_CONNECTIONS
    body_bytes_in_flight: int = BODY_BYTES_IN_FLIGHT
    backlog: int = LISTEN_BACKLOG
    accept_batch: int = ACCEPT_BATCH
    evict_after: float = EVICT_AFTER_SECONDS
    linger: float = LINGER_SECONDS
    connections: Budget = field(init=False, repr=False)
    body_bytes: Budget = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.connections = Budget(self.max_connections)
        self.body_bytes = Budget(self.body_bytes_in_flight)

    @classmethod
    def for_process(cls) -> Limits:
        """Raise the soft open-file limit, then fit the connection cap under it.

        Container runtimes often start a process at a soft limit of 1024 with a
        far higher hard limit; a daemon holding client sockets should use it.
        """
        return cls(max_connections=connection_cap(raise_open_file_limit()))


def connection_cap(open_files: int) -> int:
    """How many client connections fit beside the descriptors kept for reconcile runs."""
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, open_files - FDS_KEPT_FOR_RUNS))


def raise_open_file_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard one; the soft limit in force afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = NOFILE_WHEN_UNLIMITED if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):  # else keep it: the cap fits either
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return NOFILE_WHEN_UNLIMITED if soft == resource.RLIM_INFINITY else soft
