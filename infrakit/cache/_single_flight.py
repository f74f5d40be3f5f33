"""In-process single-flight: concurrent misses on one key share one computation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["SingleFlight"]


class SingleFlight:
    """Runs at most one computation per key at a time; later callers join it.

    The computation runs in its own task, so a caller that is cancelled neither
    cancels the others nor leaves them waiting: the task still finishes and fills
    the cache. An exception reaches every caller of that flight and nothing is kept.
    """

    __slots__ = ("_flights", "suppressed")

    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Task[Any]] = {}
        self.suppressed = 0

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    async def run(self, key: str, compute: Callable[[], Awaitable[Any]]) -> Any:
        """Return the result of `compute()`, sharing a computation already under way."""
        task = self._flights.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._flights[key] = task
            task.add_done_callback(lambda done: self._finish(key, done))
        else:
            self.suppressed += 1
        return await asyncio.shield(task)

    def _finish(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._flights.get(key) is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here so an unawaited failure is not reported twice
