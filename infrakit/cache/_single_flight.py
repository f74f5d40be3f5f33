"""In-process single-flight: concurrent misses on one key share one computation."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any

from infrakit.cache._protocol import CacheError

__all__ = ["BlockingSingleFlight", "SingleFlight"]


class SingleFlight:
    """Runs at most one computation per key at a time; later callers join it.

    The computation runs in its own task, so a caller that is cancelled neither
    cancels the others nor leaves them waiting: the task still finishes and fills
    the cache. An exception reaches every caller of that flight and nothing is kept.
    With a `compute_timeout`, a computation still running then is cancelled: every caller
    gets `CacheError(code="CACHE_TIMEOUT")` and the next call starts afresh, so one
    hung computation never traps later callers of its key.
    """

    __slots__ = ("_flights", "suppressed", "timeouts")

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self.suppressed = 0
        self.timeouts = 0

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    async def run(
        self,
        key: str,
        compute: Callable[[], Awaitable[Any]],
        compute_timeout: float | None = None,
    ) -> Any:
        """Return the result of `compute()`, sharing a computation already under way."""
        task = self._flights.get(key)
        if task is None:
            work = (
                compute()
                if compute_timeout is None
                else self._bounded(key, compute, compute_timeout)
            )
            task = asyncio.ensure_future(work)
            self._flights[key] = task
            task.add_done_callback(lambda done: self._finish(key, done))
        else:
            self.suppressed += 1
        return await asyncio.shield(task)

    def forget(self, key: str) -> None:
        """Let the next caller of `key` start afresh (its flight went stale); it runs on."""
        self._flights.pop(key, None)

    def forget_all(self) -> None:
        self._flights.clear()

    async def _bounded(
        self, key: str, compute: Callable[[], Awaitable[Any]], seconds: float
    ) -> Any:
        try:
            async with asyncio.timeout(seconds) as scope:
                return await compute()
        except TimeoutError as error:
            if not scope.expired():
                raise  # the computation's own TimeoutError, not ours
            self.timeouts += 1
            raise _timed_out(key, seconds) from error

    def _finish(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported twice


class BlockingSingleFlight:
    """`SingleFlight` for threads: concurrent misses on one key share one computation.

    The first caller computes on its own thread; the others wait for its result (an
    exception reaches them all, nothing is kept). With a `compute_timeout` the
    computation runs on a thread of its own, every caller waits at most that long and
    then gets `CacheError(code="CACHE_TIMEOUT")`, and the next call starts afresh. A
    thread cannot be cancelled, so a hung computation is left to finish on its own.
    """

    __slots__ = ("_flights", "_lock", "suppressed", "timeouts")

    def __init__(self) -> None:
        self._flights: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self.suppressed = 0
        self.timeouts = 0

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    def run(
        self, key: str, compute: Callable[[], Any], compute_timeout: float | None = None
    ) -> Any:
        """Return the result of `compute()`, sharing a computation already under way."""
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
            else:
                self.suppressed += 1
        if leader and compute_timeout is None:
            self._settle(key, flight, compute)
        elif leader:
            worker = threading.Thread(target=self._settle, args=(key, flight, compute))
            worker.daemon = True
            worker.start()
        return self._wait(key, flight, compute_timeout)

    def forget(self, key: str) -> None:
        """Let the next caller of `key` start afresh (its flight went stale); it runs on."""
        with self._lock:
            self._flights.pop(key, None)

    def forget_all(self) -> None:
        with self._lock:
            self._flights.clear()

    def _settle(self, key: str, flight: Future[Any], compute: Callable[[], Any]) -> None:
        try:
            flight.set_result(compute())
        except BaseException as error:  # an interrupt reaches the waiters too
            flight.set_exception(error)
        finally:
            self._forget(key, flight)

    def _wait(self, key: str, flight: Future[Any], seconds: float | None) -> Any:
        try:
            return flight.result(seconds)
        except TimeoutError as error:
            if flight.done():
                raise  # the computation's own TimeoutError, not ours
            if self._forget(key, flight):
                self.timeouts += 1
            raise _timed_out(key, seconds) from error

    def _forget(self, key: str, flight: Future[Any]) -> bool:
        with self._lock:
            if self._flights.get(key) is not flight:
                return False
            del self._flights[key]
            return True


def _timed_out(key: str, seconds: float | None) -> CacheError:
    return CacheError(
        f"the computation of a cached value took longer than {seconds} s",
        code="CACHE_TIMEOUT",
        details={"key": key, "timeout": seconds},
    )
