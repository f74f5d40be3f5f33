"""Query statistics: cheap to record on every query, computed only when asked for."""

from __future__ import annotations

import statistics
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["ConnectionStats", "LockedStatsRecorder", "StatsRecorder"]

_SAMPLE_SIZE = 10_000
_FOLD_AT = 4096


@dataclass(frozen=True, slots=True)
class ConnectionStats:
    """A snapshot of query and pool activity since the start (or the last reset).

    Durations are in milliseconds; percentiles cover the most recent 10,000 queries.
    `connections_lost` counts pooled connections found dead (killed, network cut).
    `pool_waiting` counts tasks waiting for a connection right now (psycopg_pool's own
    `requests_waiting`, in `pool`, also counts waiters that already timed out or were
    cancelled until the next connection is returned).
    """

    queries: int
    errors: int
    errors_by_sqlstate: Mapping[str, int]
    slow_queries: int
    total_duration_ms: float
    average_duration_ms: float
    p50_duration_ms: float
    p95_duration_ms: float
    p99_duration_ms: float
    max_duration_ms: float
    pool_size: int
    pool_idle: int
    pool_waiting: int
    pool_wait_ms: int
    connections_lost: int
    pool: Mapping[str, int] = field(default_factory=dict)


class StatsRecorder:
    """Counters and a bounded sample of durations; no locks (one event loop)."""

    def __init__(self) -> None:
        self.waiting = 0  # a gauge, not a counter: `reset()` leaves it alone
        self.reset()

    def reset(self) -> None:
        self.queries = 0
        self.slow_queries = 0
        self.total_seconds = 0.0
        self.max_seconds = 0.0
        self.connections_lost = 0
        self.errors_by_sqlstate: Counter[str] = Counter()
        self.durations: deque[float] = deque(maxlen=_SAMPLE_SIZE)

    def record(self, seconds: float) -> None:
        self.queries += 1
        self.total_seconds += seconds
        self.durations.append(seconds)
        if seconds > self.max_seconds:
            self.max_seconds = seconds

    def record_error(self, sqlstate: str | None) -> None:
        self.errors_by_sqlstate[sqlstate or "none"] += 1

    def record_slow(self) -> None:
        self.slow_queries += 1

    def record_lost(self) -> None:
        self.connections_lost += 1

    def wait_started(self) -> None:
        self.waiting += 1

    def wait_ended(self) -> None:
        self.waiting -= 1

    def snapshot(self, pool: Mapping[str, int]) -> ConnectionStats:
        """Freeze the counters, adding the psycopg_pool figures given in `pool`."""
        p50, p95, p99 = _percentiles(sorted(self.durations))
        average = self.total_seconds / self.queries if self.queries else 0.0
        return ConnectionStats(
            queries=self.queries,
            errors=sum(self.errors_by_sqlstate.values()),
            errors_by_sqlstate=MappingProxyType(dict(self.errors_by_sqlstate)),
            slow_queries=self.slow_queries,
            total_duration_ms=self.total_seconds * 1000,
            average_duration_ms=average * 1000,
            p50_duration_ms=p50 * 1000,
            p95_duration_ms=p95 * 1000,
            p99_duration_ms=p99 * 1000,
            max_duration_ms=self.max_seconds * 1000,
            pool_size=pool.get("pool_size", 0),
            pool_idle=pool.get("pool_available", 0),
            pool_waiting=self.waiting,
            pool_wait_ms=pool.get("requests_wait_ms", 0),
            connections_lost=self.connections_lost
            + pool.get("connections_lost", 0)
            + pool.get("returns_bad", 0),
            pool=MappingProxyType(dict(pool)),
        )


def _percentiles(ordered: list[float]) -> tuple[float, float, float]:
    if not ordered:
        return 0.0, 0.0, 0.0
    if len(ordered) == 1:
        return ordered[0], ordered[0], ordered[0]
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


class LockedStatsRecorder(StatsRecorder):
    """The recorder for the blocking form, whose threads update it at once.

    `x += 1` is a read and a write: two threads can lose an update, and a lost one on the
    `waiting` gauge would never come back. The per-query path takes no lock, though: a
    lock held by a thread the interpreter preempts stalls every other thread (measured:
    a fifth of the throughput from 4 threads). A duration is appended to a deque (one
    atomic operation under the GIL) and folded into the totals under the lock when the
    statistics are read or when `_FOLD_AT` are pending. The rare updates (errors, slow
    queries, lost connections) take the lock; the wait gauge's steps are folded the
    same way.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: deque[float] = deque()
        self._waits: deque[int] = deque()
        super().__init__()

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            super().reset()

    def record(self, seconds: float) -> None:
        self._pending.append(seconds)
        self._fold_when_full(self._pending)

    def record_error(self, sqlstate: str | None) -> None:
        with self._lock:
            super().record_error(sqlstate)

    def record_slow(self) -> None:
        with self._lock:
            super().record_slow()

    def record_lost(self) -> None:
        with self._lock:
            super().record_lost()

    def wait_started(self) -> None:
        self._waits.append(1)

    def wait_ended(self) -> None:
        self._waits.append(-1)
        self._fold_when_full(self._waits)

    def snapshot(self, pool: Mapping[str, int]) -> ConnectionStats:
        with self._lock:
            self._fold()
            return super().snapshot(pool)

    def _fold_when_full(self, steps: deque[Any]) -> None:
        """Bound the memory of what is pending; a thread already folding is not waited for."""
        if len(steps) >= _FOLD_AT and self._lock.acquire(blocking=False):
            try:
                self._fold()
            finally:
                self._lock.release()

    def _fold(self) -> None:
        pending, waits, record = self._pending, self._waits, super().record
        while waits:
            self.waiting += waits.popleft()  # only folds pop, and they hold the lock
        while pending:
            record(pending.popleft())
