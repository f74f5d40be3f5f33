"""Turning a `LogEntry` into one line: flat JSON for machines, a pretty line for people."""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from infrakit.log._entry import LogEntry, exception_fields
from infrakit.log._redact import Redactor

_FALLBACK_REDACTOR = Redactor()


def _fallback(value: Any) -> Any:
    """Encode what `json` cannot: dates as ISO 8601, models and dataclasses as (redacted)
    objects, sets as lists, anything else as `str()`; this path never raises."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _FALLBACK_REDACTOR.redact(dataclasses.asdict(value))
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return _FALLBACK_REDACTOR.redact(dump(mode="json"))
        except Exception:
            return str(value)
    return str(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_fallback)
_SAFE_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_fallback, skipkeys=True
)
_second_cache: tuple[int, str] = (-1, "")


def format_time(timestamp: float) -> str:
    """RFC 3339 UTC with microseconds; the seconds prefix is cached (one strftime a second)."""
    global _second_cache
    second, micro = divmod(int(timestamp * 1_000_000), 1_000_000)
    cached_second, prefix = _second_cache
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second_cache = (second, prefix)
    return f"{prefix}.{micro:06d}Z"


def render_json(entry: LogEntry) -> str:
    """One line of flat JSON: `time`, `level`, `logger`, `message`, then context, metadata
    and, when present, `exception` as `{type, message, traceback}`."""
    record: dict[str, Any] = {
        "time": format_time(entry.time),
        "level": entry.level,
        "logger": entry.logger,
        "message": entry.message,
    }
    if entry.context:
        record.update(entry.context)
    if entry.metadata:
        record.update(entry.metadata)
    if entry.exception is not None:
        record["exception"] = exception_fields(entry.exception)
    try:
        return _ENCODER.encode(record)
    except (TypeError, ValueError, RecursionError):
        return _SAFE_ENCODER.encode({key: _safe_value(value) for key, value in record.items()})


def _safe_value(value: Any) -> Any:
    """A field that failed to encode (cycle, odd keys) becomes its `repr`; the rest survive."""
    try:
        _SAFE_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)
    return value


_COLOURS = {
    "DEBUG": "\x1b[34m",
    "INFO": "\x1b[32m",
    "WARNING": "\x1b[33m",
    "ERROR": "\x1b[31m",
    "CRITICAL": "\x1b[1;37;41m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"
_CYAN = "\x1b[36m"


def render_pretty(entry: LogEntry, *, colour: bool = False) -> str:
    """A line for people: local time, level, logger, message, then `key=value` fields, and
    the traceback below it (never with local variables)."""
    local = time.localtime(entry.time)
    stamp = f"{time.strftime('%Y-%m-%d %H:%M:%S', local)}.{int(entry.time % 1 * 1000):03d}"
    fields = _pretty_fields(entry.context, entry.metadata, colour)
    if colour:
        level = f"{_COLOURS.get(entry.level, '')}{entry.level:<8}{_RESET}"
        line = f"{_DIM}{stamp}{_RESET} {level} {_CYAN}{entry.logger}{_RESET} {entry.message}"
    else:
        line = f"{stamp} {entry.level:<8} {entry.logger} {entry.message}"
    if fields:
        line = f"{line}  {fields}"
    if entry.exception is not None:
        trace = exception_fields(entry.exception)["traceback"].rstrip("\n")
        line = f"{line}\n{trace}"
    return line


def _pretty_fields(context: Mapping[str, Any], metadata: Mapping[str, Any], colour: bool) -> str:
    parts = []
    for key, value in (*context.items(), *metadata.items()):
        text = value if isinstance(value, str) and value and " " not in value else repr(value)
        parts.append(f"{_DIM}{key}={_RESET}{text}" if colour else f"{key}={text}")
    return " ".join(parts)
