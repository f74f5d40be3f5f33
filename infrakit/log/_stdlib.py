"""Routing standard `logging` records (uvicorn, psycopg, websockets) into our pipeline."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from infrakit.log._entry import level_name, safe_str
from infrakit.log._logger import get_logger, prepare_context
from infrakit.log._pipeline import STATE, Pipeline

DEFAULT_INTERCEPTED: tuple[str, ...] = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
    "psycopg",
    "psycopg.pool",
    "websockets",
    "websockets.server",
    "websockets.client",
)

# Not fields: the record's own attributes, and uvicorn's ANSI-coloured copy of its message.
_NOT_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class InterceptHandler(logging.Handler):
    """A stdlib handler that turns each `LogRecord` into our record for the same name.

    Levels come from `configure_logging(levels=...)` for the stdlib logger's name too, so
    `levels={"psycopg": "WARNING"}` quiets psycopg. `extra={...}` fields become metadata
    (redacted like ours; uvicorn's `color_message` is dropped). A transport that itself
    logs through stdlib cannot loop forever.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self._busy = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "active", False):
            return
        self._busy.active = True
        try:
            logger = get_logger(record.name)
            if logger.is_enabled_for(record.levelno):
                extras = {
                    key: value for key, value in vars(record).items() if key not in _NOT_FIELDS
                }
                exception = record.exc_info[1] if record.exc_info else None
                logger._log(
                    record.levelno,
                    level_name(record.levelno),
                    _message(record),
                    prepare_context(extras) if extras else extras,
                    exception,
                    record.created,
                )
        except Exception:
            self.handleError(record)
        finally:
            self._busy.active = False


def _message(record: logging.LogRecord) -> str:
    """`record.getMessage()`; arguments that cannot be formatted (a `%d` given a string, an
    argument whose `__str__` raises) leave the template and a placeholder, not a lost line."""
    try:
        return record.getMessage()
    except Exception:
        return f"{safe_str(record.msg)} <arguments could not be formatted>"


@dataclass
class _Saved:
    handler: InterceptHandler
    root_handlers: list[logging.Handler]
    root_level: int
    loggers: dict[str, tuple[list[logging.Handler], bool, int, bool]] = field(default_factory=dict)


_saved: _Saved | None = None


def intercept_stdlib(loggers: Iterable[str] = DEFAULT_INTERCEPTED) -> None:
    """Send every standard `logging` record through infrakit's transports, once each.

    The root logger's handlers are replaced by one intercepting handler, and the named
    loggers (uvicorn, psycopg, websockets by default) lose their own handlers and levels
    and propagate to it, so no line is printed twice and `configure_logging(levels=...)`
    alone decides what is written. What the application switched off stays off: a
    disabled logger stays disabled, and one silenced by `propagate=False` without
    handlers (uvicorn's `access_log=False`) keeps not propagating. The root level
    follows the lowest level of `configure_logging`, so stdlib skips records nobody
    would write. Idempotent: calling it again only intercepts the extra names.
    `shutdown_logging()` restores everything.

    Args:
        loggers: stdlib loggers that install their own handlers (pass uvicorn
            `log_config=None` too, or uvicorn re-adds its handlers when it starts).
    """
    global _saved
    with STATE.lock:
        root = logging.getLogger()
        if _saved is None:
            _saved = _Saved(InterceptHandler(), list(root.handlers), root.level)
            for handler in _saved.root_handlers:
                root.removeHandler(handler)
            root.addHandler(_saved.handler)
            STATE.listeners.append(_follow_levels)
        for name in loggers:
            stdlib_logger = logging.getLogger(name)
            if name not in _saved.loggers:
                _saved.loggers[name] = (
                    list(stdlib_logger.handlers),
                    stdlib_logger.propagate,
                    stdlib_logger.level,
                    stdlib_logger.disabled,
                )
            _route_to_root(stdlib_logger)
        _follow_levels(STATE.pipeline)


def _route_to_root(stdlib_logger: logging.Logger) -> None:
    """Its handlers go (the root's one writes instead) and our `levels` decide, not its
    level; a logger silenced on purpose (no handlers, no propagation) stays silent."""
    silenced = not stdlib_logger.handlers and not stdlib_logger.propagate
    for handler in list(stdlib_logger.handlers):
        stdlib_logger.removeHandler(handler)
    if not silenced:
        stdlib_logger.propagate = True
    stdlib_logger.setLevel(logging.NOTSET)


def restore_stdlib() -> None:
    """Undo `intercept_stdlib`: the handlers, levels and propagation saved when it ran."""
    global _saved
    with STATE.lock:
        if _saved is None:
            return
        saved, _saved = _saved, None
        root = logging.getLogger()
        root.removeHandler(saved.handler)
        for handler in saved.root_handlers:
            root.addHandler(handler)
        root.setLevel(saved.root_level)
        for name, (handlers, propagate, level, disabled) in saved.loggers.items():
            stdlib_logger = logging.getLogger(name)
            for handler in handlers:
                stdlib_logger.addHandler(handler)
            stdlib_logger.propagate = propagate
            stdlib_logger.setLevel(level)
            stdlib_logger.disabled = disabled
        STATE.listeners.remove(_follow_levels)
        saved.handler.close()


def _follow_levels(pipeline: Pipeline) -> None:
    logging.getLogger().setLevel(pipeline.lowest_level)
