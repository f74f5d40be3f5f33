"""Non-blocking delivery: a bounded queue in front of a slow transport, drained by a thread."""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING, Literal

from infrakit.errors import ConfigurationError
from infrakit.log._entry import LogEntry
from infrakit.log._pipeline import call_optional, report_transport_failure

if TYPE_CHECKING:
    from infrakit.log._protocol import LogTransport

Overflow = Literal["drop", "block"]
_STOP = object()


class QueuedTransport:
    """Hands records to a background thread so a slow sink never stalls the caller.

    The caller pays one `queue.put` (the record is immutable, so nothing is copied or
    pickled, unlike loguru's `enqueue=True`). The queue is bounded: when it is full,
    `overflow="drop"` discards the new record and counts it in `dropped` (the caller never
    waits), `overflow="block"` makes the caller wait for room (nothing is ever lost).
    `flush()` waits until every queued record is written; `close()` flushes, then stops
    the thread and closes the wrapped transport. `shutdown_logging()` (also run at exit)
    calls `close()`.

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
        self._closed = threading.Event()  # a method call: read afresh at every check
        self._thread = threading.Thread(
            target=self._drain, name=f"infrakit-log-{type(transport).__name__}", daemon=True
        )
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Records discarded because the queue was full (`overflow="drop"` only)."""
        return self._dropped

    @property
    def pending(self) -> int:
        """Records waiting to be written."""
        return self._queue.qsize()

    def log(self, entry: LogEntry) -> None:
        if self._closed.is_set():  # after shutdown, write through rather than lose the record
            self.transport.log(entry)
            return
        if self.overflow == "block":
            self._queue.put(entry)
        else:
            try:
                self._queue.put_nowait(entry)
            except queue.Full:
                with self._count_lock:
                    self._dropped += 1
        if self._closed.is_set():  # `close` ran meanwhile; its last sweep may have missed this
            self._write_leftovers()

    def flush(self) -> None:
        """Wait until every record queued so far has been written, then flush the sink."""
        if not self._closed.is_set():
            self._queue.join()
        call_optional(self.transport, "flush")

    def close(self) -> None:
        """Write everything still queued, stop the thread, close the wrapped transport."""
        if self._stop():
            call_optional(self.transport, "flush")
            call_optional(self.transport, "close")

    def _detach(self) -> None:
        """Like `close`, but the wrapped transport stays open: a new pipeline reuses it."""
        if self._stop():
            call_optional(self.transport, "flush")

    def _stop(self) -> bool:
        """Drain the queue and end the thread; False when that was already done."""
        if self._closed.is_set():
            return False
        self._closed.set()  # from now on `log` writes through
        self._queue.put(_STOP)
        self._thread.join()
        self._write_leftovers()  # raced past the `_closed` check just before the stop
        return True

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._write(item)
            finally:
                self._queue.task_done()

    def _write_leftovers(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            self._write(item)
            self._queue.task_done()

    def _write(self, item: object) -> None:
        if isinstance(item, LogEntry):
            try:
                self.transport.log(item)
            except Exception as error:
                report_transport_failure(self.transport, error)
