"""Routing records of loguru's global `logger` (`from loguru import logger`) into our pipeline.

loguru stays the application's API; infrakit takes over from the record on: level
thresholds per name, `log_context` fields, key redaction, value masking, rendering and
transports. loguru's own formatting (and its `diagnose=True` tracebacks, which print local
variables) is never used for these records.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from infrakit.log._entry import EMPTY, level_name
from infrakit.log._logger import get_logger
from infrakit.log._pipeline import STATE, Pipeline

if TYPE_CHECKING:
    import loguru


@dataclass
class _Interception:
    handler_id: int


_interception: _Interception | None = None
_busy = threading.local()
# Not `STATE.lock`: removing our handler waits for loguru's handler lock, which a thread
# inside our sink holds while it may wait for `STATE.lock` (a logger created on the way).
_lock = threading.Lock()


def intercept_loguru() -> None:
    """Send every record of loguru's global `logger` through infrakit's transports.

    loguru's handlers are removed (its default stderr one included, so no line is printed
    twice) and one handler is added that turns each loguru record into ours: the level
    number (`TRACE` 5 and `SUCCESS` 25 keep their numbers for filtering and are named
    `DEBUG` and `INFO`), the logger name is the module that logged (`record["name"]`, so
    `configure_logging(levels=...)` applies), the formatted message, `bind()`,
    `contextualize()` and keyword fields as metadata (redacted), the exception of
    `logger.exception` or `opt(exception=True)`, and loguru's timestamp. Idempotent;
    `shutdown_logging()` removes the handler and gives loguru back its default stderr
    handler (loguru cannot return handlers it removed: add yours after this call).
    """
    global _interception
    from loguru import logger

    with _lock:
        if _interception is not None:
            return
        logger.remove()
        _interception = _Interception(_add_handler(logger, STATE.pipeline))


def restore_loguru() -> None:
    """Undo `intercept_loguru`: remove its handler and re-add loguru's default one."""
    global _interception
    with _lock:
        if _interception is None:
            return
        from loguru import logger

        interception, _interception = _interception, None
        logger.remove(interception.handler_id)
        logger.add(sys.stderr)


def _add_handler(logger: loguru.Logger, pipeline: Pipeline) -> int:
    """Our handler, at the lowest configured level, so loguru skips what nobody writes."""
    return logger.add(
        _sink,
        level=pipeline.lowest_level,
        format=_no_text,  # the record is read, loguru's text is never built or used
        colorize=False,
        diagnose=False,
        backtrace=False,
        catch=True,
        enqueue=False,
    )


def _no_text(record: Any) -> str:
    return ""


def follow_levels(pipeline: Pipeline) -> None:
    """After a new configuration, loguru's threshold follows its lowest level. The new
    handler is added before the old one goes, so no record falls between them (one logged
    at that very moment may be written twice). Called outside `STATE.lock` (see `_lock`)."""
    from loguru import logger

    with _lock:
        if _interception is None or pipeline is not STATE.pipeline:
            return
        previous = _interception.handler_id
        _interception.handler_id = _add_handler(logger, pipeline)
        logger.remove(previous)


def _sink(message: loguru.Message) -> None:
    if getattr(_busy, "active", False):  # a transport logging through loguru: no loop
        return
    _busy.active = True
    try:
        _forward(message.record)
    finally:
        _busy.active = False


def _forward(record: loguru.Record) -> None:
    number = record["level"].no
    logger = get_logger(record["name"] or "loguru")
    if not logger.is_enabled_for(number):
        return
    error = record["exception"]
    logger._log(
        number,
        level_name(number),
        record["message"],
        record["extra"] or EMPTY,
        error.value if error is not None else None,
        record["time"].timestamp(),
    )
