"""Global pipeline state: transports, level thresholds, redaction, and their invalidation."""

from __future__ import annotations

import contextlib
import sys
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from infrakit.log._entry import INFO, LogEntry
from infrakit.log._redact import DEFAULT_SENSITIVE_KEYS, Redactor

if TYPE_CHECKING:
    from infrakit.log._protocol import LogTransport


class Pipeline:
    """What every logger writes through; replaced wholesale by `configure_logging`.

    Loggers cache their integer threshold; installing a pipeline recomputes it on every
    live logger whenever the configuration changes, so a filtered-out call costs one
    integer comparison and no lookup here.
    """

    def __init__(
        self,
        transports: Iterable[LogTransport],
        *,
        level: int = INFO,
        levels: Mapping[str, int] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.transports: tuple[LogTransport, ...] = tuple(transports)
        self.level = level
        self.levels: dict[str, int] = dict(levels or {})
        self.redactor = redactor or Redactor(DEFAULT_SENSITIVE_KEYS)
        self._threshold_cache: dict[str, int] = {}

    def threshold(self, name: str) -> int:
        """The minimum level for `name`: the most specific dotted prefix in `levels` wins."""
        cached = self._threshold_cache.get(name)
        if cached is not None:
            return cached
        result = self.level
        candidate = name
        while candidate:
            if candidate in self.levels:
                result = self.levels[candidate]
                break
            candidate = candidate.rpartition(".")[0]
        self._threshold_cache[name] = result
        return result

    @property
    def lowest_level(self) -> int:
        return min([self.level, *self.levels.values()])

    def dispatch(self, entry: LogEntry) -> None:
        for transport in self.transports:
            try:
                transport.log(entry)
            except Exception as error:  # a broken sink must never break the application
                report_transport_failure(transport, error)

    def flush(self) -> None:
        for transport in self.transports:
            call_optional(transport, "flush")

    def close(self, keep: Iterable[LogTransport] = ()) -> None:
        """Flush every transport and close those the next pipeline does not reuse."""
        kept = {id(transport) for transport in keep}
        for transport in self.transports:
            call_optional(transport, "flush")
            if id(transport) not in kept:
                call_optional(transport, "close")


def report_transport_failure(transport: object, error: BaseException) -> None:
    """Say on stderr that a transport failed, as stdlib's `Handler.handleError` does."""
    stream = sys.stderr or sys.__stderr__
    if stream is None:  # no stderr at all (pythonw, daemons): nowhere to say it
        return
    with contextlib.suppress(Exception):  # stderr may be closed at interpreter shutdown
        stream.write(
            f"infrakit.log: transport {type(transport).__name__} failed: "
            f"{type(error).__name__}: {error}\n"
        )


def call_optional(transport: object, method: str) -> None:
    function: Callable[[], Any] | None = getattr(transport, method, None)
    if function is None:
        return
    try:
        function()
    except Exception as error:
        report_transport_failure(transport, error)


class _State:
    """The current pipeline plus the registry of live loggers to refresh."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pipeline: Pipeline = default_pipeline()
        self.loggers: weakref.WeakSet[Any] = weakref.WeakSet()
        self.listeners: list[Callable[[Pipeline], None]] = []

    def install(self, pipeline: Pipeline) -> Pipeline:
        """Swap in a new pipeline, refresh every cached threshold, return the old one."""
        with self.lock:
            previous, self.pipeline = self.pipeline, pipeline
            for logger in list(self.loggers):
                logger._refresh(pipeline)
            for listener in self.listeners:
                listener(pipeline)
        return previous


def default_pipeline() -> Pipeline:
    """Before `configure_logging`: pretty lines on stderr at INFO (resolved at write time)."""
    from infrakit.log._stream import ConsoleTransport

    return Pipeline([ConsoleTransport()], level=INFO)


STATE = _State()
