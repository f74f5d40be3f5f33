"""The logger objects: an integer threshold check first, then one record for every transport."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from time import time as _now
from typing import Any

from infrakit.log._entry import EMPTY, level_name, level_number, new_entry, safe_str
from infrakit.log._pipeline import STATE, Pipeline

RESERVED_KEYS = frozenset({"time", "level", "logger", "message", "exception"})

_CONTEXT: ContextVar[Mapping[str, Any]] = ContextVar("infrakit_log_context", default=EMPTY)


class StructuredLogger:
    """A named logger; create it with `get_logger`, derive others with `child`/`with_context`.

    The minimum level is cached as an integer on the instance and refreshed by
    `configure_logging`, so a filtered-out call is a comparison and a return.
    """

    __slots__ = ("__weakref__", "_context", "_name", "_threshold")

    def __init__(self, name: str, context: Mapping[str, Any] = EMPTY) -> None:
        self._name = name
        self._context = context
        with STATE.lock:
            self._threshold = STATE.pipeline.threshold(name)
            STATE.loggers.add(self)

    def _refresh(self, pipeline: Pipeline) -> None:
        self._threshold = pipeline.threshold(self._name)

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<Logger {self._name!r} level={level_name(self._threshold)}>"

    def is_enabled_for(self, level: int) -> bool:
        """Whether a record at `level` would be written: guard expensive metadata with it."""
        return level >= self._threshold

    # The literals below are DEBUG=10 ... CRITICAL=50: a constant beats a global lookup.
    def debug(self, message: str, /, **metadata: Any) -> None:
        if self._threshold <= 10:
            self._log(10, "DEBUG", message, metadata, None)

    def info(self, message: str, /, **metadata: Any) -> None:
        if self._threshold <= 20:
            self._log(20, "INFO", message, metadata, None)

    def warning(self, message: str, /, **metadata: Any) -> None:
        if self._threshold <= 30:
            self._log(30, "WARNING", message, metadata, None)

    def error(self, message: str, /, **metadata: Any) -> None:
        if self._threshold <= 40:
            self._log(40, "ERROR", message, metadata, None)

    def critical(self, message: str, /, **metadata: Any) -> None:
        if self._threshold <= 50:
            self._log(50, "CRITICAL", message, metadata, None)

    def exception(self, message: str, /, **metadata: Any) -> None:
        if self._threshold <= 40:
            self._log(40, "ERROR", message, metadata, sys.exc_info()[1])

    def debug_obj(self, obj: Mapping[str, Any] | object, message: str | None = None) -> None:
        if self._threshold <= 10:
            self._log(10, "DEBUG", message or "", fields_of(obj), None)

    def info_obj(self, obj: Mapping[str, Any] | object, message: str | None = None) -> None:
        if self._threshold <= 20:
            self._log(20, "INFO", message or "", fields_of(obj), None)

    def warn_obj(self, obj: Mapping[str, Any] | object, message: str | None = None) -> None:
        if self._threshold <= 30:
            self._log(30, "WARNING", message or "", fields_of(obj), None)

    def error_obj(self, obj: Mapping[str, Any] | object, message: str | None = None) -> None:
        if self._threshold <= 40:
            self._log(40, "ERROR", message or "", fields_of(obj), None)

    def child(self, name: str) -> StructuredLogger:
        """A logger named `<self.name>.<name>`, keeping any context bound to this one."""
        child_name = f"{self._name}.{name}"
        if not self._context:
            return get_logger(child_name)
        return StructuredLogger(child_name, self._context)

    def with_context(self, **context: Any) -> StructuredLogger:
        """A logger adding `context` (redacted once, here) to every record it writes."""
        fields = prepare_context(context)
        return StructuredLogger(self._name, {**self._context, **fields})

    def log(self, level: str | int, message: str, /, **metadata: Any) -> None:
        """Log at a level chosen at run time (`"WARNING"` or `30`)."""
        number = level_number(level)
        if number >= self._threshold:
            self._log(number, level_name(number), message, metadata, None)

    def _log(
        self,
        number: int,
        level: str,
        message: str,
        metadata: Mapping[str, Any],
        exception: BaseException | None,
        created: float | None = None,
    ) -> None:
        pipeline = STATE.pipeline
        if metadata:
            if not RESERVED_KEYS.isdisjoint(metadata):
                metadata, exception = split_reserved(metadata, exception)
            metadata = pipeline.redactor.redact(metadata)
        context = self._context
        ambient = _CONTEXT.get()
        if ambient:
            context = {**ambient, **context} if context else ambient
        pipeline.dispatch(
            new_entry(
                _now() if created is None else created,
                level,
                number,
                self._name,
                message if type(message) is str else safe_str(message),
                context,
                metadata,
                exception,
            )
        )


_LOGGERS: dict[str, StructuredLogger] = {}


def get_logger(name: str) -> StructuredLogger:
    """The logger for a dotted name (`"infrakit.db"`); the same object for the same name.

    Safe to call at import time: the logger follows later `configure_logging` calls.
    """
    logger = _LOGGERS.get(name)
    if logger is None:
        logger = _LOGGERS.setdefault(name, StructuredLogger(name))
    return logger


class log_context:  # noqa: N801 - a function to its callers; a class for speed
    """Add fields to every record written inside the block, in this task or thread only.

    Built on `contextvars`: concurrent asyncio tasks each see their own fields, and a task
    started inside the block inherits them. Nested blocks merge, the inner value winning.
    A slotted class rather than a `@contextmanager` generator: a request middleware enters
    one per request, and the generator machinery cost more than the work.
    """

    __slots__ = ("_fields", "_token")

    def __init__(self, **context: Any) -> None:
        self._fields = prepare_context(context)
        self._token: Token[Mapping[str, Any]] | None = None

    def __enter__(self) -> None:
        if self._token is not None:
            raise RuntimeError("a log_context block cannot be entered twice at once")
        ambient = _CONTEXT.get()
        self._token = _CONTEXT.set({**ambient, **self._fields} if ambient else self._fields)

    def __exit__(self, *exc_info: object) -> None:
        token, self._token = self._token, None
        if token is not None:
            _CONTEXT.reset(token)


def current_context() -> Mapping[str, Any]:
    """The fields `log_context` blocks have added for the running task (read-only)."""
    return _CONTEXT.get()


def prepare_context(context: Mapping[str, Any]) -> dict[str, Any]:
    if not RESERVED_KEYS.isdisjoint(context):
        context, _ = split_reserved(context, None)
    return STATE.pipeline.redactor.redact(context)


def split_reserved(
    fields: Mapping[str, Any], exception: BaseException | None
) -> tuple[dict[str, Any], BaseException | None]:
    """Keep the record schema stable: `exception=error` attaches it, other clashes get `_`."""
    result: dict[str, Any] = {}
    for key, value in fields.items():
        if key == "exception" and isinstance(value, BaseException):
            exception = value
        elif key in RESERVED_KEYS:
            result[f"{key}_"] = value
        else:
            result[key] = value
    return result, exception


def fields_of(obj: object) -> Mapping[str, Any]:
    """The fields of a mapping, dataclass, pydantic model or plain object for `*_obj`.

    Shallow (the redactor walks the values), and never raises: an object that cannot be
    read this way is logged as one `value` field, which the renderer handles.
    """
    try:
        return _fields(obj)
    except Exception:  # a mapping, model or `__dict__` that breaks while it is read
        return {"value": obj}


def _fields(obj: object) -> Mapping[str, Any]:
    if isinstance(obj, Mapping):
        return {str(key): value for key, value in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        fields = dump()
        if isinstance(fields, dict):
            return fields
    if hasattr(obj, "__dict__"):
        return {key: value for key, value in vars(obj).items() if not key.startswith("_")}
    return {"value": obj}
