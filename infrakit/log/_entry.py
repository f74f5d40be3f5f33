"""The record every transport receives, and the level table shared by the whole pipeline."""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from infrakit.errors import ConfigurationError

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
CRITICAL = 50

LEVEL_NUMBERS: dict[str, int] = {
    "DEBUG": DEBUG,
    "INFO": INFO,
    "WARNING": WARNING,
    "WARN": WARNING,
    "ERROR": ERROR,
    "CRITICAL": CRITICAL,
    "FATAL": CRITICAL,
}

EMPTY: Mapping[str, Any] = MappingProxyType({})


def level_number(level: str | int) -> int:
    """Turn `"debug"`, `"DEBUG"` or `10` into the number the hot path compares against.

    Raises:
        ConfigurationError: the name is not a known level, so a typo fails at start-up
            instead of silently logging everything or nothing.
    """
    if isinstance(level, int):
        return level
    try:
        return LEVEL_NUMBERS[level.upper()]
    except KeyError:
        known = ", ".join(sorted(LEVEL_NUMBERS))
        raise ConfigurationError(f"Unknown log level {level!r}; expected one of {known}") from None


def level_name(number: int) -> str:
    """The canonical name of a level number; stdlib custom levels round down to a known name."""
    for name, value in (("CRITICAL", 50), ("ERROR", 40), ("WARNING", 30), ("INFO", 20)):
        if number >= value:
            return name
    return "DEBUG"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log record, already redacted, as every transport sees it.

    Attributes:
        time: seconds since the epoch (UTC), as `time.time()` returns it.
        level: canonical level name (`"INFO"`).
        level_number: numeric level (stdlib numbering: DEBUG 10 ... CRITICAL 50).
        logger: hierarchical logger name (`"app.db"`).
        message: the message, never formatted with the metadata.
        context: fields from `log_context()` and `with_context()`, redacted.
        metadata: keyword fields of this call, redacted.
        exception: the exception attached to the record, if any.
    """

    time: float
    level: str
    level_number: int
    logger: str
    message: str
    context: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    metadata: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    exception: BaseException | None = None

    @property
    def datetime(self) -> dt.datetime:
        """The record time as an aware UTC datetime."""
        return dt.datetime.fromtimestamp(self.time, tz=dt.UTC)


def unprintable(value: object) -> str:
    """The placeholder written instead of a value that cannot be inspected or printed."""
    try:
        name = type(value).__qualname__
    except Exception:  # a type whose name is itself broken
        name = "object"
    return f"<unprintable {name}>"


def safe_str(value: object) -> str:
    """`str(value)`, or a placeholder when its `__str__` raises (logging never fails)."""
    try:
        return str(value)
    except Exception:
        return unprintable(value)


def exception_fields(error: BaseException) -> dict[str, str]:
    """The `exception` object of a record: type, message and traceback text.

    The traceback comes from `traceback.format_exception`, which never renders local
    variables (unlike loguru's `diagnose=True`), so secrets held in locals cannot leak.
    An exception whose `__str__` raises still gets its type and traceback.
    """
    error_type = type(error)
    qualified = error_type.__qualname__
    if error_type.__module__ not in ("builtins", "__main__"):
        qualified = f"{error_type.__module__}.{qualified}"
    try:
        trace = "".join(traceback.format_exception(error))
    except Exception:  # a traceback object that cannot be walked
        trace = f"{qualified}: {safe_str(error)}\n"
    return {"type": qualified, "message": safe_str(error), "traceback": trace}


EntryFactory = Callable[
    [float, str, int, str, str, Mapping[str, Any], Mapping[str, Any], BaseException | None],
    "LogEntry",
]


def _entry_builder() -> EntryFactory:
    """`LogEntry(...)` for the hot path at half the cost: the frozen dataclass's `__init__`
    guards each field with `object.__setattr__` (about 0.7 us a record); here each slot is
    set through its descriptor. Same object, same fields, nothing validated either way."""
    setters = [getattr(LogEntry, name).__set__ for name in LogEntry.__dataclass_fields__]
    if len(setters) != 8:  # the signature below must follow the dataclass
        raise RuntimeError("new_entry is out of date with LogEntry's fields")
    set_time, set_level, set_number, set_logger, set_message, set_context, set_meta, set_error = (
        setters
    )
    create = object.__new__

    def new_entry(
        time: float,
        level: str,
        number: int,
        logger: str,
        message: str,
        context: Mapping[str, Any],
        metadata: Mapping[str, Any],
        exception: BaseException | None,
    ) -> LogEntry:
        entry: LogEntry = create(LogEntry)
        set_time(entry, time)
        set_level(entry, level)
        set_number(entry, number)
        set_logger(entry, logger)
        set_message(entry, message)
        set_context(entry, context)
        set_meta(entry, metadata)
        set_error(entry, exception)
        return entry

    return new_entry


new_entry: EntryFactory = _entry_builder()
