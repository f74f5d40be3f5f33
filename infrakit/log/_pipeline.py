"""Global pipeline state: transports, level thresholds, redaction, and their invalidation."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from infrakit.log._entry import INFO, LogEntry, safe_str
from infrakit.log._redact import Redactor

if TYPE_CHECKING:
    from infrakit.log._protocol import LogTransport

DEFAULT_CLOSE_TIMEOUT = 5.0
"""Seconds `shutdown_logging` (and so the exit) waits for the sinks before giving up."""


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
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
    ) -> None:
        self.transports: tuple[LogTransport, ...] = tuple(transports)
        self.level = level
        self.levels: dict[str, int] = dict(levels or {})
        self.redactor = redactor or Redactor()
        self.close_timeout = close_timeout
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

    def close(self, keep: Iterable[LogTransport] = (), timeout: float | None = None) -> int:
        """Flush and close every transport the next pipeline does not reuse, all at once
        and for at most `timeout` seconds (default: `close_timeout`); a transport
        still busy then is given up and said on stderr.

        Returns:
            How many queued records could not be written.
        """
        timeout = self.close_timeout if timeout is None else timeout
        kept = frozenset(id(transport) for transport in keep)
        retirements = [
            _Retirement(transport, kept, timeout)
            for transport in self.transports
            if id(transport) not in kept
        ]
        for retirement in retirements:
            retirement.begin()
        deadline = time.monotonic() + timeout
        for retirement in retirements:
            retirement.wait(max(0.0, deadline - time.monotonic()))
        given_up = [(retirement.transport, retirement.unwritten()) for retirement in retirements]
        stuck = [
            transport
            for (transport, count), retirement in zip(given_up, retirements, strict=True)
            if count or retirement.is_alive()
        ]
        unwritten = sum(count for _, count in given_up)
        if stuck:
            report_unwritten(unwritten, stuck, timeout)
        return unwritten


class _Retirement(threading.Thread):
    """Flushes and closes one transport in its own thread, so the caller can stop waiting."""

    def __init__(self, transport: LogTransport, kept: frozenset[int], timeout: float) -> None:
        super().__init__(name=f"infrakit-log-close-{type(transport).__name__}", daemon=True)
        self.transport = transport
        self._kept = kept
        self._timeout = timeout
        self._given_up: int | None = None
        self._in_thread = False

    def begin(self) -> None:
        """Start the thread; at interpreter exit (Python 3.12+ starts no thread from an
        `atexit` handler) do the work here instead: a queue's own wait is still bounded."""
        try:
            self.start()
            self._in_thread = True
        except RuntimeError:
            self.run()

    def wait(self, timeout: float) -> None:
        if self._in_thread:
            self.join(timeout)

    def run(self) -> None:
        retire: Callable[..., int] | None = getattr(self.transport, "_retire", None)
        if retire is not None:  # a QueuedTransport: it bounds its own wait
            wrapped = id(getattr(self.transport, "transport", None))
            close = wrapped not in self._kept  # a sink passed again stays open
            self._given_up = retire(close_transport=close, timeout=self._timeout)
            return
        call_optional(self.transport, "flush")
        call_optional(self.transport, "close")
        self._given_up = 0

    def unwritten(self) -> int:
        if self._given_up is not None:
            return self._given_up
        pending = getattr(self.transport, "pending", 0)  # still running: what is queued
        return pending if isinstance(pending, int) else 0


def report_unwritten(unwritten: int, stuck: Iterable[object], timeout: float) -> None:
    """Say on stderr what a bounded close gave up on."""
    names = ", ".join(map(_describe, stuck)) or "a transport"
    _say(
        f"infrakit.log: {unwritten} record(s) not written: {names} did not finish "
        f"within {timeout:.3g} s of closing\n"
    )


def _describe(transport: object) -> str:
    """`JsonTransport`, or `QueuedTransport(FileTransport)` for a queue in front of a sink."""
    if isinstance(transport, str):
        return transport
    wrapped = getattr(transport, "transport", None)
    name = type(transport).__name__
    return name if wrapped is None else f"{name}({type(wrapped).__name__})"


def report_transport_failure(transport: object, error: BaseException) -> None:
    """Say on stderr that a transport failed, as stdlib's `Handler.handleError` does."""
    _say(
        f"infrakit.log: transport {type(transport).__name__} failed: "
        f"{type(error).__name__}: {safe_str(error)}\n"
    )


def _say(text: str) -> None:
    stream = sys.stderr or sys.__stderr__
    if stream is None:  # no stderr at all (pythonw, daemons): nowhere to say it
        return
    with contextlib.suppress(Exception):  # stderr may be closed at interpreter shutdown
        stream.write(text)


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
        self.retiring: list[threading.Thread] = []

    def install(self, pipeline: Pipeline) -> Pipeline:
        """Swap in a new pipeline, refresh every cached threshold, return the old one."""
        with self.lock:
            previous, self.pipeline = self.pipeline, pipeline
            for logger in list(self.loggers):
                logger._refresh(pipeline)
            for listener in self.listeners:
                listener(pipeline)
        return previous

    def retire(self, pipeline: Pipeline, keep: Iterable[LogTransport]) -> None:
        """Close a replaced pipeline in the background: reconfiguring never waits on a sink."""
        kept = list(keep)
        thread = threading.Thread(
            target=pipeline.close, args=(kept,), name="infrakit-log-retire", daemon=True
        )
        try:
            thread.start()
        except RuntimeError:  # interpreter shutdown: no new thread, close it here
            pipeline.close(kept)
            return
        with self.lock:
            self.retiring = [old for old in self.retiring if old.is_alive()]
            self.retiring.append(thread)

    def wait_retired(self, deadline: float) -> bool:
        """Wait (until `deadline`, monotonic) for background closes; False if some remain."""
        with self.lock:
            retiring, self.retiring = self.retiring, []
        for thread in retiring:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in retiring)


def default_pipeline() -> Pipeline:
    """Before `configure_logging`: pretty lines on stderr at INFO (resolved at write time)."""
    from infrakit.log._stream import ConsoleTransport

    return Pipeline([ConsoleTransport()], level=INFO)


STATE = _State()
