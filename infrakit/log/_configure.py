"""`configure_logging` and `shutdown_logging`: building, swapping and closing the pipeline."""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Literal

from infrakit.errors import ConfigurationError
from infrakit.log._entry import level_number
from infrakit.log._file import FileTransport
from infrakit.log._pipeline import STATE, Pipeline, call_optional, default_pipeline
from infrakit.log._protocol import LogTransport
from infrakit.log._queue import Overflow, QueuedTransport
from infrakit.log._redact import DEFAULT_SENSITIVE_KEYS, Redactor
from infrakit.log._render import render_json, render_pretty
from infrakit.log._stdlib import intercept_stdlib, restore_stdlib
from infrakit.log._stream import CallableTransport, ConsoleTransport, JsonTransport

Format = Literal["pretty", "json"]
Sink = LogTransport | IO[str] | str | os.PathLike[str] | Callable[[str], object]

_atexit_registered = False


def configure_logging(
    level: str | int = "INFO",
    *,
    format: Format = "pretty",
    levels: Mapping[str, str | int] | None = None,
    sinks: Sequence[Sink] | None = None,
    non_blocking: bool = False,
    queue_size: int = 10_000,
    overflow: Overflow = "drop",
    redact_keys: Iterable[str] = (),
    stdlib: bool = False,
) -> None:
    """Replace the logging pipeline for the whole process; safe to call again.

    Every existing logger picks up its new level at once (thresholds are recomputed
    here, never on the logging path). The previous transports are flushed and closed.

    Args:
        level: the minimum level for names `levels` does not cover.
        format: `"pretty"` (development) or `"json"` (one flat JSON object per line),
            used for the default stderr sink and for stream and path sinks.
        levels: minimum level per dotted name prefix; the most specific prefix wins
            (`{"app": "WARNING", "app.db": "DEBUG"}`).
        sinks: where records go: `LogTransport` objects as they are, text streams
            (`sys.stdout`) in `format`, paths as a rotating `FileTransport` in `format`,
            functions called with each line in `format` (as loguru function sinks).
            Default: stderr.
        non_blocking: wrap every sink in a `QueuedTransport` (bounded queue, one thread).
        queue_size: bound of each queue in non-blocking mode.
        overflow: `"drop"` (count and discard when full) or `"block"` (wait for room).
        redact_keys: extra key fragments to mask, added to the defaults.
        stdlib: also call `intercept_stdlib()`.

    Raises:
        ConfigurationError: an unknown level, format, overflow policy or sink type.
    """
    if format not in ("pretty", "json"):
        raise ConfigurationError(f"Unknown log format {format!r}; expected 'pretty' or 'json'")
    if overflow not in ("drop", "block") or queue_size <= 0:
        raise ConfigurationError("overflow must be 'drop' or 'block' and queue_size positive")
    threshold = level_number(level)
    thresholds = {name: level_number(value) for name, value in (levels or {}).items()}
    transports = _transports(sinks if sinks is not None else [None], format)
    if non_blocking:
        transports = [
            sink
            if isinstance(sink, QueuedTransport)
            else QueuedTransport(sink, max_size=queue_size, overflow=overflow)
            for sink in transports
        ]
    pipeline = Pipeline(
        transports,
        level=threshold,
        levels=thresholds,
        redactor=Redactor((*DEFAULT_SENSITIVE_KEYS, *redact_keys)),
    )
    reused = _reused(pipeline.transports)
    previous = STATE.install(pipeline)
    for transport in previous.transports:
        if isinstance(transport, QueuedTransport) and transport.transport in reused:
            transport._detach()  # its sink is passed again: the new pipeline writes to it
    previous.close(keep=reused)
    _register_atexit()
    if stdlib:
        intercept_stdlib()


def shutdown_logging() -> None:
    """Flush and close every transport (queued records included), undo `intercept_stdlib`,
    and return to the default pipeline (pretty lines on stderr at INFO).

    Registered with `atexit` by `configure_logging`; call it yourself at the end of a
    worker or a test. Logging after it still works, through the default pipeline.
    """
    restore_stdlib()
    STATE.install(default_pipeline()).close()


def _reused(transports: Iterable[LogTransport]) -> list[LogTransport]:
    """The new transports, plus the ones they wrap: a sink passed again must stay open."""
    reused = list(transports)
    reused += [sink.transport for sink in reused if isinstance(sink, QueuedTransport)]
    return reused


def _transports(sinks: Sequence[Sink | None], format: Format) -> list[LogTransport]:
    """Build every sink, or none: a file opened for an earlier sink is closed on failure."""
    built: list[LogTransport] = []
    try:
        for sink in sinks:
            built.append(_transport(sink, format))
    except BaseException:
        for transport in built:
            if transport not in sinks:  # ours, not the caller's
                call_optional(transport, "close")
        raise
    return built


def _transport(sink: Sink | None, format: Format) -> LogTransport:
    stream_transport = JsonTransport if format == "json" else ConsoleTransport
    if sink is None:
        return stream_transport()
    if isinstance(sink, str | os.PathLike):
        return FileTransport(sink, format=format)
    if isinstance(sink, LogTransport):
        return sink
    if callable(getattr(sink, "write", None)):
        return stream_transport(sink)  # type: ignore[arg-type]
    if callable(sink):
        return CallableTransport(sink, render_json if format == "json" else render_pretty)
    raise ConfigurationError(
        f"Unsupported log sink {type(sink).__name__}: "
        "pass a LogTransport, a stream, a path or a function"
    )


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_shutdown_at_exit)


def _shutdown_at_exit(*_: Any) -> None:
    shutdown_logging()
