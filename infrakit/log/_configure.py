"""`configure_logging` and `shutdown_logging`: building, swapping and closing the pipeline."""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any, Literal

from infrakit.errors import ConfigurationError
from infrakit.log._entry import level_number
from infrakit.log._file import FileTransport
from infrakit.log._loguru import follow_levels, intercept_loguru, restore_loguru
from infrakit.log._pipeline import (
    DEFAULT_CLOSE_TIMEOUT,
    STATE,
    Pipeline,
    call_optional,
    default_pipeline,
    report_unwritten,
)
from infrakit.log._protocol import LogTransport
from infrakit.log._queue import Overflow, QueuedTransport
from infrakit.log._redact import Redactor
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
    loguru: bool = False,
    close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
) -> None:
    """Replace the logging pipeline for the whole process; safe to call again.

    Every existing logger picks up its new level at once (thresholds are recomputed
    here, never on the logging path). The previous transports are flushed and closed
    in the background, so a slow sink never makes this call wait.

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
        redact_keys: extra key fragments to mask (substrings), added to the shared list
            of sensitive names.
        stdlib: also call `intercept_stdlib()`.
        loguru: also call `intercept_loguru()`.
        close_timeout: how long `shutdown_logging()` (and so the exit) waits for the
            sinks before it gives up on the records they have not written.

    Raises:
        ConfigurationError: an unknown level, format, overflow policy or sink type, or a
            negative `close_timeout`.
    """
    if format not in ("pretty", "json"):
        raise ConfigurationError(f"Unknown log format {format!r}; expected 'pretty' or 'json'")
    if overflow not in ("drop", "block") or queue_size <= 0:
        raise ConfigurationError("overflow must be 'drop' or 'block' and queue_size positive")
    if not _is_seconds(close_timeout):
        raise ConfigurationError("close_timeout must be a finite number of seconds, 0 or more")
    threshold = level_number(level)
    thresholds = {name: level_number(value) for name, value in (levels or {}).items()}
    transports = _transports(sinks if sinks is not None else [None], format)
    if non_blocking:
        transports = _queued(transports, queue_size, overflow)
    pipeline = Pipeline(
        transports,
        level=threshold,
        levels=thresholds,
        redactor=Redactor(redact_keys),
        close_timeout=close_timeout,
    )
    previous = STATE.install(pipeline)
    follow_levels(pipeline)
    STATE.retire(previous, keep=_reused(pipeline.transports))
    _register_atexit()
    if stdlib:
        intercept_stdlib()
    if loguru:
        intercept_loguru()


def shutdown_logging(timeout: float | None = None) -> int:
    """Flush and close every transport (queued records included), undo `intercept_stdlib`
    and `intercept_loguru`, and return to the default pipeline (pretty lines on stderr at
    INFO).

    Bounded: after `timeout` seconds (default: the `close_timeout` given to
    `configure_logging`) a sink that has not returned is given up, and what it did not
    write is said on stderr and returned. Registered with `atexit` by
    `configure_logging`; call it yourself at the end of a worker or a test. Logging after
    it still works, through the default pipeline.

    Args:
        timeout: seconds to wait for the sinks; `None` uses the configured
            `close_timeout`.

    Returns:
        How many queued records could not be written.
    """
    restore_stdlib()
    restore_loguru()
    previous = STATE.install(default_pipeline())
    timeout = previous.close_timeout if timeout is None else timeout
    deadline = time.monotonic() + timeout
    # Earlier configurations first: a queue still retiring may write to a sink kept by the
    # last configuration, which must stay open until then.
    if not STATE.wait_retired(deadline):
        report_unwritten(0, ["an earlier configuration's transport"], timeout)
    return previous.close(timeout=max(0.0, deadline - time.monotonic()))


def _is_seconds(value: object) -> bool:
    """A finite, non-negative number that is not a bool (NaN and infinity refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return 0 <= value < float("inf")


def _queued(
    transports: list[LogTransport], queue_size: int, overflow: Overflow
) -> list[LogTransport]:
    """Wrap each sink in a queue; a sink already queued the same way by the current
    pipeline keeps its queue, so reconfiguring neither waits for it nor reorders it."""
    current = {
        id(transport.transport): transport
        for transport in STATE.pipeline.transports
        if isinstance(transport, QueuedTransport)
        and (transport.max_size, transport.overflow) == (queue_size, overflow)
    }
    return [
        sink
        if isinstance(sink, QueuedTransport)
        else current.get(id(sink)) or QueuedTransport(sink, max_size=queue_size, overflow=overflow)
        for sink in transports
    ]


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
