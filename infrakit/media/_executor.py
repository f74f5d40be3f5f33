"""A bounded pool for the CPU work, so the event loop never decodes a pixel.

At most `max_workers` operations run at once and `max_queue` more wait for a
worker; a caller beyond that waits for room (backpressure) up to `queue_timeout`
seconds, then gets `MediaBusyError`. A slot is given back when the work really
ends, not when a caller stops waiting, so a timed-out operation still counts until
its worker thread has stopped at its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from infrakit.media._errors import MediaBusyError, MediaTimeoutError
from infrakit.media._options import invalid

__all__ = ["MediaExecutor"]

T = TypeVar("T")


class MediaExecutor:
    """Worker threads behind an admission gate; usable from any event loop.

    Pillow and PyAV release the GIL while they decode, resize and encode, so threads
    give real parallelism without the cost of pickling images between processes.

    Args:
        max_workers: operations running at once (default: the CPU count, at most 4).
        max_queue: operations admitted and waiting for a worker (default: 4 per worker).
        queue_timeout: seconds a caller waits for room before `MediaBusyError`;
            None waits as long as it takes.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        max_queue: int | None = None,
        queue_timeout: float | None = 30.0,
    ) -> None:
        workers = max_workers if max_workers is not None else min(4, os.cpu_count() or 1)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise invalid("max_workers", "must be a whole number of at least 1")
        queue = max_queue if max_queue is not None else 4 * workers
        if isinstance(queue, bool) or not isinstance(queue, int) or queue < 0:
            raise invalid("max_queue", "must be a whole number of at least 0")
        if queue_timeout is not None and not queue_timeout >= 0:
            raise invalid("queue_timeout", "must be a number of seconds, at least 0")
        self.max_workers = workers
        self.max_queue = queue
        self.queue_timeout = queue_timeout
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="infrakit-media")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._waiters: deque[_Waiter] = deque()
        self.closed = False

    @property
    def queue_depth(self) -> int:
        """Operations admitted and not yet running."""
        with self._lock:
            return self._admitted - self._running

    async def run(self, limit: float, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on a worker; `MediaTimeoutError` after `limit` seconds.

        Raises:
            MediaBusyError: no room in the queue within `queue_timeout`.
            MediaTimeoutError: the result did not come within `timeout`.
        """
        await self._admit()
        try:
            future = self._pool.submit(self._work, function, *args)
        except RuntimeError:
            self._release()
            raise MediaBusyError("the media processor is closed") from None
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), limit)
        except TimeoutError:
            raise MediaTimeoutError(
                f"the operation ran past its {limit:g} s limit", details={"timeout": limit}
            ) from None

    def _work(self, function: Callable[..., T], *args: Any) -> T:
        with self._lock:
            self._running += 1
        try:
            return function(*args)
        finally:
            with self._lock:
                self._running -= 1
            self._release()

    async def _admit(self) -> None:
        if self.closed:
            raise MediaBusyError("the media processor is closed")
        with self._lock:
            if self._admitted < self.max_workers + self.max_queue and not self._waiters:
                self._admitted += 1
                return
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter.future), self.queue_timeout)
        except TimeoutError:
            self._abandon(waiter)
            raise MediaBusyError(
                "the media queue stayed full", details={"queue_timeout": self.queue_timeout}
            ) from None
        except BaseException:
            self._abandon(waiter)
            raise

    def _abandon(self, waiter: _Waiter) -> None:
        """A waiter gave up: leave the line, or pass on the slot it was handed meanwhile."""
        with self._lock:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                return
            handed, waiter.handed = waiter.handed, False
        if handed:
            self._release()

    def _release(self) -> None:
        """Hand the slot to the oldest waiter still waiting, or give it back."""
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                if waiter.loop.is_closed():
                    continue
                waiter.handed = True
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                return
            self._admitted -= 1

    async def close(self, grace: float = 10.0) -> int:
        """Refuse new work, drop queued work, wait up to `grace` seconds for running work.

        Returns:
            The number of operations still running when the wait ended.
        """
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)
        loop = asyncio.get_running_loop()
        waiting = loop.run_in_executor(None, self._pool.shutdown, True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiting), grace)
        with self._lock:
            return self._running


class _Waiter:
    """A caller waiting for room; `handed` is set once a finishing operation gave it its slot."""

    __slots__ = ("future", "handed", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.handed = False


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
