"""A reader thread and a writer thread around the event loop, for `process_stream`.

Handing each chunk to a pooled worker thread and back (`asyncio.to_thread` per read
and per write) costs two round trips per chunk, and each end idles while the other
waits for the loop. Here a dedicated thread reads ahead and another writes behind,
each tied to the loop by a bounded hand-off of `depth` chunks: the loop only runs the
transforms, and memory stays bounded by the chunks in the two hand-offs.

The threads are their own, not the loop's executor: each may wait for the loop (a
full hand-off), and a shared pool filled with waiting threads could starve the work
they wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from typing import Any, Protocol

__all__ = ["HANDOFF_DEPTH", "BlockingTarget", "ThreadedReader", "ThreadedWriter"]

HANDOFF_DEPTH = 1
"""Chunks each hand-off holds, besides the one its thread is reading or writing."""

_END: Any = object()


class BlockingTarget(Protocol):
    """Where a `ThreadedWriter`'s thread writes: every call runs in that thread."""

    def write(self, chunk: bytes) -> None: ...

    def commit(self) -> None: ...

    def discard(self) -> None: ...


class _Handoff:
    """A bounded FIFO between one thread and the event loop.

    Each side waits only when it must (the thread on a condition, the loop on a
    future), and is woken only when it is waiting: a reader that keeps ahead of the
    loop, or a writer that keeps up with it, costs no wake-up of the loop per chunk.
    """

    def __init__(self, depth: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._depth = depth
        self._items: deque[Any] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def put_blocking(self, item: Any, *, force: bool = False) -> bool:
        """In the thread: add `item` once there is room; False once `close()` was called."""
        with self._changed:
            while len(self._items) >= self._depth and not self._closed and not force:
                self._changed.wait()
            if self._closed:
                return False
            self._items.append(item)
            self._wake_loop()
        return True

    def get_blocking(self) -> Any:
        """In the thread: the next item, once there is one."""
        with self._changed:
            while not self._items:
                self._changed.wait()
            item = self._items.popleft()
            self._wake_loop()
        return item

    async def put(self, item: Any) -> None:
        """On the loop: add `item` once there is room."""
        while True:
            with self._changed:
                if len(self._items) < self._depth:
                    self._items.append(item)
                    self._changed.notify()
                    return
                waiter = self._waiter = self._loop.create_future()
            await waiter

    def put_nowait(self, item: Any) -> None:
        """On the loop: add `item` even past the depth (an end marker)."""
        with self._changed:
            self._items.append(item)
            self._changed.notify()

    async def get(self) -> Any:
        """On the loop: the next item, once there is one."""
        while True:
            with self._changed:
                if self._items:
                    item = self._items.popleft()
                    self._changed.notify()
                    return item
                waiter = self._waiter = self._loop.create_future()
            await waiter

    def close(self) -> None:
        """On the loop: the thread's `put_blocking` stops waiting and returns False."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _wake_loop(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(_wake, waiter)


class _Worker:
    """A dedicated daemon thread running `_run`; `_join()` waits for it on the loop."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finished: asyncio.Future[None] | None = None

    def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._finished = self._loop.create_future()
        threading.Thread(target=self._body, name="infrakit-stream", daemon=True).start()

    def _run(self) -> None:
        raise NotImplementedError

    def _body(self) -> None:
        try:
            self._run()
        finally:
            assert self._loop is not None
            assert self._finished is not None
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(_wake, self._finished)

    async def _join(self) -> None:
        """Wait for the thread to end, even if the waiting task is cancelled meanwhile."""
        assert self._finished is not None
        try:
            await asyncio.shield(self._finished)
        except asyncio.CancelledError:
            await asyncio.wait([self._finished])
            raise


class ThreadedReader(_Worker):
    """The chunks of a local file, read ahead by a dedicated thread.

    The file is opened (by the thread) on first iteration, so a missing file raises
    there. `aclose()` stops the thread and waits for it (it finishes the read under
    way), which leaves the file closed.
    """

    def __init__(self, path: str, chunk_size: int, depth: int = HANDOFF_DEPTH) -> None:
        super().__init__()
        self._path = path
        self._chunk_size = chunk_size
        self._depth = depth
        self._chunks: _Handoff | None = None
        self._ended = False

    def __aiter__(self) -> ThreadedReader:
        return self

    async def __anext__(self) -> bytes:
        if self._ended:
            raise StopAsyncIteration
        if self._chunks is None:
            self._chunks = _Handoff(self._depth)
            self._start()
        item = await self._chunks.get()
        if isinstance(item, bytes):
            return item
        self._ended = True
        if item is _END:
            raise StopAsyncIteration
        raise item

    async def aclose(self) -> None:
        self._ended = True
        if self._chunks is not None:
            self._chunks.close()
            await self._join()

    def _run(self) -> None:
        assert self._chunks is not None
        try:
            with open(self._path, "rb", buffering=0) as file:
                while chunk := file.read(self._chunk_size):
                    if not self._chunks.put_blocking(chunk):
                        return  # closed
            self._chunks.put_blocking(_END, force=True)
        except BaseException as error:
            self._chunks.put_blocking(error, force=True)


class ThreadedWriter(_Worker):
    """A `WriteStream` whose chunks a dedicated thread writes to `target`, in order.

    `write()` returns once the chunk is handed over, and waits only while the thread
    is `depth` chunks behind (backpressure). A failed write is raised by the next
    `write()` or by `close()`; `close()` commits once everything is written; `abort()`
    stops the thread after the write under way and discards the target.
    """

    def __init__(self, target: BlockingTarget, depth: int = HANDOFF_DEPTH) -> None:
        super().__init__()
        self._target = target
        self._depth = depth
        self._chunks: _Handoff | None = None
        self._failure: BaseException | None = None

    async def write(self, chunk: bytes) -> None:
        self._raise_failure()
        await self._started().put(chunk)

    async def close(self) -> None:
        self._started().put_nowait(_END)
        await self._join()
        self._raise_failure()

    async def abort(self) -> None:
        if self._chunks is None:
            return  # nothing was opened
        self._stop.set()
        self._chunks.put_nowait(_END)
        await self._join()

    def _started(self) -> _Handoff:
        if self._chunks is None:
            self._chunks = _Handoff(self._depth)
            self._start()
        return self._chunks

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _run(self) -> None:
        """Write each chunk; after a failure or a stop, drain without writing."""
        assert self._chunks is not None
        while (chunk := self._chunks.get_blocking()) is not _END:
            if self._failure is None and not self._stop.is_set():
                try:
                    self._target.write(chunk)
                except BaseException as error:
                    self._failure = error
        try:
            if self._failure is None and not self._stop.is_set():
                self._target.commit()
                return
            self._target.discard()
        except BaseException as error:
            if self._failure is None:
                self._failure = error
            with contextlib.suppress(OSError):
                self._target.discard()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
