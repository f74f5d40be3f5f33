"""The processor's own counters, shared by the async and the blocking forms."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from infrakit.errors import AppError
from infrakit.media._errors import MediaBusyError, MediaTimeoutError

__all__ = ["MediaStats", "StatsRecorder"]


@dataclass(frozen=True, slots=True)
class MediaStats:
    """Counters since the processor was made; `get_stats()` returns a fresh one each call.

    Attributes:
        operations: finished operations by kind (`probe`, `image`, `thumbnail`,
            `video`, `audio`), failed ones included.
        failures: operations that ended in an error.
        failures_by_code: those failures by error code (`MEDIA_INVALID`, ...).
        timeouts: operations stopped at the time limit.
        rejected: calls refused because the queue stayed full (`MEDIA_BUSY`).
        active: operations running now.
        queue_depth: operations admitted and waiting for a worker.
        time_spent: seconds spent working, summed over operations.
    """

    operations: Mapping[str, int]
    failures: int
    failures_by_code: Mapping[str, int]
    timeouts: int
    rejected: int
    active: int
    queue_depth: int
    time_spent: float


class StatsRecorder:
    """Thread-safe counters: operations finish on worker threads and on callers' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._operations: Counter[str] = Counter()
        self._failures: Counter[str] = Counter()
        self._rejected = 0
        self._active = 0
        self._time_spent = 0.0

    def started(self) -> None:
        with self._lock:
            self._active += 1

    def finished(self, kind: str, seconds: float, error: BaseException | None) -> None:
        with self._lock:
            self._active -= 1
            self._operations[kind] += 1
            self._time_spent += seconds
            if error is not None:
                self._failures[error.code if isinstance(error, AppError) else "INTERNAL_ERROR"] += 1

    def rejected(self) -> None:
        with self._lock:
            self._rejected += 1
            self._failures[MediaBusyError.code] += 1

    def snapshot(self, queue_depth: int = 0) -> MediaStats:
        with self._lock:
            return MediaStats(
                operations=MappingProxyType(dict(self._operations)),
                failures=sum(self._failures.values()),
                failures_by_code=MappingProxyType(dict(self._failures)),
                timeouts=self._failures[MediaTimeoutError.code],
                rejected=self._rejected,
                active=self._active,
                queue_depth=queue_depth,
                time_spent=self._time_spent,
            )
