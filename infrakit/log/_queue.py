"""Non-blocking delivery: a bounded queue in front of a slow transport, drained by a thread."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from typing import TYPE_CHECKING, Literal

from infrakit.errors import ConfigurationError
from infrakit.log._entry import LogEntry
from infrakit.log._pipeline import (
    DEFAULT_CLOSE_TIMEOUT,
    call_optional,
    report_transport_failure,
    report_unwritten,
)

if TYPE_CHECKING:
    from infrakit.log._protocol import LogTransport

Overflow = Literal["drop", "block"]


class _Stop:
    """The last item of the queue: the thread finishes the sink, then returns."""

    def __init__(self, close_transport: bool) -> None:
        self.close_transport = close_transport


class QueuedTransport:
    """Hands records to a background thread so a slow sink never stalls the caller.

    The caller pays one `queue.put` (the record is immutable, so nothing is copied or
    pickled, unlike loguru's `enqueue=True`). The queue is bounded: when it is full,
    `overflow="drop"` discards the new record and counts it in `dropped` (the caller never
    waits), `overflow="block"` makes the caller wait for room (nothing is lost while the
    sink makes progress). `flush()` waits until every queued record is written; `close()`
    writes what is queued, stops the thread and closes the wrapped transport, waiting at
    most `timeout` seconds: a sink that never returns cannot keep the process alive.

    Args:
        transport: the slow transport to protect.
        max_size: how many records may wait; memory is bounded by this.
        overflow: `"drop"` or `"block"` (see above).

    Raises:
        ConfigurationError: `max_size` is not positive or `overflow` is unknown.
    """

    def __init__(
        self, transport: LogTransport, *, max_size: int = 10_000, overflow: Overflow = "drop"
    ) -> None:
        if max_size <= 0:
            raise ConfigurationError("QueuedTransport max_size must be positive")
        if overflow not in ("drop", "block"):
            raise ConfigurationError("QueuedTransport overflow must be 'drop' or 'block'")
        self.transport = transport
        self.max_size = max_size
        self.overflow: Overflow = overflow
        self._queue: queue.Queue[object] = queue.Queue(max_size)
        self._dropped = 0
        self._count_lock = threading.Lock()
        self._writing = False
        self._closed = threading.Event()  # a method call: read afresh at every check
        self._abandoned = False  # close timed out: the sink is stuck, nothing more reaches it
        self._thread = threading.Thread(
            target=self._drain, name=f"infrakit-log-{type(transport).__name__}", daemon=True
        )
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Records discarded: the queue was full (`overflow="drop"`), or they came after a
        `close()` that gave up on a sink that did not return."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Records waiting to be written (the one being written included)."""
        with self._queue.mutex:
            waiting = sum(isinstance(item, LogEntry) for item in self._queue.queue)
        return waiting + (1 if self._writing else 0)

    def log(self, entry: LogEntry) -> None:
        if self._closed.is_set():  # after shutdown, write through rather than lose the record
            self._write_through(entry)
            return
        if self.overflow == "block":
            self._queue.put(entry)
        else:
            try:
                self._queue.put_nowait(entry)
            except queue.Full:
                self._count_dropped(1)
        if self._closed.is_set():  # `close` ran meanwhile; its last sweep may have missed this
            self._write_leftovers()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every record queued so far is written, then flush the sink.

        Args:
            timeout: the longest wait in seconds; `None` waits as long as it takes.

        Returns:
            False when the wait ran out (or a close gave up on the sink), else True.
        """
        if self._abandoned:
            return False
        if not self._closed.is_set() and not self._wait_empty(timeout):
            return False
        call_optional(self.transport, "flush")
        return True

    def close(self, timeout: float = DEFAULT_CLOSE_TIMEOUT) -> int:
        """Write everything still queued, stop the thread, close the wrapped transport.

        When the sink has not finished by then, the records still queued are given up,
        said on stderr, and counted in the result.

        Args:
            timeout: the longest wait in seconds.

        Returns:
            How many records could not be written (0 when everything was).
        """
        unwritten = self._retire(close_transport=True, timeout=timeout)
        if unwritten:
            report_unwritten(unwritten, [self], timeout)
        return unwritten

    def _retire(self, *, close_transport: bool, timeout: float) -> int:
        """Stop the thread within `timeout`; the wrapped transport is closed only when
        `close_transport` (a new pipeline may reuse it). Returns the records given up."""
        if self._closed.is_set():
            return 0
        deadline = time.monotonic() + timeout
        self._closed.set()  # from now on `log` writes through
        try:
            self._queue.put(_Stop(close_transport), timeout=max(timeout, 0.0))
        except queue.Full:
            return self._abandon()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            return self._abandon()
        self._write_leftovers()  # raced past the `_closed` check just before the stop
        return 0

    def _abandon(self) -> int:
        """Give up on a stuck sink: count what is queued and free the blocked producers."""
        self._abandoned = True
        unwritten = 1 if self._writing else 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            unwritten += isinstance(item, LogEntry)
            self._queue.task_done()
        with contextlib.suppress(queue.Full):  # should the sink ever return, the thread ends
            self._queue.put_nowait(_Stop(close_transport=False))
        return unwritten

    def _wait_empty(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if isinstance(item, _Stop):
                    call_optional(self.transport, "flush")
                    if item.close_transport:
                        call_optional(self.transport, "close")
                    return
                self._writing = True
                self._write(item)
            finally:
                self._writing = False
                self._queue.task_done()

    def _write_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, LogEntry):
                self._write_through(item)
            self._queue.task_done()

    def _write_through(self, entry: LogEntry) -> None:
        if self._abandoned:  # the sink is stuck in another thread: do not join it
            self._count_dropped(1)
        else:
            self._write(entry)

    def _count_dropped(self, count: int) -> None:
        with self._count_lock:
            self._dropped += count

    def _write(self, item: object) -> None:
        if isinstance(item, LogEntry):
            try:
                self.transport.log(item)
            except Exception as error:
                report_transport_failure(self.transport, error)
