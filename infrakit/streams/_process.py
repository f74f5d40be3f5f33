"""`process_stream`: source -> transforms -> destination, one chunk at a time."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import IO, TYPE_CHECKING, Any, cast

from infrakit.streams._copy import copy_path
from infrakit.streams._protocol import (
    DEFAULT_CHUNK_SIZE,
    Destination,
    Source,
    StreamStats,
    Transform,
    WriteStream,
)
from infrakit.streams._read import check_chunk_size, create_read_stream, is_url, local_path
from infrakit.streams._threaded import ThreadedReader, ThreadedWriter
from infrakit.streams._write import FileTarget, PathTarget, create_write_stream

if TYPE_CHECKING:
    from infrakit.storage import StorageProvider

__all__ = ["process_stream"]

_END: Any = object()


async def process_stream(
    source: Source,
    destination: Destination,
    transforms: Sequence[Transform] = (),
    *,
    chunk_size: int | None = None,
    storage: StorageProvider | None = None,
) -> StreamStats:
    """Copy `source` to `destination` through `transforms`, in order.

    A local file copied to a local path with no transforms takes a fast path: the
    whole copy runs in one worker thread, through one reused buffer, with the same
    guarantees (bounded memory, atomic rename, cancellation between chunks).

    Otherwise the transforms run on the event loop (hashing and large gzip chunks in
    a worker thread, overlapping the reads and writes). A local file source is read ahead
    by a thread of its own, and a local path or a real file destination written behind
    by another, each a bounded hand-off of one chunk away from the loop: a slow
    destination slows the source down, and memory stays bounded by a few chunks (and
    what the transforms hold) whatever the size of the stream.

    On failure or cancellation every transform and the source are closed (their
    `finally` blocks run, last stage first) and the destination is aborted: a path
    keeps its old content, a storage key is not left half-written.

    Args:
        source: what `create_read_stream` accepts.
        destination: what `create_write_stream` accepts.
        transforms: `Transform`s (`throttle(...)`, `gzip_compress()`...).
        chunk_size: the read size for paths, URLs, files and keys;
            `DEFAULT_CHUNK_SIZE` (1 MiB) by default.
        storage: a `StorageProvider`; `source` and `destination` strings are then its keys.

    Returns:
        The bytes read and written, the seconds taken and the bytes per second written.
    """
    started = time.perf_counter()
    source_file = _local_file(source, storage)
    target_file = _local_file(destination, storage)
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
    check_chunk_size(chunk_size)
    if source_file is not None and target_file is not None and not transforms:
        copied = await copy_path(source_file, target_file, chunk_size)
        return _stats(copied, copied, started)
    counts = [0, 0]
    reader: AsyncIterator[bytes]
    if source_file is not None:
        reader = ThreadedReader(source_file, chunk_size)
    else:
        reader = create_read_stream(source, chunk_size=chunk_size, storage=storage)
    writer: WriteStream | None = _threaded_writer(target_file, destination)
    if writer is None:
        writer = create_write_stream(destination, storage=storage)
    stages: list[AsyncIterator[bytes]] = [_counted(reader, counts)]
    for transform in transforms:
        stages.append(transform(stages[-1]))
    async with contextlib.AsyncExitStack() as stack:
        for stage in stages:
            stack.push_async_callback(_close, stage)
        try:
            if isinstance(writer, ThreadedWriter):
                await _hand_over(stages[-1], writer, counts)
            else:
                await _pump(stages[-1], writer, counts)
        except BaseException:
            await asyncio.shield(writer.abort())
            raise
        await writer.close()
    return _stats(counts[0], counts[1], started)


def _stats(read: int, written: int, started: float) -> StreamStats:
    duration = time.perf_counter() - started
    throughput = written / duration if duration > 0 else 0.0
    return StreamStats(read, written, duration, throughput)


def _local_file(end: Any, storage: StorageProvider | None) -> str | None:
    """The local path `end` names (not an fsspec URL, nor a storage key), or None."""
    if storage is not None and isinstance(end, str):
        return None
    if isinstance(end, str | os.PathLike) and not is_url(text := os.fspath(end)):
        return local_path(text)
    return None


def _threaded_writer(target_file: str | None, destination: Destination) -> ThreadedWriter | None:
    """A writer thread for a local path or a real binary file (not `BytesIO`), else None."""
    if target_file is not None:
        return ThreadedWriter(PathTarget(target_file))
    if isinstance(destination, str | io.BytesIO | WriteStream):
        return None
    if hasattr(destination, "write"):
        return ThreadedWriter(FileTarget(cast(IO[bytes], destination)))
    return None


async def _hand_over(
    chunks: AsyncIterator[bytes], writer: ThreadedWriter, counts: list[int]
) -> None:
    """Hand each chunk to the writer thread, which waits only when it is behind."""
    async for chunk in chunks:
        await writer.write(chunk)
        counts[1] += len(chunk)


async def _pump(chunks: AsyncIterator[bytes], writer: WriteStream, counts: list[int]) -> None:
    """Write each chunk while the next one is being read: reads and writes overlap.

    At most two chunks are in the pipeline's hands at once (the one being written and
    the one being read), so memory stays bounded; a slow writer still stops reading.
    """
    pending = asyncio.ensure_future(anext(chunks, _END))
    try:
        while (chunk := await pending) is not _END:
            pending = asyncio.ensure_future(anext(chunks, _END))
            await writer.write(chunk)
            counts[1] += len(chunk)
    finally:
        if not pending.done():
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)


async def _counted(chunks: AsyncIterator[bytes], counts: list[int]) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            counts[0] += len(chunk)
            yield chunk
    finally:
        await _close(chunks)


async def _close(stage: Any) -> None:
    closing = getattr(stage, "aclose", None)
    if closing is not None:
        await closing()
