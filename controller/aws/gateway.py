"""Builds every boto3 client: retries, endpoint, region and API-call counting.

One gateway per run (or per daemon) so that the call counter answers "how many
calls did this plan make" and tests can attach botocore event hooks to inject
faults without patching any driver.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError
from botocore.loaders import Loader, create_loader

from controller import metrics
from controller.aws.errors import THROTTLE_CODES
from controller.aws.operations import is_read, repeat_makes_another

EventHook = tuple[str, Callable[..., Any]]
# Called with (service, operation) before every write; raises to stop the write (the
# stack's lease is no longer this process's).
WriteGuard = Callable[[str, str], None]
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 15.0
# botocore's service models and endpoint data, parsed once per process: a session of its
# own re-reads them, about 50 ms per client, which made a daemon run's clients cost more
# than its plan's AWS calls. Loaded models are read-only.
_MODELS: Loader = create_loader()


class AwsGateway:
    """Thread-safe client factory with a per-gateway call counter."""

    def __init__(self, region: str, hooks: list[EventHook] | None = None) -> None:
        self.region = region
        self._session = boto3.session.Session(region_name=region)
        self._session._session.register_component("data_loader", _MODELS)
        events = self._session._session.get_component("event_emitter")
        events.register("before-call.*.*", self._count_call)
        events.register("after-call.*.*", self._count_error)
        events.register("after-call-error.*.*", self._count_exception)
        # More specific than botocore's own `needs-retry.<service>` handler, so asked first;
        # its False is final.
        events.register("needs-retry.*.*", _no_blind_repeat)
        events.register("before-call.*.*", self._guard_write)
        for event, handler in hooks or []:
            events.register(event, handler)
        self._clients: dict[str, Any] = {}
        # botocore's event names say `elastic-load-balancing-v2`; the metrics say `elbv2`
        self._service_names: dict[str, str] = {}
        self.write_guard: WriteGuard | None = None
        self._lock = threading.Lock()
        self.calls: Counter[tuple[str, str]] = Counter()
        # the account STS named for these credentials, once the account guard asked
        self.account: str | None = None
        self.started = time.monotonic()
        self._config = Config(
            region_name=region,
            # Throttling and 5xx are retried with jittered back-off; AWS_MAX_ATTEMPTS, the
            # standard AWS setting, may change how often. Standard mode, as AWS's SDK guide
            # recommends (feature-retry-behavior): adaptive mode rate-limits a whole client
            # when one resource is throttled, and one client here serves every resource
            # of its service, so a throttled queue would slow every unrelated read.
            retries={"mode": "standard",
                     "total_max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)},
            max_pool_connections=32,
            # Control-plane calls answer in well under a second; a hung connection must not
            # hold a run (or a shutdown) for botocore's default 60 s per attempt.
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
        )

    def client(self, service: str) -> Any:
        """The one client of `service` for this gateway (boto3 clients are thread-safe)."""
        with self._lock:
            if service not in self._clients:
                client = self._session.client(service, config=self._config)  # type: ignore[call-overload]
                self._clients[service] = client
                self._service_names[client.meta.service_model.service_id.hyphenize()] = service
            return self._clients[service]

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    def _count_call(self, model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        op = model.name
        with self._lock:
            self.calls[(service, op)] += 1
        metrics.AWS_API_CALLS.labels(service=service, operation=op).inc()

    def _count_exception(self, exception: Exception, event_name: str, **_: Any) -> None:
        """A call that ended without an answer (a timeout, a dropped connection, after
        botocore's retries) is a failed call too; its code is what happened."""
        if isinstance(exception, ClientError):
            return  # an answer: counted by _count_error
        service_id, operation = event_name.split(".", 2)[1:]
        metrics.AWS_API_ERRORS.labels(service=self._service_names.get(service_id, service_id),
                                      operation=operation,
                                      code=type(exception).__name__).inc()

    def _guard_write(self, model: Any, **_: Any) -> None:
        if self.write_guard is not None and not is_read(model.name):
            self.write_guard(model.service_model.service_name, model.name)

    def _count_error(
        self, http_response: Any, parsed: dict[str, Any], model: Any, **_: Any
    ) -> None:
        if getattr(http_response, "status_code", 200) < 300:
            return
        code = str(parsed.get("Error", {}).get("Code", http_response.status_code))
        metrics.AWS_API_ERRORS.labels(
            service=model.service_model.service_name, operation=model.name, code=code
        ).inc()


def _no_blind_repeat(operation: Any, response: Any = None, caught_exception: Any = None,
                     **_: Any) -> bool | None:
    """A create AWS cannot tell from a repeat is not retried once AWS may have done it: a
    CreateVpc answered by a 500 (or a dropped connection) after it succeeded, sent again,
    made a second VPC with the same gitops:id. The run reports the error; the next run
    finds the resource by its identity before creating anything. Throttling and a
    connection never made are retried as usual: AWS did nothing."""
    if not repeat_makes_another(operation):
        return None
    if isinstance(caught_exception, (ConnectionClosedError, ReadTimeoutError)):
        return False
    if response is not None and caught_exception is None:
        http, parsed = response
        code = (parsed or {}).get("Error", {}).get("Code")
        if http.status_code >= 500 and code not in THROTTLE_CODES:
            return False
    return None
