"""`process_stream`: source -> transforms -> destination, one chunk at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

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
from infrakit.streams._write import create_write_stream

if TYPE_CHECKING:
    from infrakit.storage import StorageProvider

__all__ = ["process_stream"]

_END: Any = object()
FILE_CHUNK_SIZE = 4 * 1024 * 1024
"""The default chunk for a local file source (the pipeline's cost is per chunk)."""


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

    Pull-based: the next chunk is read only once the previous one is written, so
    memory stays bounded by the chunk size (and what the transforms hold) whatever
    the size of the stream, and a slow destination slows the source down.

    On failure or cancellation every transform and the source are closed (their
    `finally` blocks run, last stage first) and the destination is aborted: a path
    keeps its old content, a storage key is not left half-written.

    Args:
        source: what `create_read_stream` accepts.
        destination: what `create_write_stream` accepts.
        transforms: `Transform`s (`throttle(...)`, `gzip_compress()`...).
        chunk_size: the read size for paths, URLs, files and keys; by default 4 MiB
            for a local file going through transforms (each chunk costs two thread
            hops: fewer, larger ones copy faster) and `DEFAULT_CHUNK_SIZE` (1 MiB) for
            everything else, the fast path's buffer included.
        storage: a `StorageProvider`; `source` and `destination` strings are then its keys.

    Returns:
        The bytes read and written, the seconds taken and the bytes per second written.
    """
    started = time.perf_counter()
    from_file = storage is None and _is_path(source)
    if from_file and not transforms and _is_path(destination):
        step = DEFAULT_CHUNK_SIZE if chunk_size is None else chunk_size
        check_chunk_size(step)
        copied = await copy_path(_local(source), _local(destination), step)
        return _stats(copied, copied, started)
    if chunk_size is None:
        chunk_size = FILE_CHUNK_SIZE if from_file else DEFAULT_CHUNK_SIZE
    counts = [0, 0]
    reader = create_read_stream(source, chunk_size=chunk_size, storage=storage)
    writer = create_write_stream(destination, storage=storage)
    stages: list[AsyncIterator[bytes]] = [_counted(reader, counts)]
    for transform in transforms:
        stages.append(transform(stages[-1]))
    async with contextlib.AsyncExitStack() as stack:
        for stage in stages:
            stack.push_async_callback(_close, stage)
        try:
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


def _is_path(end: Any) -> bool:
    """A local path (not an fsspec URL): both ends so means the one-thread copy."""
    return isinstance(end, str | os.PathLike) and not is_url(os.fspath(end))


def _local(end: Any) -> str:
    return local_path(os.fspath(end))


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
