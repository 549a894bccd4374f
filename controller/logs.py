"""structlog set-up in one place: readable text for the CLI, JSON for the daemon.

Logs always go to stderr so that machine output on stdout stays parseable.

Exceptions are rendered by `exception_fields` alone, as three plain fields
(`exc_type`, `error`, `traceback`) and never with local variables: structlog's
default console renderer uses `rich` (or `better_exceptions`) when installed,
and both print every frame's locals, which hold credentials, tokens and the
whole environment. Whatever is installed, no renderer here sees `exc_info`.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any

import structlog


def exception_fields(logger: Any, method: str,
                     event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace `exc_info` by the exception's type, message and plain traceback (no locals)."""
    exc_info = event_dict.pop("exc_info", None)
    if not exc_info:
        return event_dict
    if isinstance(exc_info, BaseException):
        err: BaseException | None = exc_info
    elif isinstance(exc_info, tuple):
        err = exc_info[1]
    else:
        err = sys.exc_info()[1]
    if err is None:
        return event_dict
    event_dict.setdefault("exc_type", type(err).__name__)
    event_dict.setdefault("error", str(err))
    event_dict["traceback"] = "".join(traceback.format_exception(err)).rstrip()
    return event_dict


def configure(*, json: bool = False, level: str = "INFO") -> None:
    renderer: Any = (structlog.processors.JSONRenderer() if json
                     else structlog.dev.ConsoleRenderer(
                         colors=False, exception_formatter=structlog.dev.plain_traceback))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            exception_fields,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        # Resolve sys.stderr at each use, so a replaced stderr (tests, daemons) is honoured.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    if json:
        _log_uncaught_as_json()
        _standard_logging_as_json()


class _ToStructlog(logging.Handler):
    """Libraries (APScheduler, asyncio, botocore) log through the standard library, whose
    fallback prints raw text lines: in the daemon every line must be JSON."""

    def emit(self, record: logging.LogRecord) -> None:
        structlog.get_logger(record.name).log(record.levelno, record.getMessage(),
                                              logger=record.name)


def _standard_logging_as_json() -> None:
    root = logging.getLogger()
    root.handlers = [_ToStructlog(logging.WARNING)]
    root.setLevel(logging.WARNING)


def _log_uncaught_as_json() -> None:
    """A crash in any thread becomes one JSON line, like every other line the daemon writes."""
    log = structlog.get_logger("controller")

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
            log.error("uncaught exception", thread=getattr(args.thread, "name", None),
                      exc_info=args.exc_value)

    def on_main(kind: type[BaseException], err: BaseException,
                tb: TracebackType | None) -> None:
        log.error("uncaught exception", thread="main", exc_info=err)

    threading.excepthook = on_thread
    sys.excepthook = on_main
