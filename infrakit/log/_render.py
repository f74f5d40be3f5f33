"""Turning a `LogEntry` into one line: flat JSON for machines, a pretty line for people.

Both formats end with `mask_line` (registered secrets and URL passwords masked by value)
and never raise: a value that cannot be printed becomes a placeholder, and JSON output is
strict (non-finite floats become the strings `"NaN"`, `"Infinity"`, `"-Infinity"`).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import time
from collections.abc import Mapping
from datetime import date, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from infrakit._internal.secrets import mask_dsn
from infrakit.log._entry import LogEntry, exception_fields, safe_str, unprintable
from infrakit.log._mask import mask_line
from infrakit.log._redact import CYCLE, TOO_DEEP, Redactor

_FALLBACK_REDACTOR = Redactor()
_MAX_CLEAN_DEPTH = 32


def _fallback(value: Any) -> Any:
    """Encode what `json` cannot: dates as ISO 8601, models and dataclasses as (redacted)
    objects, sets as lists, anything else as `str()` with DSN passwords masked; a value
    whose conversion raises becomes a placeholder, so this path never raises."""
    try:
        return _converted(value)
    except Exception:
        return unprintable(value)


def _converted(value: Any) -> Any:
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
            pass  # rendered as text below
    text = str(value)
    return mask_dsn(text) if "://" in text else text


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), default=_fallback, allow_nan=False
)
# What `_ENCODER.encode` builds on every call, built once (a third of a record's encoding
# time). No cycle check: a cycle ends in RecursionError, which the slow path handles.
_C_ENCODER = (
    c_make_encoder(None, _fallback, encode_basestring, None, ":", ",", False, False, False)
    if c_make_encoder is not None
    else None
)


def _encode(record: dict[str, Any]) -> str:
    if _C_ENCODER is None:  # an interpreter without the C accelerator
        return _ENCODER.encode(record)
    return "".join(_C_ENCODER(record, 0))


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
    and, when present, `exception` as `{type, message, traceback}`; secrets masked."""
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
        line = _encode(record)
    except Exception:  # NaN, an int too long to print, a cycle, an odd key: slow path
        line = _ENCODER.encode(clean(record))
    return mask_line(line)


def clean(value: Any, path: tuple[int, ...] = ()) -> Any:
    """A copy of `value` that strict JSON can always encode: each value that cannot be
    printed is replaced on its own, and the rest of the record is kept."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return _clean_int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, dict | list | tuple):
        if id(value) in path:
            return CYCLE
        if len(path) >= _MAX_CLEAN_DEPTH:
            return TOO_DEEP
        path = (*path, id(value))
        if isinstance(value, dict):
            return {_clean_key(key): clean(item, path) for key, item in value.items()}
        return [clean(item, path) for item in value]
    converted = _fallback(value)
    return converted if isinstance(converted, str) else clean(converted, path)


def _clean_int(value: int) -> int | str:
    try:
        int.__repr__(value)  # raises past sys.get_int_max_str_digits()
    except ValueError:
        return f"<int of {value.bit_length()} bits>"
    return value


def _non_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _clean_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    cleaned = clean(key) if isinstance(key, int | float) else safe_str(key)
    return cleaned if isinstance(cleaned, str) else repr(cleaned)


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


_local_second_cache: tuple[int, str] = (-1, "")


def _local_stamp(timestamp: float) -> str:
    """Local time to the millisecond; the seconds prefix is cached (one strftime a second)."""
    global _local_second_cache
    second = math.floor(timestamp)
    cached_second, prefix = _local_second_cache
    if second != cached_second:
        prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        _local_second_cache = (second, prefix)
    return f"{prefix}.{int(timestamp % 1 * 1000):03d}"


def render_pretty(entry: LogEntry, *, colour: bool = False) -> str:
    """A line for people: local time, level, logger, message, then `key=value` fields (a
    key once, metadata over context), the traceback below it (never with local
    variables); secrets masked."""
    stamp = _local_stamp(entry.time)
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
    return mask_line(line)


def _pretty_fields(context: Mapping[str, Any], metadata: Mapping[str, Any], colour: bool) -> str:
    merged = {**context, **metadata} if context and metadata else context or metadata
    if colour:
        return " ".join(
            f"{_DIM}{key}={_RESET}{_pretty_value(value)}" for key, value in merged.items()
        )
    parts = []
    for key, value in merged.items():  # the usual values inline: this runs for every field
        kind = type(value)
        if kind is str and value and " " not in value:
            parts.append(f"{key}={value}")
        elif kind is float:  # an int may be too long to print: `_pretty_value` guards it
            parts.append(f"{key}={value!r}")
        else:
            parts.append(f"{key}={_pretty_value(value)}")
    return " ".join(parts)


def _pretty_value(value: Any) -> str:
    if isinstance(value, str):
        if value and " " not in value:
            return value
        value = mask_line(value)  # before `repr` escapes quotes and backslashes
    try:
        return repr(value)
    except Exception:  # a broken `__repr__`, an int too long to print
        return unprintable(value)
